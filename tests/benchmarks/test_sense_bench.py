"""``sense bench`` on short settings: the report's structure (JSON Schema, keys, table rows, positive numbers),
never its speed."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from edge.bench import (
    NOT_EXPOSED,
    REPORT_SCHEMA_PATH,
    decode_throttled,
    read_temperatures,
    read_throttling,
    to_markdown,
)
from edge.cli import app
from edge.pack import TEST_PACK_NAME, bundled_pack_path
from edge.pipeline import STAGES

runner = CliRunner()
SECONDS = 1.0
HOPS_PER_SECOND = 125  # 8 ms hops


def validate(report: dict) -> None:
    jsonschema.validate(report, json.loads(REPORT_SCHEMA_PATH.read_text()))


@pytest.fixture(scope="module")
def full_grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """One short run over both runtimes, both precisions and two thread counts, written as JSON and Markdown,
    on the test pack (it ships every runtime and precision)."""
    out = tmp_path_factory.mktemp("bench")
    result = runner.invoke(
        app,
        [
            "bench",
            "--pack",
            str(bundled_pack_path(TEST_PACK_NAME)),
            "--seconds",
            str(SECONDS),
            "--runtime",
            "onnx,litert",
            "--precision",
            "fp32,int8",
            "--threads",
            "1,2",
            "--report",
            str(out / "r.json"),
            "--report",
            str(out / "r.md"),
        ],
        env={"COLUMNS": "240"},
    )
    assert result.exit_code == 0, result.output
    assert "report written to" in result.stdout and "hop ms p50/p95/p99" in result.stdout
    return json.loads((out / "r.json").read_text()), (out / "r.md").read_text()


def test_json_report_follows_the_schema_and_covers_every_configuration(full_grid: tuple[dict, str]) -> None:
    report, _ = full_grid
    validate(report)
    measured = {(r["runtime"], r["precision"], r["n_threads"]) for r in report["results"]}
    assert measured == {(rt, p, n) for rt in ("onnx", "litert") for p in ("fp32", "int8") for n in (1, 2)}
    assert report["unavailable"] == []
    assert report["machine"]["n_cpus"] >= 1 and report["machine"]["python"]
    assert report["settings"]["pack"].startswith("sense-")


def test_every_record_has_ordered_percentiles_and_positive_numbers(full_grid: tuple[dict, str]) -> None:
    report, _ = full_grid
    for result in report["results"]:
        assert result["n_hops"] == SECONDS * HOPS_PER_SECOND and result["audio_seconds"] == pytest.approx(SECONDS)
        assert result["real_time_factor"] > 0 and result["cpu_seconds"] > 0 and result["wall_seconds"] > 0
        assert result["memory"]["peak_rss_mib"] > 0 and result["memory"]["python_peak_mib"] > 0
        assert set(result["stages"]) == set(STAGES)
        for stats in [result["hop"], *result["stages"].values()]:
            assert 0 <= stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"] <= stats["max_ms"]
        assert result["hop"]["p50_ms"] > result["stages"]["separator"]["p50_ms"] > 0
        # compute time is the sum of the stages; the real-time factor is that over the audio time
        total_s = sum(stats["total_s"] for stats in result["stages"].values())
        assert result["compute_seconds"] == pytest.approx(total_s)
        assert result["real_time_factor"] == pytest.approx(total_s / result["audio_seconds"])


def test_markdown_report_has_one_row_per_configuration_and_the_machine(full_grid: tuple[dict, str]) -> None:
    report, markdown = full_grid
    assert markdown == to_markdown(report)
    assert "**Machine:**" in markdown and report["machine"]["cpu"] in markdown
    for heading in ("## Summary", "## Per stage (ms per hop)", "## Memory and board"):
        section = markdown.split(heading)[1].split("##")[0]
        rows = [line for line in section.splitlines() if line.startswith("| onnx") or line.startswith("| litert")]
        assert len(rows) == len(report["results"]) == 8
        assert all(line.count("|") == rows[0].count("|") for line in rows)
    assert "p99" in markdown


def test_int8_is_called_for_size_only_where_it_was_not_faster_than_fp32() -> None:
    from edge.bench import precision_notes

    def result(runtime: str, precision: str, rtf: float) -> dict:
        return {"runtime": runtime, "precision": precision, "n_threads": 1, "real_time_factor": rtf}

    notes = precision_notes(
        {
            "results": [
                result("onnx", "fp32", 0.15),
                result("onnx", "int8", 0.22),
                result("litert", "fp32", 0.12),
                result("litert", "int8", 0.10),
            ]
        }
    )
    assert notes[0] == "onnx × 1 threads: int8 is for size only in this run (RTF int8 0.2200 vs fp32 0.1500)"
    assert notes[1] == "litert × 1 threads: int8 is faster in this run (RTF int8 0.1000 vs fp32 0.1200)"
    assert notes[2].startswith("measured cost: int8 is for size only")
    assert precision_notes({"results": [result("onnx", "fp32", 0.15)]}) == []


def test_a_configuration_the_pack_does_not_ship_is_listed_as_unavailable(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(bundled_pack_path(), pack)
    manifest = json.loads((pack / "manifest.json").read_text())
    for model in manifest["models"].values():
        model["artifacts"] = [
            a for a in model["artifacts"] if not (a["runtime"] == "litert" and a["precision"] == "int8")
        ]
    (pack / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["bench", "--pack", str(pack), "--seconds", "0.5", "--runtime", "litert", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    validate(report)
    assert [(r["runtime"], r["precision"]) for r in report["results"]] == [("litert", "fp32")]
    (missing,) = report["unavailable"]
    assert (missing["runtime"], missing["precision"], missing["n_threads"]) == ("litert", "int8", 1)
    assert "ships no litert int8 artifact" in missing["reason"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--runtime", "tensorrt"], "'tensorrt' is not one of"),
        (["--precision", "fp16"], "'fp16' is not one of"),
        (["--threads", "1,zero"], "'zero' is not a positive integer"),
        (["--threads", "0"], "'0' is not a positive integer"),
        (["--report", "out.txt"], "expected a file name ending in .json or .md"),
    ],
)
def test_bad_options_are_refused_with_a_message(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["bench", "--seconds", "0.2", *args], env={"COLUMNS": "240"})
    assert result.exit_code != 0
    assert message in str(result.exception) + result.output


def test_temperatures_from_a_thermal_sysfs_tree(tmp_path: Path) -> None:
    for index, (kind, millidegrees) in enumerate([("cpu-thermal", "48312"), ("gpu-thermal", "51000")]):
        zone = tmp_path / f"thermal_zone{index}"
        zone.mkdir()
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(millidegrees + "\n")
    reading = read_temperatures(tmp_path)
    assert reading["exposed"] and reading["max_c"] == 51.0
    assert reading["zones"] == {"cpu-thermal (thermal_zone0)": 48.312, "gpu-thermal (thermal_zone1)": 51.0}
    assert read_temperatures(tmp_path / "absent") == {"exposed": False, "zones": {}, "max_c": None, "note": NOT_EXPOSED}


def test_throttling_from_vcgencmd_and_from_sysfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert decode_throttled(0x50005) == [
        "under-voltage now",
        "throttled now",
        "under-voltage has occurred",
        "throttling has occurred",
    ]
    monkeypatch.setenv("PATH", str(tmp_path))  # no vcgencmd: nothing exposed
    assert read_throttling(tmp_path / "get_throttled") == {"exposed": False, "note": NOT_EXPOSED}
    (tmp_path / "get_throttled").write_text("20000\n")  # the Pi kernel's sysfs node, hex without 0x
    assert read_throttling(tmp_path / "get_throttled") == {
        "exposed": True,
        "source": str(tmp_path / "get_throttled"),
        "raw": "0x20000",
        "flags": ["frequency capping has occurred"],
    }
    vcgencmd = tmp_path / "vcgencmd"  # a stand-in for the Pi firmware tool, printing what the real one prints
    vcgencmd.write_text("#!/bin/sh\necho throttled=0x80008\n")
    vcgencmd.chmod(vcgencmd.stat().st_mode | stat.S_IEXEC)
    reading = read_throttling(tmp_path / "get_throttled")
    assert reading["source"] == "vcgencmd get_throttled" and reading["raw"] == "0x80008"
    assert reading["flags"] == ["soft temperature limit now", "soft temperature limit has occurred"]
    assert os.access(vcgencmd, os.X_OK)
