"""Run each benchmark script once on short settings, in its own process as a user would, and share the JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
SCRIPT_TIMEOUT_S = 300


def run_script(args: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-results")


def _report(results_dir: Path, name: str, args: list[str]) -> dict[str, Any]:
    path = results_dir / f"{name}.json"
    if name == "bench":
        run_script(["-m", "edge.cli", "bench", "--report", str(path), *args])
    else:
        markdown = results_dir / f"{name}.md"
        result = run_script(
            [str(BENCHMARKS / f"bench_{name}.py"), "--json", str(path), "--markdown", str(markdown), *args]
        )
        assert result.stdout.strip() == markdown.read_text().strip()
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def peers_report(results_dir: Path) -> dict[str, Any]:
    return _report(results_dir, "peers", ["--seconds", "1", "--repeats", "1", "--threads", "1"])


@pytest.fixture(scope="session")
def latency_report(results_dir: Path) -> dict[str, Any]:
    return _report(results_dir, "latency", ["--onsets", "4"])


@pytest.fixture(scope="session")
def soak_report(results_dir: Path) -> dict[str, Any]:
    return _report(results_dir, "soak", ["--seconds", "6", "--window", "2"])


@pytest.fixture(scope="session")
def bench_report(results_dir: Path) -> dict[str, Any]:
    return _report(results_dir, "bench", ["--seconds", "0.5", "--runtime", "onnx", "--precision", "fp32"])
