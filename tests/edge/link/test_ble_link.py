"""``ble://`` end to end: real bleak -> private D-Bus -> python-dbusmock BlueZ -> the real host firmware.

Scan by name and by address, the not-found error, challenge-response (a wrong key and a stranger are refused),
intensities chunked to the MTU with write-without-response, PONG and TELEMETRY back as notifications, the
link dropping (firmware watchdog zeroes, the host reconnects and re-authenticates) and close() sending
STOP_ALL before it disconnects.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edge.errors import ConfigError, LinkAuthError, OutputError
from edge.link import codec
from edge.link.ble import BleTransport
from edge.link.keys import generate_key, save_key
from edge.link.session import LinkSession
from edge.outputs import HapticFrame, open_output
from edge.run import EXAMPLE_SOUND
from edge.outputs.firmware import FirmwareOutput
from edge.stream import DEVICE_STREAM

from .conftest import DEFAULT_ATT_MTU, VEST_ADDRESS, VEST_CHANNELS, VEST_NAME, BleVest

FRAME_PERIOD_S = 0.016  # 62.5 frames/s, the control rate of the pipeline
VALUES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
EXPECTED = codec.intensities_to_u16(np.asarray(VALUES, dtype=np.float32).tolist())  # the float32 frames' values


def reached(vest: BleVest, duties: list[int]) -> bool:
    """The firmware drove exactly ``duties`` at some moment (its trace keeps every change)."""
    return any(row == duties for _, row in vest.firmware.trace())


def frame(t_s: float, values: list[float]) -> HapticFrame:
    return HapticFrame(t_s=t_s, intensities=np.asarray(values, dtype=np.float32))


def decoded(chunks: list[bytes]) -> list[codec.Message]:
    """The messages in a byte stream that arrived in ``chunks`` (GATT writes or notifications)."""
    decoder = codec.FrameDecoder()
    messages = []
    for piece in chunks:
        messages += [codec.decode_message(kind, body) for kind, body in decoder.feed(piece)]
    assert decoder.crc_errors == 0 and decoder.framing_errors == 0
    return messages


def stream(output: FirmwareOutput, values: list[float], n_frames: int, t0_s: float = 0.0) -> None:
    for index in range(n_frames):
        output.write(frame(t0_s + index * FRAME_PERIOD_S, values))
        time.sleep(FRAME_PERIOD_S)


def test_finds_the_vest_by_name_and_by_address(ble_vest: BleVest) -> None:
    for target in (VEST_NAME, VEST_ADDRESS, VEST_ADDRESS.lower()):
        transport = BleTransport(target, scan_s=3.0)
        try:
            assert transport.is_open and transport.connects == 1
            assert transport.mtu_payload_bytes == DEFAULT_ATT_MTU - 3  # from the characteristic's MTU property
        finally:
            transport.close()
        assert not transport.is_open
    assert ble_vest.mock.record.method_calls.count(f"dev_{VEST_ADDRESS.replace(':', '_')}.Connect") == 3


def test_a_vest_that_is_not_there_fails_with_a_clear_error(ble_vest: BleVest) -> None:
    with pytest.raises(OutputError, match=r"no device with name 'OTHER-VEST' found in a 0.5 s scan \(seen: SENSE-VEST"):
        BleTransport("OTHER-VEST", scan_s=0.5)
    with pytest.raises(OutputError, match="no device with address 'AA:BB:CC:DD:EE:FF'"):
        BleTransport("AA:BB:CC:DD:EE:FF", scan_s=0.5)
    ble_vest.mock.advertising = False  # switched off: nothing advertises
    with pytest.raises(OutputError, match=r"seen: nothing\); is the vest switched on"):
        BleTransport(VEST_NAME, scan_s=0.5)


def test_a_url_without_a_device_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no device given"):
        open_output("ble://")


def test_authenticated_stream_drives_the_firmware_in_mtu_sized_writes(ble_vest: BleVest) -> None:
    output = open_output(ble_vest.url, n_channels=VEST_CHANNELS)
    try:
        assert isinstance(output, FirmwareOutput)
        assert output.info is not None and output.info.name == "host"
        assert output.info.flags & codec.FLAG_KEY_PROVISIONED and not output.info.flags & codec.FLAG_LINK_TRUSTED
        assert output.session.authenticated
        stream(output, VALUES, 10)
        expected = EXPECTED
        ble_vest.mock.wait_for(lambda: reached(ble_vest, expected), what=f"firmware duties {expected}")
    finally:
        output.close()

    record = ble_vest.mock.record
    assert set(record.write_types) == {"command"}  # write-without-response, every time
    assert max(len(write) for write in record.writes) == DEFAULT_ATT_MTU - 3
    sent = decoded(record.writes)
    frames = [m for m in sent if isinstance(m, codec.SetIntensities)]
    assert [m.seq for m in frames] == list(range(11)) and frames[9].values == expected
    assert frames[10].values == [0] * VEST_CHANNELS  # close() zeroes first
    assert isinstance(sent[0], codec.Hello) and isinstance(sent[1], codec.AuthResponse)


def test_pong_and_telemetry_come_back_as_notifications(ble_vest: BleVest) -> None:
    with open_output(ble_vest.url, n_channels=VEST_CHANNELS) as output:
        assert isinstance(output, FirmwareOutput)
        stream(output, VALUES, 5)
        round_trip_s = output.ping()
        telemetry = output.telemetry()
    assert 0.0 < round_trip_s < 1.0
    assert telemetry.frames_ok >= 6 and telemetry.last_seq == 4 and telemetry.crc_errors == 0
    assert telemetry.duty == EXPECTED
    notifications = ble_vest.mock.record.notifications
    assert max(len(piece) for piece in notifications) <= DEFAULT_ATT_MTU - 3
    kinds = [type(message) for message in decoded(notifications)]
    assert kinds[:3] == [codec.Info, codec.AuthChallenge, codec.AuthResult]
    assert codec.Pong in kinds and codec.Telemetry in kinds  # TELEMETRY (> 60 bytes) spans several notifications


def test_a_larger_mtu_means_fewer_writes(ble_vest_factory) -> None:
    vest = ble_vest_factory(mtu=185)
    with open_output(vest.url, n_channels=VEST_CHANNELS) as output:
        stream(output, VALUES, 3)
    writes = vest.mock.record.writes
    assert max(len(write) for write in writes) > DEFAULT_ATT_MTU - 3
    assert all(len(write) <= 182 for write in writes)
    assert [m.seq for m in decoded(writes) if isinstance(m, codec.SetIntensities)] == [0, 1, 2, 3]  # 3: the zeroing


def test_a_key_provisioned_over_usb_unlocks_the_ble_link(ble_vest_factory) -> None:
    vest = ble_vest_factory(provisioned="usb")
    assert vest.firmware.key_path.read_text().strip() == vest.key.hex()
    with open_output(vest.url, n_channels=VEST_CHANNELS) as output:
        assert isinstance(output, FirmwareOutput) and output.session.authenticated
        stream(output, VALUES, 3)
        vest.mock.wait_for(lambda: reached(vest, EXPECTED), what="duties over BLE")


def test_an_mtu_negotiated_after_connecting_is_used_for_the_next_writes(ble_vest: BleVest) -> None:
    with open_output(ble_vest.url, n_channels=VEST_CHANNELS) as output:
        stream(output, VALUES, 2)
        assert max(len(write) for write in ble_vest.mock.record.writes) == DEFAULT_ATT_MTU - 3
        ble_vest.mock.set_mtu(100)
        before = len(ble_vest.mock.record.writes)
        time.sleep(0.05)  # the PropertiesChanged signal reaches bleak
        stream(output, VALUES, 2)
        later = ble_vest.mock.record.writes[before:]
    assert len(later[0]) > DEFAULT_ATT_MTU - 3 and all(len(write) <= 97 for write in later)


def test_a_wrong_key_is_refused_and_counted(ble_vest: BleVest, tmp_path) -> None:
    wrong = save_key(tmp_path / "wrong.key", generate_key())
    with pytest.raises(LinkAuthError, match="refused the key"):
        open_output(f"ble://{VEST_NAME}?key={wrong}&scan_s=3")
    with pytest.raises(LinkAuthError, match="has a key provisioned"):
        open_output(f"ble://{VEST_NAME}?scan_s=3")

    # a stranger's phone that skips the handshake: its control frames are refused, counted, and change nothing
    transport = BleTransport(VEST_NAME, scan_s=3.0)
    stranger = LinkSession(transport)
    try:
        stranger.set_intensities([65535] * VEST_CHANNELS, 0)
        refusal = stranger.wait_for(codec.Error)
        assert (refusal.code, refusal.offending_type) == (codec.ERROR_UNAUTHENTICATED, codec.SetIntensities.TYPE)
        telemetry = stranger.telemetry()  # always answered, also unauthenticated
        assert telemetry.auth_failures == 1 and telemetry.unauth_refused == 1
    finally:
        stranger.close()
    assert ble_vest.firmware.duties() == [0] * VEST_CHANNELS


def test_an_unprovisioned_vest_refuses_control_over_ble(ble_vest_factory) -> None:
    vest = ble_vest_factory(provisioned="none")
    with pytest.raises(LinkAuthError, match="no key and refuses control"):
        open_output(f"ble://{VEST_NAME}?scan_s=3")
    session = LinkSession(BleTransport(VEST_NAME, scan_s=3.0))
    try:
        with pytest.raises(Exception, match="NOT_ALLOWED"):  # keys are provisioned over USB, never over the radio
            session.provision_key(generate_key())
    finally:
        session.close()
    assert vest.firmware.duties() == [0] * VEST_CHANNELS


def test_link_drop_zeroes_the_vest_then_the_host_reconnects_and_reauthenticates(ble_vest: BleVest) -> None:
    output = open_output(ble_vest.url + "&reconnect_min_s=0.05", n_channels=VEST_CHANNELS)
    assert isinstance(output, FirmwareOutput)
    transport = output.transport
    assert isinstance(transport, BleTransport)
    expected = EXPECTED
    try:
        stream(output, VALUES, 5)
        ble_vest.mock.wait_for(lambda: reached(ble_vest, expected), what="duties before the drop")

        dropped_at = len(ble_vest.firmware.trace())
        ble_vest.mock.advertising = False  # out of range: the link drops and nothing advertises
        ble_vest.mock.drop_link()
        ble_vest.mock.wait_for(lambda: not transport.is_open, what="the transport to notice the drop")
        t_s = 1.0
        outage_end_s = time.monotonic() + 0.3
        while output.reconnects == 0:  # the pipeline keeps writing at its pace; frames are dropped meanwhile
            output.write(frame(t_s, VALUES))
            t_s += FRAME_PERIOD_S
            time.sleep(FRAME_PERIOD_S)
            if time.monotonic() > outage_end_s:
                ble_vest.mock.advertising = True  # back in range
            assert t_s < 10.0, f"no reconnect; last error: {transport.last_error}"
        assert output.frames_dropped >= 10
        # nothing reached the firmware during the outage: its watchdog zeroed every output
        assert output.telemetry().watchdog_trips >= 1
        assert transport.connects == 2 and output.session.authenticated

        stream(output, VALUES, 5, t0_s=t_s)
        after_drop = [row for _, row in ble_vest.firmware.trace()[dropped_at:]]
        zeroed_at = after_drop.index([0] * VEST_CHANNELS)
        assert expected in after_drop[zeroed_at:]  # driven again after reconnecting
        hellos = [m for m in decoded(ble_vest.mock.record.writes) if isinstance(m, codec.Hello)]
        assert len(hellos) == 2  # the handshake (and challenge-response) was redone
    finally:
        output.close()
    ble_vest.mock.wait_for(lambda: ble_vest.firmware.duties() == [0] * VEST_CHANNELS, what="zero after close")


def test_a_drop_healed_between_two_frames_still_redoes_the_handshake(ble_vest: BleVest) -> None:
    """The radio may reconnect before the next frame; the firmware forgot the session, so the host must not just
    carry on sending intensities (they would be refused as unauthenticated)."""
    output = open_output(ble_vest.url + "&reconnect_min_s=0.01", n_channels=VEST_CHANNELS)
    assert isinstance(output, FirmwareOutput) and isinstance(output.transport, BleTransport)
    transport = output.transport
    connections_while_open = ble_vest.mock.bus_connections()
    try:
        stream(output, VALUES, 2)
        ble_vest.mock.drop_link()
        ble_vest.mock.wait_for(lambda: transport.connects == 2, what="the background reconnect")
        t_s = 1.0
        while output.reconnects == 0:
            output.write(frame(t_s, VALUES))
            t_s += FRAME_PERIOD_S
            time.sleep(FRAME_PERIOD_S)
            assert t_s < 10.0, "FirmwareOutput never redid the handshake"
        stream(output, VALUES, 2, t0_s=t_s)
        assert output.session.authenticated and not output.device_errors
    finally:
        output.close()
    hellos = [m for m in decoded(ble_vest.mock.record.writes) if isinstance(m, codec.Hello)]
    assert len(hellos) == 2
    # the dropped connection's D-Bus connection was released too (no leak per drop-out)
    ble_vest.mock.wait_for(lambda: ble_vest.mock.bus_connections() == connections_while_open - 1, what="released")


def test_close_sends_stop_all_before_it_disconnects(ble_vest: BleVest) -> None:
    output = open_output(ble_vest.url, n_channels=VEST_CHANNELS)
    stream(output, VALUES, 5)
    output.close()
    output.close()  # idempotent
    record = ble_vest.mock.record
    device_calls = [call for call in record.method_calls if not call.endswith("Notify")]
    assert device_calls[-1].endswith(".Disconnect")
    messages = decoded(record.writes)
    assert isinstance(messages[-1], codec.StopAll)
    last_intensities = [m for m in messages if isinstance(m, codec.SetIntensities)][-1]
    assert last_intensities.values == [0] * VEST_CHANNELS  # zero first (ActuatorOutput contract), then STOP_ALL
    ble_vest.mock.wait_for(lambda: ble_vest.firmware.duties() == [0] * VEST_CHANNELS, what="zero duties")
    with pytest.raises(ConfigError, match="closed"):
        output.write(frame(0.0, VALUES))


def test_without_bluez_on_the_bus_the_error_says_so(system_bus) -> None:
    with pytest.raises(OutputError, match=r"ble link SENSE-VEST: scanning failed: .*is Bluetooth on"):
        BleTransport(VEST_NAME, scan_s=0.5)


def test_ble_scan_command_lists_the_vest_and_its_url(ble_vest: BleVest) -> None:
    from typer.testing import CliRunner

    from edge.cli import app
    from edge.link.ble import scan_devices

    found = scan_devices(0.5)
    vest = next(device for device in found if device.address == VEST_ADDRESS)
    assert vest.is_sense and vest.name == VEST_NAME and vest.rssi_dbm is not None and vest.rssi_dbm < 0
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["ble-scan", "--seconds", "0.5"])
    assert result.exit_code == 0, result.output
    assert VEST_ADDRESS in result.output and f"ble://{VEST_NAME}?key=PATH" in result.output

    ble_vest.mock.advertising = False
    result = CliRunner().invoke(app, ["ble-scan", "--seconds", "0.3"])
    assert result.exit_code == 0 and "no SENSE vest found" in result.output


def test_a_device_without_the_sense_service_is_named_in_the_error(ble_vest: BleVest) -> None:
    other_service = "0000180d-0000-1000-8000-00805f9b34fb"  # heart rate: some other BLE gadget
    with pytest.raises(OutputError, match=r"no SENSE link characteristic .* in service 0000180d.*services: 53454e53"):
        BleTransport(VEST_NAME, scan_s=3.0, service_uuid=other_service)


def test_the_pipeline_drives_a_ble_vest_and_leaves_it_stopped(ble_vest_factory) -> None:
    from edge.run import run

    n_motors = 16  # the bundled default rig
    vest = ble_vest_factory(n_channels=n_motors)
    result = run(str(EXAMPLE_SOUND), output_url=vest.url, use_models=False, pace="fast")
    assert result.output_urls == [vest.url]
    sent = decoded(vest.mock.record.writes)
    frames = [m for m in sent if isinstance(m, codec.SetIntensities)]
    assert len(frames) >= 100 and max(max(m.values) for m in frames) > 0
    assert isinstance(sent[-1], codec.StopAll) and frames[-1].values == [0] * n_motors
    assert any(max(row) > 0 for _, row in vest.firmware.trace())  # the motors really moved
    vest.mock.wait_for(lambda: vest.firmware.duties() == [0] * n_motors, what="a stopped vest")


def test_three_consecutive_runs_each_move_the_ble_vest(ble_vest_factory, tmp_path: Path) -> None:
    """Each run is a new session (HELLO resets the vest's sequence numbers): the second and third runs are not
    dropped as stale. Paced in real time, the default for a vest."""
    import soundfile

    from edge.run import run

    n_motors = 16  # the bundled default rig
    vest = ble_vest_factory(n_channels=n_motors)
    rate_hz = DEVICE_STREAM.sample_rate_hz
    t_s = np.arange(rate_hz) / rate_hz
    sound = tmp_path / "tone.wav"
    soundfile.write(sound, (0.4 * np.sin(2 * np.pi * 80 * t_s)).astype(np.float32), rate_hz)
    for run_index in range(3):
        rows_before = len(vest.firmware.trace())
        result = run(str(sound), output_url=vest.url, use_models=False)
        assert result.pace == "realtime"
        peak = max((max(duties) for _, duties in vest.firmware.trace()[rows_before:]), default=0)
        assert peak > 10000, f"run {run_index + 1}: the vest's motors did not move (peak duty {peak})"


def test_spy_logs_the_ble_link_frames(ble_vest: BleVest, tmp_path: Path) -> None:
    log = tmp_path / "vest.log"
    with open_output(f"spy://{ble_vest.url}&log={log}", n_channels=VEST_CHANNELS) as output:
        stream(output, VALUES, 2)
    lines = log.read_text().splitlines()
    assert any(" TX Hello(" in line for line in lines) and any(" RX Info(" in line for line in lines)
    assert any(" RX AuthResult(status=0" in line for line in lines)
    assert any(" TX SetIntensities(seq=1" in line for line in lines)
    assert " TX StopAll()" in lines[-2] and f" RX Ack(acked_type={codec.StopAll.TYPE})" in lines[-1]


def test_close_during_an_outage_stops_the_background_reconnect(ble_vest: BleVest) -> None:
    output = open_output(ble_vest.url + "&reconnect_min_s=0.02", n_channels=VEST_CHANNELS)
    assert isinstance(output, FirmwareOutput) and isinstance(output.transport, BleTransport)
    transport = output.transport
    ble_vest.mock.advertising = False
    ble_vest.mock.drop_link()
    ble_vest.mock.wait_for(lambda: transport.reconnect_attempts >= 1, what="a reconnect attempt")
    output.close()  # the link is down: nothing to send, and the scan in progress is abandoned
    assert transport.closed and not transport.is_open
    connects_at_close = ble_vest.mock.record.method_calls.count(f"dev_{VEST_ADDRESS.replace(':', '_')}.Connect")
    ble_vest.mock.advertising = True  # back in range: a zombie reconnect would connect now
    time.sleep(0.5)
    assert ble_vest.mock.record.method_calls.count(f"dev_{VEST_ADDRESS.replace(':', '_')}.Connect") == connects_at_close
    with pytest.raises(OutputError, match="closed"):
        transport.write(b"\x00")


def test_a_ble_run_reports_every_frame_acknowledged(ble_vest_factory) -> None:
    from edge.run import run

    vest = ble_vest_factory(n_channels=16)  # the bundled default rig
    result = run(str(EXAMPLE_SOUND), output_url=vest.url, use_models=False, pace="fast")
    assert result.health is not None
    (health,) = result.health.outputs
    assert health.link_up and health.frames_sent > result.summary["n_hops"]
    assert health.frames_acked == health.frames_sent and health.frames_lost == 0


def test_a_vest_that_disconnects_and_stays_away_ends_the_run_with_the_others_zeroed(ble_vest_factory) -> None:
    from edge.outputs.base import RoutedOutput
    from edge.outputs.sim import SimOutput
    from edge.session import open_session

    vest = ble_vest_factory(n_channels=4)
    url = vest.url + "&lost_after_s=0.5"
    link = open_output(url, n_channels=4)
    sim = SimOutput("sim://", 4)
    session = open_session(
        None, "wristband-drv2605", [RoutedOutput(link, np.arange(4)), RoutedOutput(sim, np.arange(4))]
    )
    rng = np.random.default_rng(2)
    with pytest.raises(OutputError, match=r"output ble://.*lost_after_s=0.5: device lost .* not back within 0.5 s"):
        with session:
            for index in range(1000):
                session.process(rng.standard_normal(128).astype(np.float32) * 0.5)
                if index == 150:  # after the first health polls (every 0.5 s)
                    assert sim.state.max() > 0
                    vest.mock.advertising = False  # switched off: it drops and does not come back
                    vest.mock.drop_link()
                time.sleep(0.004)
    assert sim.state.max() == 0.0
    lost = session.health().outputs[0]
    assert not lost.link_up and lost.frames_lost > 0 and lost.frames_acked > 0
    vest.mock.wait_for(lambda: vest.firmware.duties() == [0] * 4, what="the vest's watchdog to zero it")
