"""Bad options and missing things end `sense` with one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def sense(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )


def one_line_error(done: subprocess.CompletedProcess) -> str:
    stderr = done.stderr.decode()
    assert done.returncode == 1, (done.returncode, stderr)
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (("run", "-", "--no-models", "--stdin-rate", "0"), b"\0\0" * 128, "sample rate 0 Hz; expected a positive rate"),
        (("run", "-", "--no-models", "--stdin-channels", "0"), b"\0\0" * 128, "0 channels; expected at least 1"),
        (("run", "-", "--no-models"), b"", "stdin: no audio arrived"),
        (
            ("run", "mic:no-such-sound-card", "--no-models", "--seconds", "1"),
            b"",
            "microphone no-such-sound-card: cannot open",
        ),
    ],
)
def test_run_input_errors_are_one_line(args: tuple[str, ...], stdin: bytes, expected: str) -> None:
    assert expected in one_line_error(sense(*args, stdin=stdin))


def test_render_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "missing" / "haptogram.png"
    line = one_line_error(sense("render", "--no-models", "--seconds", "0.5", "--out", str(out)))
    assert f"the folder {out.parent} does not exist" in line
    assert not out.parent.exists()
