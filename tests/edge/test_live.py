"""edge.live without any web code: a session on a switchable source, its snapshot, status and link counters."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from edge.errors import AudioInputError, ConfigError
from edge.live import LiveRun, link_health
from edge.outputs import RoutedOutput, open_output
from edge.outputs.base import ActuatorOutput, HapticFrame
from edge.session import open_session

TIMEOUT_S = 30.0


class CountingOutput(ActuatorOutput):
    """An output that counts what it was sent (its health() is the base class's counters)."""

    def __init__(self, n_channels: int) -> None:
        super().__init__("counting://", n_channels)
        self.n_writes = 0

    def _write(self, frame: HapticFrame) -> None:
        self.n_writes += 1

    def _zero(self) -> None:
        pass


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_file_that_ends_zeroes_the_outputs_and_a_switch_plays_again(tmp_path: Path, example_samples) -> None:
    short = tmp_path / "short.wav"
    soundfile.write(str(short), example_samples[:8000], 16000)
    sim = RoutedOutput(open_output("sim://", 16), np.arange(16))
    counting = CountingOutput(16)
    session = open_session(None, None, [sim, RoutedOutput(counting, np.arange(16))], realtime_budget=None)
    live = LiveRun(session, str(short))
    runner = threading.Thread(target=live.run, daemon=True)
    runner.start()
    try:
        _wait(lambda: live.snapshot()["source"]["state"] == "ended", "the end of the file")
        assert sim.output.history().max() > 0
        np.testing.assert_array_equal(sim.output.state, 0.0)  # zeroed at the end, the loop idles
        assert live.snapshot()["intensities"] == [0.0] * 16
        hops = session.telemetry.n_hops
        with pytest.raises(ConfigError, match="not offered; sources: .*short.wav, example, mic"):
            live.switch_source(str(tmp_path / "other.wav"))
        (tmp_path / "broken.wav").write_bytes(b"RIFF....")
        live.source_choices.append(str(tmp_path / "broken.wav"))
        with pytest.raises(AudioInputError):
            live.switch_source(str(tmp_path / "broken.wav"))
        assert live.snapshot()["source"]["state"] == "ended"  # nothing changed
        live.switch_source(str(short))
        _wait(lambda: session.telemetry.n_hops > hops + 30, "hops of the new source")
        assert [entry["url"] for entry in link_health(session)] == ["sim://", "counting://"]
        counted = link_health(session)[1]
        assert counted["url"] == "counting://" and counted["link_up"] is True and counted["messages"] == []
        assert 0 < counted["frames_sent"] <= counting.n_writes + 1  # the pipeline writes on while we look
    finally:
        live.stop()
        runner.join(TIMEOUT_S)
    assert not runner.is_alive() and session.closed
    np.testing.assert_array_equal(sim.output.state, 0.0)


def test_status_says_what_the_page_needs(default_pack) -> None:
    session = open_session(default_pack, None, [], realtime_budget=None)
    live = LiveRun(session, None)
    session.process(np.zeros(1600, dtype=np.float32))
    status = live.status()
    assert status["modes"] == {"everything": True, "beat": True, "bass": True, "vocals": True, "speech": True}
    assert len(status["rig"]["actuators"]) == 16 and status["rig"]["actuators"][0]["position"] == [0.3, 0.2]
    assert status["choices"]["packs"][:2] == ["current", "none"] and "sense-default" in status["choices"]["packs"]
    assert set(status["latency_ms"]) == {"stft", "separator", "tagger", "render", "output", "hop"}
    assert status["live_params"]["mode"] == "everything" and status["source"]["spec"] == "example"
    session.close()
