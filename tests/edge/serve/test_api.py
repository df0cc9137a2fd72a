"""sense serve's JSON/WebSocket API against a real server on 127.0.0.1 driving a simulated rig."""

from __future__ import annotations

import asyncio
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
import websockets
from typer.testing import CliRunner

from edge.cli import app
from edge.rig import load_rig
from edge.serve.pairing import LOCKOUT_S, MAX_FAILURES, Pairing
from tests.edge.serve.conftest import EVENT_TIMEOUT_S, Served, start_served, stop_served

ROOT = Path(__file__).resolve().parents[3]


def _indices(served: Served, group: str) -> np.ndarray:
    return np.array(served.server.live.session.rig.spec.groups[group])


def _frames(served: Served, token: str | None, n_frames: int) -> list[dict]:
    """Receive ``n_frames`` live frames over the WebSocket."""
    query = "" if token is None else f"?token={token}"

    async def receive() -> list[dict]:
        async with websockets.connect(served.url.replace("http", "ws") + "/api/live" + query) as socket:
            return [json.loads(await asyncio.wait_for(socket.recv(), EVENT_TIMEOUT_S)) for _ in range(n_frames)]

    return asyncio.run(receive())


def test_every_api_call_and_the_websocket_need_the_token(served: Served) -> None:
    status, answer = served.call("/api/status", token=None)
    assert status == 401 and "pairing token" in answer["error"]
    status, _ = served.call("/api/set", {"muted": True}, token="wrong")
    assert status == 401
    for token in (None, "wrong"):  # 4 failures: under the rate limit
        with pytest.raises(websockets.InvalidStatus, match="403"):
            _frames(served, token, 1)
    assert served.server.live.session.controls.muted is False  # no control was reached
    status, answer = served.call("/api/status")
    assert status == 200 and answer["rig"]["name"].startswith("Simulated vest")


def test_live_frames_carry_intensities_that_move_while_the_file_plays(served: Served) -> None:
    frames = _frames(served, served.token, 40)
    intensities = np.array([frame["intensities"] for frame in frames])
    assert intensities.shape == (40, 16)
    assert len({tuple(row) for row in intensities}) > 5 and intensities.max() > 0.1
    assert frames[-1]["n_hops"] > frames[0]["n_hops"]
    assert any("latency_ms" in frame and "hop" in frame["latency_ms"] for frame in frames)
    assert all(frame["source"]["state"] == "playing" for frame in frames)


def test_a_control_set_over_the_api_changes_the_simulated_outputs(served: Served) -> None:
    served.wait_hops(50)
    status, answer = served.call("/api/set", {"mode": "bass", "group_gains": {"bass": 0.5}})
    assert status == 200 and answer["live_params"]["mode"] == "bass"
    served.wait_hops(250)  # 2 s of music
    frames = served.recent_frames(200)
    bass = _indices(served, "bass")
    assert frames[:, bass].max() > 0.05
    np.testing.assert_array_equal(np.delete(frames, bass, axis=1), 0.0)
    assert frames[:, bass].max() <= 0.5 + 1e-6


def test_mute_zeroes_every_output_before_the_answer(served: Served) -> None:
    served.wait_hops(100)
    status, _ = served.call("/api/set", {"muted": True})
    assert status == 200
    np.testing.assert_array_equal(served.sim.output.state, 0.0)
    served.wait_hops(50)
    np.testing.assert_array_equal(served.recent_frames(40), 0.0)
    served.call("/api/set", {"muted": False})
    served.wait_hops(250)
    assert served.recent_frames(200).max() > 0


