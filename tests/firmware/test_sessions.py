"""Consecutive `sense run`s against the same board: each new session (HELLO) restarts the firmware's sequence
numbers, so the second and third runs drive the outputs like the first (issue 14: they used to be dropped as
stale). Each run is paced in real time, as on a real board, and must move the outputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from edge.outputs import open_output

REPO = Path(__file__).resolve().parents[2]
RATE_HZ = 16000
SECONDS = 1.5
N_HOPS = int(SECONDS * RATE_HZ) // 128


def bursts_wav(path: Path, seconds: float = SECONDS) -> Path:
    """A steady 80 Hz tone with noise bursts every 250 ms: every hop of every run has something to render."""
    rng = np.random.default_rng(0)
    t_s = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    audio = (0.4 * np.sin(2 * np.pi * 80 * t_s)).astype(np.float32)
    for start in range(0, len(audio), RATE_HZ // 4):
        burst = rng.standard_normal(RATE_HZ // 10).astype(np.float32) * 0.4
        audio[start : start + len(burst)] += burst[: len(audio) - start]
    sf.write(path, np.clip(audio, -1, 1), RATE_HZ)
    return path


def sense_run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "--no-models", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
    )


def stream_counters(url: str, n_channels: int) -> tuple[int, int]:
    """(stale_frames, last_seq) from the board's telemetry, through a session of our own."""
    with open_output(url, n_channels=n_channels) as output:
        telemetry = output.telemetry()
    return telemetry.stale_frames, telemetry.last_seq


def test_three_consecutive_runs_each_reach_the_host_firmware(host_firmware, tmp_path: Path) -> None:
    firmware = host_firmware("--channels", "16")
    url = f"serial://{firmware.port}"
    sound = bursts_wav(tmp_path / "bursts.wav")
    for run_index in range(3):
        rows_before = len(firmware.trace())
        result = sense_run(str(sound), "--output", url)  # paced in real time (the default for a board)
        assert result.returncode == 0, result.stderr
        stale_frames, last_seq = stream_counters(url, 16)
        assert stale_frames == 0, f"run {run_index + 1}: {stale_frames} frames dropped as stale"
        assert last_seq >= N_HOPS - 1, f"run {run_index + 1}: the board's last seq is {last_seq}"
        peak = max((max(duties) for _, duties in firmware.trace()[rows_before:]), default=0)
        assert peak > 10000, f"run {run_index + 1}: the firmware's outputs did not move (peak duty {peak})"


def test_three_consecutive_runs_each_reach_the_avr(avr_firmware_elf: Path, simulated_avr, tmp_path: Path) -> None:
    avr = simulated_avr(avr_firmware_elf)
    url = f"serial://{avr.port}?baud=115200"
    sound = bursts_wav(tmp_path / "bursts.wav")
    for run_index in range(3):
        # the wristband rig has 4 actuators: it fits the AVR board's 6 channels
        events_before = len(avr.pwm)
        result = sense_run(str(sound), "--rig", "edge/data/rigs/wristband-drv2605.toml", "--output", url)
        assert result.returncode == 0, result.stderr
        stale_frames, last_seq = stream_counters(url, 4)
        assert stale_frames == 0, f"run {run_index + 1}: {stale_frames} frames dropped as stale"
        assert last_seq >= N_HOPS - 1, f"run {run_index + 1}: the board's last seq is {last_seq}"
        peak = max((duty for _, duty, _ in avr.pwm[events_before:]), default=0.0)
        assert peak > 0.1, f"run {run_index + 1}: the AVR's pins did not move (peak duty {peak:.3f})"


def test_a_board_in_use_by_another_run_is_refused(host_firmware, tmp_path: Path) -> None:
    firmware = host_firmware("--channels", "16")
    url = f"serial://{firmware.port}"
    with open_output(url, n_channels=16):  # the first run holds the port
        second = sense_run(str(bursts_wav(tmp_path / "bursts.wav")), "--output", url)
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"serial link {firmware.port}: in use by another program" in lines[0], second.stderr
    stale_frames, _ = stream_counters(url, 16)  # free again once the first run closed it
    assert stale_frames == 0
