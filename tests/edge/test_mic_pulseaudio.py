"""The microphone source for real: a PulseAudio server started by the test on a private runtime directory, with a
null sink whose monitor is the default capture device. ``sense run mic`` records through sounddevice -> PortAudio
-> ALSA's pulse plugin; a file played into the sink with ``paplay`` must move the simulated outputs, and silence
must not. (scripts/setup.sh installs pulseaudio, pulseaudio-utils and libasound2-plugins.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parents[2]
SINK = "sense_null"
START_TIMEOUT_S = 10.0


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    assert not missing, f"missing {missing}: run scripts/setup.sh (it installs pulseaudio and pulseaudio-utils)"


@pytest.fixture
def sound_server() -> Iterator[dict[str, str]]:
    """A private PulseAudio: the environment that reaches it (PULSE_SERVER on a socket in a fresh directory)."""
    _require("pulseaudio", "pactl", "paplay")
    runtime = Path(tempfile.mkdtemp(prefix="sense-pa-"))  # short: a unix socket path has at most 107 bytes
    socket = runtime / "native"
    script = runtime / "default.pa"
    script.write_text(
        f"load-module module-null-sink sink_name={SINK} rate=16000 channels=1\n"
        f"load-module module-native-protocol-unix socket={socket} auth-anonymous=1\n"
        f"set-default-sink {SINK}\nset-default-source {SINK}.monitor\n"
    )
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime), "PULSE_SERVER": f"unix:{socket}"}
    log = (runtime / "pulseaudio.log").open("w")
    server = subprocess.Popen(
        [
            "pulseaudio",
            "-n",
            "-F",
            str(script),
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disable-shm=yes",
            "--use-pid-file=no",
            "--system=no",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode != 0:
            assert server.poll() is None and time.monotonic() < deadline, (runtime / "pulseaudio.log").read_text()
            time.sleep(0.1)
        yield env
    finally:
        server.terminate()
        server.wait(5)
        log.close()
        shutil.rmtree(runtime, ignore_errors=True)


def drum_loop(path: Path, seconds: float = 1.0, rate_hz: int = 44100) -> Path:
    """Kick-like thumps with noise every 125 ms, at a rate other than the device's (the server resamples)."""
    rng = np.random.default_rng(3)
    n = int(seconds * rate_hz)
    t_s = np.arange(int(0.08 * rate_hz)) / rate_hz
    hit = (np.sin(2 * np.pi * 70 * t_s) + 0.5 * rng.standard_normal(t_s.size)) * np.exp(-t_s / 0.03)
    audio = np.zeros(n, dtype=np.float32)
    for start in range(0, n - t_s.size, rate_hz // 8):
        audio[start : start + t_s.size] += 0.7 * hit.astype(np.float32)
    soundfile.write(path, np.clip(audio, -1, 1), rate_hz)
    return path


def sense_run_mic(env: dict[str, str], seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "mic", "--seconds", str(seconds), "--no-models", "--json"],
        env={**env, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sense_run_mic_hears_a_file_played_into_the_sound_server(sound_server: dict[str, str], tmp_path: Path) -> None:
    quiet = sense_run_mic(sound_server, 1.0)
    stdout, stderr = quiet.communicate(timeout=60)
    assert quiet.returncode == 0, stderr
    silent = json.loads(stdout)
    assert silent["source"] == "mic" and silent["pace"] == "realtime"
    assert silent["audio_seconds"] == pytest.approx(1.0, abs=0.01)
    assert max(silent["peak_intensities"]) < 0.05  # the null sink's monitor is silent while nothing plays

    loop = drum_loop(tmp_path / "drums.wav")
    run = sense_run_mic(sound_server, 3.0)
    while run.poll() is None:  # play the loop into the sink for as long as the run records
        subprocess.run(["paplay", f"--device={SINK}", str(loop)], env=sound_server, timeout=10, check=True)
    stdout, stderr = run.communicate(timeout=30)
    assert run.returncode == 0, stderr
    heard = json.loads(stdout)
    assert heard["audio_seconds"] == pytest.approx(3.0, abs=0.01) and heard["n_hops"] == 375
    peaks = np.asarray(heard["peak_intensities"])
    assert peaks.max() > 0.3, peaks  # the drums reached the simulated vest
    assert (peaks > 0.05).sum() >= 2