@pytest.mark.parametrize(
    "body, raw, status_code, message",
    [
        ({"master": 2}, None, 400, r"control master: 2 is out of range \[0, 1\]"),
        ({"master": "max"}, None, 400, "control master: expected a number"),
        ({"mode": "polka"}, None, 400, "control mode: 'polka' is not one of"),
        ({"group_gains": {"tail": 1}}, None, 400, "unknown group 'tail'"),
        ({"master": 0.1, "muted": "yes"}, None, 400, "control muted: expected true or false"),
        ({"realtime_budget": -1}, None, 400, "realtime_budget: expected a positive number"),
        ({"n_threads": 4}, None, 400, "'n_threads' cannot change while running"),
        ({}, None, 400, "set: expected an object of parameter -> value"),
        (None, b"{mode: beat}", 400, "request body: invalid JSON"),
        (None, b"[1, 2]", 400, "request body: expected a JSON object, got list"),
        (None, b'{"master": 0.5, "pad": "' + b"x" * 20_000 + b'"}', 413, "request body: 20"),
    ],
)
def test_malformed_or_out_of_range_values_get_an_error_and_change_nothing(
    served: Served, body, raw, status_code, message
) -> None:
    before = served.call("/api/status")[1]["live_params"]
    status, answer = served.call("/api/set", body, raw=raw)
    assert status == status_code and re.search(message, answer["error"]), answer
    assert served.call("/api/status")[1]["live_params"] == before


def test_source_reload_and_save_check_what_they_are_given(served: Served) -> None:
    status, answer = served.call("/api/source", {"source": "/etc/passwd"})
    assert status == 400 and "not offered; sources: example, mic" in answer["error"]
    status, answer = served.call("/api/source", {})
    assert status == 400 and "missing field 'source'" in answer["error"]
    status, answer = served.call("/api/source", {"source": "example"})
    assert status == 200 and answer["source"].endswith("example.flac")
    assert served.call("/api/reload", {"rig": "../../etc/passwd"})[0] == 400
    rig_text = served.rig_path.read_text()
    served.rig_path.write_text(rig_text.replace('group = "bass"', 'group = "tail"'))
    status, answer = served.call("/api/reload", {"rig": "current"})
    assert status == 400 and re.search(r"rig .*rig.toml:\d+: routes\[2\].group: unknown group 'tail'", answer["error"])
    served.rig_path.write_text(rig_text)
    served.call("/api/set", {"master": 0.6, "group_gains": {"kick": 0.25}})
    status, answer = served.call("/api/save", {})
    assert status == 200 and answer["saved"] == str(served.rig_path.resolve())
    assert load_rig(served.rig_path).controls.group_gains == {"kick": 0.25}
    status, answer = served.call("/api/reload", {"rig": "current", "pack": "none"})
    assert status == 200 and answer["pack"] is None and answer["live_params"]["master"] == 0.6
    served.wait_hops(100)
    assert served.recent_frames(50).max() > 0  # DSP-only, still playing on the same outputs


def test_a_client_that_disconnects_changes_nothing(served: Served) -> None:
    served.call("/api/set", {"mode": "beat", "master": 0.8})

    async def connect_and_drop() -> None:
        socket = await websockets.connect(served.url.replace("http", "ws") + f"/api/live?token={served.token}")
        await socket.recv()
        socket.transport.abort()  # gone without a goodbye, as a phone leaving the network

    asyncio.run(connect_and_drop())
    served.wait_hops(100)
    params = served.call("/api/status")[1]["live_params"]
    assert params["mode"] == "beat" and params["master"] == 0.8 and params["muted"] is False
    assert len(_frames(served, served.token, 3)) == 3  # the others are still served


def test_rotating_the_token_cuts_off_the_old_one(served: Served) -> None:
    old = served.token

    async def rotate_while_connected() -> tuple[int | None, str]:
        async with websockets.connect(served.url.replace("http", "ws") + f"/api/live?token={old}") as socket:
            await socket.recv()
            status, answer = await asyncio.to_thread(served.call, "/api/token/rotate", {})
            assert status == 200
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(socket.recv(), EVENT_TIMEOUT_S)
            return socket.close_code, answer["token"]

    close_code, new = asyncio.run(rotate_while_connected())
    assert close_code == 4001 and new != old
    assert served.call("/api/status", token=old)[0] == 401
    assert served.call("/api/status", token=new)[0] == 200


