"""Link health against the real firmware (the host build behind a pty, the AVR in simavr): frames acknowledged /
lost / late and reconnects in the run summary and from ``Session.health()``; a device lost mid-run ends the run
with one line naming the output and a non-zero exit, every other output zeroed; the firmware's failsafe (its
watchdog) reaches the summary."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edge.errors import OutputError
from edge.outputs import open_output
from edge.outputs.base import RoutedOutput
from edge.outputs.sim import SimOutput
from edge.session import open_session
from edge.sim.firmware import wait_until

from .test_sessions import REPO, bursts_wav

RATE_HZ = 16000
HOP = 128


def sense_run_process(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "--no-models", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def finish(process: subprocess.Popen, timeout_s: float = 60.0) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=timeout_s)
    return process.returncode, stdout, stderr


def test_a_clean_run_reports_every_frame_acknowledged(host_firmware, tmp_path: Path) -> None:
    firmware = host_firmware("--channels", "16")
    url = f"serial://{firmware.port}"
    code, stdout, stderr = finish(sense_run_process(str(bursts_wav(tmp_path / "b.wav")), "--output", url, "--json"))
    assert code == 0, stderr
    summary = json.loads(stdout)
    (health,) = summary["health"]
    assert health["url"] == url and health["link_up"]
    assert health["frames_sent"] >= summary["n_hops"]  # every hop, plus the zeroing frame at the end
    assert health["frames_acked"] == health["frames_sent"]
    assert health["frames_lost"] == 0 and health["reconnects"] == 0


def test_the_summary_table_shows_the_link_counters(host_firmware, tmp_path: Path) -> None:
    firmware = host_firmware("--channels", "16")
    url = f"serial://{firmware.port}"
    code, stdout, stderr = finish(sense_run_process(str(bursts_wav(tmp_path / "b.wav")), "--output", url))
    assert code == 0, stderr
    line = next(line for line in stdout.splitlines() if line.startswith(f"output {url}: "))
    sent = int(line.split(": ")[1].split(" frames sent")[0])
    assert f"{sent} frames sent, {sent} acknowledged, 0 lost" in line and "0 reconnects" in line


def test_firmware_killed_mid_run_ends_the_run_with_one_line_and_nonzero_exit(host_firmware, tmp_path: Path) -> None:
    firmware = host_firmware("--channels", "16")
    url = f"serial://{firmware.port}?lost_after_s=0.5"
    process = sense_run_process(str(bursts_wav(tmp_path / "long.wav", seconds=6.0)), "--output", url)
    wait_until(lambda: any(max(duties) > 0 for _, duties in firmware.trace()), 20.0, "the run to drive the firmware")
    firmware.kill()
    code, stdout, stderr = finish(process)
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert f"output serial://{firmware.port}?lost_after_s=0.5: device lost" in lines[0]
    assert "not back within 0.5 s" in lines[0] and "watchdog switched its actuators off" in lines[0]


def test_a_lost_device_zeroes_every_other_output(host_firmware) -> None:
    firmware = host_firmware("--channels", "4")
    link = open_output(f"serial://{firmware.port}?lost_after_s=0.3", n_channels=4)
    sim = SimOutput("sim://", 4)
    routes = [RoutedOutput(link, np.arange(4)), RoutedOutput(sim, np.arange(4))]
    session = open_session(None, "wristband-drv2605", routes)
    rng = np.random.default_rng(1)
    with pytest.raises(OutputError, match=r"output serial://.*: device lost .* not back within 0.3 s"):
        with session:
            for index in range(2000):
                session.process(rng.standard_normal(HOP).astype(np.float32) * 0.5)
                if index == 50:
                    assert sim.state.max() > 0
                    firmware.kill()
                time.sleep(0.002)
    assert sim.state.max() == 0.0 and sim.closed
    health = session.health()
    assert not health.ok
    lost = health.outputs[0]
    assert not lost.link_up and lost.frames_lost > 0 and any("link lost" in m for m in lost.messages)
    assert health.outputs[1].link_up


def test_a_device_that_stops_answering_is_lost_too(host_firmware) -> None:
    """A hung board (its port still open, nothing answers): the telemetry polls go unanswered."""
    firmware = host_firmware("--channels", "4")
    output = open_output(f"serial://{firmware.port}?silent_s=0.3&lost_after_s=0.5", n_channels=4)
    assert firmware.process is not None
    try:
        values = np.full(4, 0.5, dtype=np.float32)
        from edge.outputs.base import HapticFrame

        output.write(HapticFrame(0.0, values))
        firmware.process.send_signal(signal.SIGSTOP)
        with pytest.raises(OutputError, match=r"stopped answering .* not back within 0.5 s"):
            for index in range(1, 500):
                output.write(HapticFrame(index * 0.008, values))
                time.sleep(0.008)
    finally:
        firmware.process.send_signal(signal.SIGCONT)
        output.close()


def test_the_firmware_failsafe_reaches_the_summary(host_firmware, tmp_path: Path) -> None:
    """The host stalls for 300 ms mid-run (SIGSTOP, as a machine under load might): the firmware's watchdog zeroes
    the motors, and the summary says so."""
    firmware = host_firmware("--channels", "16")
    url = f"serial://{firmware.port}"
    process = sense_run_process(str(bursts_wav(tmp_path / "b.wav", seconds=3.0)), "--output", url)
    wait_until(lambda: any(max(duties) > 0 for _, duties in firmware.trace()), 20.0, "the run to drive the firmware")
    process.send_signal(signal.SIGSTOP)
    time.sleep(0.3)
    process.send_signal(signal.SIGCONT)
    code, stdout, stderr = finish(process)
    assert code == 0, stderr
    assert re.search(r"the firmware's watchdog zeroed every actuator \d+ times? \(no frame for 100 ms\)", stdout), (
        stdout
    )
    assert re.search(r"its failsafe zeroed the actuators \d+ times?", stdout), stdout


def test_avr_in_simavr_acknowledges_every_frame_and_a_killed_avr_fails_the_run(
    avr_firmware_elf: Path, simulated_avr, tmp_path: Path
) -> None:
    avr = simulated_avr(avr_firmware_elf)
    url = f"serial://{avr.port}?baud=115200"
    rig = "edge/data/rigs/wristband-drv2605.toml"  # 4 actuators: fits the AVR board's 6 channels
    code, stdout, stderr = finish(
        sense_run_process(str(bursts_wav(tmp_path / "b.wav")), "--rig", rig, "--output", url, "--json")
    )
    assert code == 0, stderr
    (health,) = json.loads(stdout)["health"]
    assert health["frames_acked"] == health["frames_sent"] > 100 and health["frames_lost"] == 0

    process = sense_run_process(
        str(bursts_wav(tmp_path / "long.wav", seconds=6.0)), "--rig", rig, "--output", url + "&lost_after_s=0.5"
    )
    events_before = len(avr.pwm)
    wait_until(lambda: any(duty > 0 for _, duty, _ in avr.pwm[events_before:]), 20.0, "the run to drive the AVR")
    avr.stop()  # the board is gone: its pty disappears
    code, _, stderr = finish(process)
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and f"output {url}&lost_after_s=0.5: device lost" in lines[0], stderr
