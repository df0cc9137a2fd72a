"""Ctrl-C and SIGTERM during a live run: the process ends promptly with its summary (exit 0 for Ctrl-C, 143 for
SIGTERM) and the last thing the actuators got was zero and a stop. The output is a real firmware-protocol link (``spy://loop://``) whose frames are logged."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from edge.stream import DEVICE_STREAM

RATE_HZ = DEVICE_STREAM.sample_rate_hz


SECOND_OF_PCM = (0.5 * np.sin(2 * np.pi * 80 * np.arange(RATE_HZ) / RATE_HZ) * 32767).astype("<i2").tobytes()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_stream_zeroes_and_stops_every_output(tmp_path: Path, signum: int) -> None:
    log = tmp_path / "frames.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "-", "--no-drop", "--output", f"spy://loop://?log={log}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        process.stdin.write(SECOND_OF_PCM)
        process.stdin.flush()  # stdin stays open: the run is waiting for more audio, like a live stream
        deadline = time.monotonic() + 60
        while (not log.exists() or log.read_text().count("SetIntensities") < 100) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.exists(), "no frames were sent"
        process.send_signal(signum)
        process.wait(timeout=30)  # stdin still open: only the signal can end the run
        stdout, stderr = process.stdout.read(), process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == {signal.SIGINT: 0, signal.SIGTERM: 143}[signum], stderr
    assert b"Traceback" not in stderr
    assert f"stopped by {signal.Signals(signum).name}".encode() in stdout
    assert b"real-time factor" in stdout and b"dropped hops" in stdout  # the summary
    lines = [line for line in log.read_text().splitlines() if " TX " in line]
    assert any("values=[0, 0" not in line for line in lines[:-2])  # the motors had been running
    assert lines[-1].endswith("StopAll()")
    last_values = lines[-2].split("values=[")[1].rstrip("])").split(", ")
    assert set(last_values) == {"0"}
