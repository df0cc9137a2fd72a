"""`sense export verify` parity, torch-free: every artifact vs ONNX fp32, streaming vs offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edge.audio_source import read_audio_file
from edge.errors import ConfigError, PackError
from edge.pack import load_pack
from edge.run import EXAMPLE_SOUND
from edge.stream import DEVICE_STREAM
from export.evaluate.pack_metrics import merge_metrics, write_metrics_into_pack
from export.evaluate.pack_parity import FP32_CROSS_RUNTIME_MAX_ABS_DIFF, verify_pack_parity
from export.pack_writer import write_pack

EXAMPLE_SECONDS = 3


@pytest.fixture(scope="module")
def samples():
    return read_audio_file(EXAMPLE_SOUND)[: EXAMPLE_SECONDS * DEVICE_STREAM.sample_rate_hz]


def _rewrite(pack_dir: Path, edit) -> None:
    """Change the manifest with ``edit`` and write the pack again (artifacts re-hashed by our pack writer)."""
    manifest = json.loads((pack_dir / "manifest.json").read_text())
    edit(manifest)
    write_pack(
        pack_dir,
        manifest["name"],
        manifest["version"],
        manifest["description"],
        manifest["models"],
        manifest["metrics"],
        manifest["provenance"],
        manifest["license"],
    )


def test_bundled_pack_passes_every_check(pack_dir: Path, samples) -> None:
    report = verify_pack_parity(load_pack(pack_dir), samples)
    names = {check.name for check in report.checks}
    for model in ("separator", "tagger"):
        for runtime in ("onnx", "litert"):
            for precision in ("fp32", "int8"):
                assert f"{model}.{runtime}.{precision}.streaming_vs_offline_max_abs_diff" in names
    assert "separator.litert.fp32.mask_max_abs_diff_vs_onnx_fp32" in names
    assert "separator.onnx.int8.mask_correlation_vs_onnx_fp32" in names
    assert "tagger.litert.int8.label_agreement_vs_onnx_fp32" in names
    assert report.failures == []


def test_an_fp32_artifact_that_differs_fails(pack_dir: Path, samples) -> None:
    """The int8 TFLite separator put in place of the fp32 one: parity must catch it."""
    shutil.copy(pack_dir / "separator.int8.tflite", pack_dir / "separator.tflite")
    _rewrite(pack_dir, lambda manifest: None)
    failures = verify_pack_parity(load_pack(pack_dir), samples).failures
    assert [f.name for f in failures] == ["separator.litert.fp32.mask_max_abs_diff_vs_onnx_fp32"]
    assert failures[0].value > FP32_CROSS_RUNTIME_MAX_ABS_DIFF


def test_a_pack_without_onnx_fp32_cannot_be_verified(pack_dir: Path, samples) -> None:
    def drop_onnx_fp32(manifest: dict) -> None:
        artifacts = manifest["models"]["tagger"]["artifacts"]
        manifest["models"]["tagger"]["artifacts"] = [a for a in artifacts if a["file"] != "tagger.onnx"]

    _rewrite(pack_dir, drop_onnx_fp32)
    with pytest.raises(PackError, match="models.tagger.artifacts.*onnx fp32"):
        verify_pack_parity(load_pack(pack_dir), samples)


def test_metrics_are_merged_into_manifest_and_model_card(pack_dir: Path) -> None:
    before = load_pack(pack_dir).manifest["metrics"]
    kept = before[0]
    replaced = {**before[1], "value": 42.0}
    pack = write_metrics_into_pack(
        load_pack(pack_dir),
        [replaced, {"name": "new.metric", "value": 1.5, "command": "c"}],
        {"evaluation_data": "held-out songs"},
    )
    metrics = {m["name"]: m["value"] for m in pack.manifest["metrics"]}
    assert metrics[kept["name"]] == kept["value"] and metrics[replaced["name"]] == 42.0 and metrics["new.metric"] == 1.5
    assert len(metrics) == len(before) + 1
    card = (pack_dir / "README.md").read_text()
    assert "| new.metric | 1.5 | `c` |" in card and "evaluation_data: held-out songs" in card
    assert merge_metrics([{"name": "a", "value": 1}], []) == [{"name": "a", "value": 1}]


def test_a_zipped_pack_is_not_written(pack_dir: Path, tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "pack"), "zip", pack_dir)
    with pytest.raises(ConfigError, match="pack directory, not a .zip"):
        write_metrics_into_pack(load_pack(archive), [])


def test_the_default_pack_passes_every_check_on_what_it_ships(samples) -> None:
    report = verify_pack_parity(load_pack(), samples)
    assert load_pack().name == "sense-default"
    assert "separator.onnx.int8.mask_correlation_vs_onnx_fp32" in {check.name for check in report.checks}
    assert report.failures == []
