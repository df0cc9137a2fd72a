"""Live controls on a running session (edge.controls, Session.set_params / reload) and saving them to the rig file."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.controls import LiveControls, mode_mask
from edge.errors import ConfigError
from edge.outputs import RoutedOutput, open_output
from edge.rig import DEFAULT_RIG, default_rig, load_rig
from edge.rig_save import save_controls
from edge.session import Session, open_session
from edge.stream import DEVICE_STREAM

SECOND = DEVICE_STREAM.sample_rate_hz


def _session(pack, rig=None, **options) -> tuple[Session, RoutedOutput]:
    rig = rig or default_rig()
    sim = RoutedOutput(open_output("sim://", rig.n_actuators), np.arange(rig.n_actuators))
    return open_session(pack, rig, [sim], realtime_budget=None, **options), sim


def _indices(rig, group: str) -> np.ndarray:
    return np.array(
        [rig.actuator_ids.index(member) for member in [rig.spec.actuators[i].id for i in rig.spec.groups[group]]]
    )


def test_controls_change_the_next_hop_and_only_what_they_name(default_pack, example_samples) -> None:
    rig = default_rig()
    reference, _ = _session(default_pack)
    session, sim = _session(default_pack)
    audio = example_samples[: 3 * SECOND]
    first = reference.process(audio[:SECOND])
    np.testing.assert_array_equal(session.process(audio[:SECOND]), first)  # default controls change nothing
    expected = reference.process(audio[SECOND:])
    session.set_params({"master": 0.5, "group_gains": {"kick": 0.0}})
    got = session.process(audio[SECOND:])
    kick = _indices(rig, "kick")
    others = np.setdiff1d(np.arange(rig.n_actuators), kick)
    np.testing.assert_array_equal(got[:, kick], 0.0)
    np.testing.assert_allclose(got[:, others], expected[:, others] * 0.5, atol=1e-6)  # from the very first hop
    np.testing.assert_allclose(sim.output.state, got[-1])  # what the vest received


def test_mode_keeps_the_actuators_its_routes_drive(default_pack, example_samples) -> None:
    rig = default_rig()
    session, _ = _session(default_pack)
    session.set_param("mode", "bass")
    got = session.process(example_samples[: 2 * SECOND])
    bass = _indices(rig, "bass")
    silent = np.setdiff1d(np.arange(rig.n_actuators), bass)
    assert got[:, bass].max() > 0.1
    np.testing.assert_array_equal(got[:, silent], 0.0)
    assert set(np.flatnonzero(mode_mask(rig.spec, "beat"))) == set(_indices(rig, "drums"))


@pytest.mark.parametrize("offset_ms", [0, 250])
def test_mute_zeroes_every_output_at_once_and_unmute_plays_again(default_pack, example_samples, offset_ms) -> None:
    session, sim = _session(default_pack, haptic_offset_ms=offset_ms)  # 250: a delay line full of touch
    session.process(example_samples[:SECOND])
    assert sim.output.state.max() > 0
    session.set_param("muted", True)
    np.testing.assert_array_equal(sim.output.state, 0.0)  # before any further hop
    session.process(example_samples[SECOND : 2 * SECOND])
    np.testing.assert_array_equal(sim.output.history()[-SECOND // 128 :], 0.0)  # what the vest got while muted
    session.set_param("muted", False)
    session.process(example_samples[2 * SECOND : 3 * SECOND])
    assert sim.output.history()[-SECOND // 128 :].max() > 0


@pytest.mark.parametrize(
    "values, message",
    [
        ({"mode": "disco"}, "control mode: 'disco' is not one of everything, beat"),
        ({"master": 1.5}, r"control master: 1.5 is out of range \[0, 1\]"),
        ({"master": "loud"}, "control master: expected a number"),
        ({"master": True}, "control master: expected a number"),
        ({"master": float("nan")}, "control master: expected a number"),
        ({"group_gains": {"kick": -0.1}}, r"group_gains.kick: -0.1 is out of range"),
        ({"group_gains": {"tail": 0.5}}, "unknown group 'tail'; groups: all, kick"),
        ({"group_gains": [0.5]}, "expected an object of group -> gain"),
        ({"preset_lock": "party"}, "'party' is not a preset of rig"),
        ({"muted": "yes"}, "control muted: expected true or false"),
        ({"volume": 1}, "session parameter 'volume' cannot change while running"),
        ({"master": 0.2, "mode": "jazz"}, "control mode: 'jazz'"),
    ],
)
def test_bad_values_are_refused_and_nothing_changes(default_pack, values, message) -> None:
    session, _ = _session(default_pack)
    session.set_params({"master": 0.7, "group_gains": {"bass": 0.3}})
    before = session.live_params()
    with pytest.raises(ConfigError, match=message):
        session.set_params(values)
    assert session.live_params() == before


def test_a_mode_the_rig_cannot_play_is_refused(tmp_path: Path) -> None:
    text = (
        DEFAULT_RIG.read_text().split("[[routes]]")[0]
        + '[[routes]]\nsource = "bass"\nfeature = "energy"\ngroup = "bass"\n'
    )
    (tmp_path / "bass-only.toml").write_text(text)
    session, _ = _session(None, load_rig(tmp_path / "bass-only.toml"))
    with pytest.raises(ConfigError, match="'vocals': no route of rig .* modes of this rig: everything, bass$"):
        session.set_param("mode", "vocals")


def test_a_held_alert_plays_through_any_mode_and_locking_music_stops_it_at_once(default_pack, example_samples) -> None:
    session, _ = _session(default_pack)
    session.set_params({"mode": "bass", "preset_lock": "alarm"})  # holds the alarm's tags on
    got = session.process(example_samples[:SECOND])
    assert session.controlled.last_preset == "alarm"
    bass = _indices(session.rig, "bass")
    assert np.delete(got, bass, axis=1).max() > 0  # the alarm pattern is not hidden by the mode
    session.set_param("preset_lock", "music")
    got = session.process(example_samples[SECOND : SECOND + 128])  # one hop
    assert session.controlled.last_preset == "music"
    np.testing.assert_array_equal(np.delete(got[-1], bass), 0.0)  # music again, in bass mode
    with pytest.raises(ConfigError, match="'doorbell' cannot be held: none of its tags"):
        _session(None)[0].set_param("preset_lock", "doorbell")  # DSP-only: no tagger, no tags to hold


def test_reload_keeps_outputs_and_refuses_a_bad_rig_without_changing_anything(
    default_pack, example_samples, tmp_path: Path
) -> None:
    rig_path = tmp_path / "rig.toml"
    shutil.copy(DEFAULT_RIG, rig_path)
    session, sim = _session(default_pack, load_rig(rig_path))
    session.set_param("master", 0.4)
    session.process(example_samples[:SECOND])
    rig_path.write_text(rig_path.read_text().replace("gain = 0.7", "gain = 9.0"))
    with pytest.raises(
        ConfigError, match=r"rig .*rig.toml:\d+: routes\[4\].gain: is 9.0 \(expected a number in \[0.0, 4.0\]\)"
    ):
        session.reload(rig=rig_path)
    assert session.controls.master == 0.4 and not sim.output.closed
    session.process(example_samples[SECOND : 2 * SECOND])
    rig_path.write_text(DEFAULT_RIG.read_text() + '\n[controls]\nmode = "bass"\n')
    session.reload(rig=rig_path)
    assert session.controls.mode == "bass" and session.controls.master == 1.0  # the new rig's own controls
    got = session.process(example_samples[2 * SECOND : 3 * SECOND])
    assert not sim.output.closed and got.max() > 0
    np.testing.assert_allclose(sim.output.state, got[-1])
    n_hops = session.telemetry.n_hops
    session.reload(pack=None)  # DSP-only now, one telemetry for the whole run
    session.process(example_samples[:SECOND])
    assert session.pack is None and session.telemetry.n_hops == n_hops + SECOND // 128


def test_saved_controls_load_back_and_the_file_keeps_its_text(tmp_path: Path) -> None:
    rig_path = tmp_path / "rig.toml"
    shutil.copy(DEFAULT_RIG, rig_path)
    controls = LiveControls(mode="beat", master=0.8, group_gains={"kick": 0.5, "voice": 0.0}, preset_lock="music")
    save_controls(rig_path, controls)
    save_controls(rig_path, controls)  # saving again replaces the table, does not add another
    text = rig_path.read_text()
    assert text.startswith(DEFAULT_RIG.read_text().rstrip()) and text.count("[controls]") == 1
    assert load_rig(rig_path).controls == controls
    session = open_session(None, rig_path, [], realtime_budget=None)
    assert session.controls == controls  # sense run starts with them too
    assert [p.name for p in tmp_path.iterdir()] == ["rig.toml"]  # no temporary file left behind


def test_saving_is_refused_before_a_byte_is_written(tmp_path: Path) -> None:
    rig_path = tmp_path / "rig.toml"
    broken = DEFAULT_RIG.read_text().replace('id = "F1L"', 'id = "F1R"')  # a rig that does not load
    rig_path.write_text(broken)
    with pytest.raises(ConfigError, match="actuators\\[1\\].id: is 'F1R', a duplicate or reserved actuator id"):
        save_controls(rig_path, LiveControls(master=0.5))
    assert rig_path.read_text() == broken
    with pytest.raises(ConfigError, match="a bundled rig is not saved over"):
        save_controls(DEFAULT_RIG, LiveControls())


def test_a_bad_controls_table_names_its_line(tmp_path: Path) -> None:
    rig_path = tmp_path / "rig.toml"
    rig_path.write_text(DEFAULT_RIG.read_text() + '\n[controls]\nmaster = 0.5\nmode = "polka"\n')
    n_lines = len(rig_path.read_text().splitlines())
    with pytest.raises(ConfigError, match=rf"rig .*rig.toml:{n_lines}: controls.mode: 'polka' is not one of"):
        load_rig(rig_path)


def test_a_reload_whose_outputs_cannot_open_goes_back_to_the_old_ones(example_samples) -> None:
    session = open_session(None, default_rig(), None, realtime_budget=None)  # the rig's own sim:// output
    session.process(example_samples[:SECOND])
    with pytest.raises(Exception) as raised:
        session.reload(rig="vest-pca9685")  # an I2C bus that is not there
    assert "pca9685" in str(raised.value).lower() or "i2c" in str(raised.value).lower(), raised.value
    assert session.rig.n_actuators == 16 and not session.closed
    assert session.process(example_samples[SECOND : 2 * SECOND]).max() > 0
    assert session.outputs[0].output.state.max() > 0  # the reopened sim:// output is driven again
    session.close()


def test_outputs_given_to_the_session_are_never_closed_by_a_reload_to_another_size(tmp_path: Path) -> None:
    session, sim = _session(None)
    with pytest.raises(ConfigError, match="drive 16 actuators; rig .* has 4"):
        session.reload(rig="wristband-drv2605")
    assert not sim.output.closed and session.rig.n_actuators == 16
