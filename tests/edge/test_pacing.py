"""Real-time pacing of files and stdin: release times come from the sample count on a monotonic clock (no drift),
the default pace follows the outputs, and `sense run` into a non-simulated output takes the audio's time."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge.audio_source import paced
from edge.run import choose_pace
from edge.stream import DEVICE_STREAM

HOP = DEVICE_STREAM.hop
RATE_HZ = DEVICE_STREAM.sample_rate_hz


class FakeClock:
    """A monotonic clock that only moves when someone sleeps or works."""

    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now_s += seconds


def release_times(n_blocks: int, clock: FakeClock, work_s: list[float]) -> list[float]:
    released = []
    blocks = (np.zeros(HOP, np.float32) for _ in range(n_blocks))
    for index, _ in enumerate(paced(blocks, RATE_HZ, clock=clock, sleep=clock.sleep)):
        released.append(clock.now_s)
        clock.now_s += work_s[index % len(work_s)]  # the pipeline's compute for this hop
    return released


def test_sixty_seconds_of_audio_take_sixty_seconds_without_drift() -> None:
    clock = FakeClock()
    n_blocks = 60 * RATE_HZ // HOP
    released = np.array(release_times(n_blocks, clock, work_s=[0.003, 0.0071, 0.0001]))
    expected = released[0] + np.arange(n_blocks) * HOP / RATE_HZ
    assert np.max(np.abs(released - expected)) < 1e-9  # every hop on its audio time: no accumulated error
    span_s = released[-1] - released[0]
    assert abs(span_s - (n_blocks - 1) * HOP / RATE_HZ) < 0.01 * 60


def test_a_late_hop_is_caught_up_not_carried_forward() -> None:
    clock = FakeClock()
    work_s = [0.001] * 10 + [0.05] + [0.001] * 89  # one hop takes 50 ms (six hops' time)
    released = np.array(release_times(100, clock, work_s))
    late = released - (released[0] + np.arange(100) * HOP / RATE_HZ)
    assert late[11] > 0.04  # right after the slow hop: behind
    assert np.max(np.abs(late[20:])) < 1e-9  # then back on the audio's clock


def test_real_clock_pace_within_one_percent() -> None:
    n_blocks = 2 * RATE_HZ // HOP
    released = [time.monotonic() for _ in paced((np.zeros(HOP, np.float32) for _ in range(n_blocks)), RATE_HZ)]
    span_s = released[-1] - released[0]
    expected_s = (n_blocks - 1) * HOP / RATE_HZ
    assert abs(span_s - expected_s) < 0.01 * expected_s, span_s


@pytest.mark.parametrize(
    ("pace", "source", "urls", "expected"),
    [
        (None, "song.flac", ["sim://"], "fast"),
        (None, "song.flac", ["sim://", "serial:///dev/ttyACM0"], "realtime"),
        (None, "stdin", ["audio://default"], "realtime"),
        ("fast", "song.flac", ["pca9685://1/0x40"], "fast"),
        ("realtime", "song.flac", ["sim://"], "realtime"),
        ("fast", "mic", ["sim://"], "realtime"),  # a live source is paced by its sound card
    ],
)
def test_default_pace_follows_the_outputs(pace: str | None, source: str, urls: list[str], expected: str) -> None:
    assert choose_pace(pace, source, urls) == expected


def test_sense_run_into_a_link_takes_the_audio_time(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    seconds = 1.5
    t_s = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    sf.write(path, (0.3 * np.sin(2 * np.pi * 80 * t_s)).astype(np.float32), RATE_HZ)
    command = [
        sys.executable,
        "-m",
        "edge.cli",
        "run",
        str(path),
        "--no-models",
        "--json",
        "--output",
        f"spy://loop://?log={tmp_path / 'frames.log'}",
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    elapsed_s = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pace"] == "realtime"
    assert elapsed_s >= seconds - 2 * HOP / RATE_HZ
    fast = subprocess.run([*command, "--pace", "fast"], capture_output=True, text=True, timeout=120)
    assert json.loads(fast.stdout)["pace"] == "fast"


def test_an_unknown_pace_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "run", "--pace", "slow"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and done.stderr.strip() == "error: --pace slow: unknown; expected one of realtime, fast"