def test_the_haptic_offset_option_reaches_the_session_like_sense_runs(tmp_path: Path) -> None:
    served = start_served(tmp_path, haptic_offset_ms=40.0)
    try:
        assert served.server.live.session.pipeline.haptic_offset_ms == 40.0
    finally:
        stop_served(served)


def test_wrong_tokens_are_rate_limited(tmp_path: Path) -> None:
    served = start_served(tmp_path)
    try:
        answers = [served.call("/api/status", token=f"guess{i}")[0] for i in range(MAX_FAILURES)]
        assert answers == [401] * (MAX_FAILURES - 1) + [429]
        status, answer = served.call("/api/status")  # even the right token, for a while
        assert status == 429 and "too many wrong pairing tokens" in answer["error"]
    finally:
        stop_served(served)


def test_the_lockout_ends_and_other_addresses_are_not_affected() -> None:
    now = [0.0]
    pairing = Pairing("secret", clock=lambda: now[0])
    for _ in range(MAX_FAILURES):
        pairing.check("nope", "10.0.0.9")
    assert pairing.check("secret", "10.0.0.9").limited
    assert pairing.check("secret", "10.0.0.7").ok
    now[0] += LOCKOUT_S + 1
    assert pairing.check("secret", "10.0.0.9").ok


def test_stopping_the_server_zeroes_every_output(tmp_path: Path) -> None:
    served = start_served(tmp_path)
    served.wait_hops(200)
    assert served.recent_frames(150).max() > 0
    stop_served(served)
    assert served.sim.output.closed
    np.testing.assert_array_equal(served.sim.output.state, 0.0)
    np.testing.assert_array_equal(served.sim.output.history()[-1], 0.0)
    with pytest.raises(OSError):
        served.call("/api/status")  # nobody listens any more


def test_sense_status_and_sense_set_use_the_same_api(served: Served) -> None:
    runner = CliRunner()
    where = ["--url", served.url, "--token", served.token]
    result = runner.invoke(app, ["set", "mode=beat", "group_gains.kick=0.5", "preset_lock=music", *where])
    assert result.exit_code == 0, result.output
    params = served.server.live.session.live_params()
    assert params["mode"] == "beat" and params["group_gains"] == {"kick": 0.5} and params["preset_lock"] == "music"
    result = runner.invoke(app, ["status", *where])
    assert result.exit_code == 0, result.output
    assert "mode: beat" in result.output and "kick 0.5" in result.output and "preset lock: music" in result.output
    result = runner.invoke(app, ["set", "master=7", *where])
    assert result.exit_code == 1 and "control master: 7 is out of range" in str(result.exception)
    result = runner.invoke(app, ["status", "--url", served.url, "--token", "wrong"])
    assert result.exit_code == 1 and "missing or wrong pairing token" in str(result.exception)


def test_the_pairing_url_prints_as_a_qr_code() -> None:
    import io

    from edge.serve.server import print_qr

    out = io.StringIO()
    assert print_qr("http://192.168.1.23:8765/#token=abc", out)
    rows = out.getvalue().splitlines()
    assert len(rows) > 10 and all(len(row) == len(rows[0]) for row in rows) and "█" in out.getvalue()


@pytest.mark.slow
def test_sense_serve_on_sigterm_zeroes_exits_143_and_removes_its_state_file(tmp_path: Path) -> None:
    state = tmp_path / "serve.json"
    env = {**os.environ, "SENSE_SERVE_STATE": str(state), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "serve", "--port", "0", "--no-models", "--loop"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + EVENT_TIMEOUT_S * 2
        while not state.exists():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        assert state.stat().st_mode & 0o777 == 0o600  # the token is this user's only
        saved = json.loads(state.read_text())
        result = CliRunner().invoke(app, ["status"], env={"SENSE_SERVE_STATE": str(state)})
        assert result.exit_code == 0 and saved["url"] in result.output, result.output
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=EVENT_TIMEOUT_S * 2)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err
    assert f"#token={saved['token']}" in out and "stopped by SIGTERM; every output zeroed" in out
    assert "sense serve — " in out  # the run summary
    assert not state.exists()
