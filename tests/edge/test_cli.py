"""The `sense` CLI through typer's runner, and the installed console script end to end."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import edge
from edge.cli import app
from edge.errors import PackError
from edge.stream import DEVICE_STREAM

HOP = DEVICE_STREAM.hop
RATE_HZ = DEVICE_STREAM.sample_rate_hz


runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"sense {edge.__version__}"


def test_run_json_summary_on_the_bundled_example() -> None:
    result = runner.invoke(app, ["run", "--json", "--no-drop"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_hops"] == 1000 and summary["hop_ms"] == 8.0
    assert summary["outputs"] == ["sim://"] and summary["n_threads"] == 1
    assert set(summary["stages"]) == {"stft", "separator", "tagger", "render", "output"}
    assert summary["stages"]["separator"]["p95_ms"] >= summary["stages"]["separator"]["p50_ms"] > 0
    # the real-time factor is reported, never asserted against wall-clock limits (a shared machine's load decides it;
    # speed is measured in benchmarks/)
    assert summary["real_time_factor"] > 0 and np.isfinite(summary["real_time_factor"])


def test_run_readable_summary_with_litert_int8_and_two_threads() -> None:
    from edge.pack import TEST_PACK_NAME, bundled_pack_path

    result = runner.invoke(
        app,
        [
            "run",
            "--pack",
            str(bundled_pack_path(TEST_PACK_NAME)),
            "--runtime",
            "litert",
            "--precision",
            "int8",
            "--threads",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "real-time factor" in result.stdout and "litert int8, 2 threads" in result.stdout
    assert "dropped hops" in result.stdout and "p95 ms/hop" in result.stdout


def test_run_dsp_only() -> None:
    result = runner.invoke(app, ["run", "--no-models", "--json"])
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["pack"] == "none (DSP only)" and summary["stages"]["separator"]["total_s"] == 0


def test_pack_inspect(tmp_path: Path) -> None:
    from edge.pack import load_pack

    result = runner.invoke(app, ["pack", "inspect"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert load_pack().name in result.stdout and "separator.int8.onnx" in result.stdout
    assert "all sha256 verified" in result.stdout
    assert "int8 is for size only" in " ".join(result.stdout.split())  # measured dearer than fp32 everywhere


def test_bad_pack_raises_pack_error_through_the_runner(tmp_path: Path) -> None:
    result = runner.invoke(app, ["pack", "inspect", str(tmp_path)])
    assert isinstance(result.exception, PackError)
    assert "manifest.json" in str(result.exception)


def test_console_script_reports_errors_in_red_with_exit_1(tmp_path: Path) -> None:
    sense = shutil.which("sense", path=str(Path(sys.executable).parent))
    assert sense, "the sense console script is not installed in this environment"
    missing = tmp_path / "missing.wav"
    done = subprocess.run([sense, "run", str(missing)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"{missing}: no such sound file" in done.stderr.replace("\n", "")
    assert "Traceback" not in done.stderr


def test_raw_pcm_on_stdin(tmp_path: Path) -> None:
    import numpy as np

    t = np.arange(22_050) / 22_050
    pcm = (0.5 * np.sin(2 * np.pi * 100 * t) * 32767).astype("<i2").tobytes()
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "-", "--stdin-rate", "22050", "--json", "--no-drop"],
        input=pcm,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["source"] == "stdin" and summary["n_hops"] == RATE_HZ // HOP
