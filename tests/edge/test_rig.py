"""Rig files: bundled examples load; bad rigs fail with the file, line, key and reason; outputs open by URL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.outputs.sim import SimOutput
from edge.rig import RIGS_DIR, default_rig, load_rig

MINIMAL = """\
[rig]
name = "test rig"

[[outputs]]
id = "main"
url = "sim://"

[[actuators]]
id = "a"
kind = "erm"
position = [0.2, 0.5]

[[actuators]]
id = "b"
kind = "lra"
resonance_hz = 170.0
position = [0.8, 0.5]

[groups]
pair = ["a", "b"]

[[routes]]
source = "drums"
feature = "onset"
group = "pair"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rig.toml"
    path.write_text(text)
    return path


def test_every_bundled_rig_loads_without_opening_hardware() -> None:
    names = sorted(path.stem for path in RIGS_DIR.glob("*.toml"))
    assert {
        "default-sim-vest",
        "vest-pca9685",
        "wristband-drv2605",
        "sensory-box-audio",
        "vest-serial",
        "vest-ble",
    } <= set(names)
    for name in names:
        rig = load_rig(name)
        assert rig.n_actuators >= 2 and rig.spec.routes, name
    wrist = load_rig("wristband-drv2605")
    assert wrist.n_actuators == 4 and {a.kind for a in wrist.spec.actuators} == {"lra"}
    assert all("mux=0x70" in output.url for output in wrist.spec.outputs)
    box = load_rig("sensory-box-audio")
    assert box.spec.outputs[0].url.startswith("audio://") and box.n_actuators == 2


def test_default_rig_is_a_16_motor_vest_on_sim() -> None:
    rig = default_rig()
    assert rig.n_actuators == 16 and rig.spec.outputs[0].url == "sim://"
    assert {a.kind for a in rig.spec.actuators} == {"erm"}


def test_minimal_rig_defaults(tmp_path: Path) -> None:
    rig = load_rig(_write(tmp_path, MINIMAL))
    a, b = rig.spec.actuators
    assert (a.channel, b.channel) == (0, 1) and a.output == b.output == "main"
    assert a.spinup_s > 0 and b.spinup_s == 0  # ERMs spin up, LRAs do not
    assert [p.name for p in rig.spec.presets][0] == "music" and any(p.pattern == "siren" for p in rig.spec.presets)


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "reason"),
    [
        (
            'kind = "lra"',
            'kind = "piezo"',
            15,
            "actuators[1].kind",
            "is 'piezo' (expected one of erm, lra, voice-coil)",
        ),
        ("resonance_hz = 170.0", "resonance_hz = 1500.0", 16, "actuators[1].resonance_hz", "cannot be felt"),
        (
            "resonance_hz = 170.0",
            'resonance_hz = "high"',
            16,
            "actuators[1].resonance_hz",
            "is 'high' (expected a number)",
        ),
        ('url = "sim://"', 'url = "warp://x"', 6, "outputs[0].url", "unknown output scheme 'warp'"),
        ('url = "sim://"', 'url = "sim:"', 6, "outputs[0].url", "expected 'scheme://"),
        ('group = "pair"', 'group = "legs"', 25, "routes[0].group", "unknown group 'legs'"),
        (
            'feature = "onset"',
            'feature = "loudness"',
            24,
            "routes[0].feature",
            "is 'loudness' (expected one of energy, onset, pitch)",
        ),
        ('pair = ["a", "b"]', 'pair = ["a", "z"]', 20, "groups.pair", "unknown actuator id(s) z"),
        ("position = [0.8, 0.5]", "position = [0.8, 1.5]", 17, "actuators[1].position", "within [0.0, 1.0]"),
        ('id = "b"', 'id = "b"\ncolour = "red"', 15, "actuators[1].colour", "unknown key"),
        ('id = "b"', 'id = "a"', 14, "actuators[1].id", "duplicate"),
    ],
)
def test_bad_rig_errors_name_file_line_key_and_reason(
    tmp_path: Path, old: str, new: str, line: int, key: str, reason: str
) -> None:
    assert old in MINIMAL
    path = _write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_rig(path)
    message = str(caught.value)
    assert f"{path}:{line}:" in message and key in message and reason in message, message


def test_missing_and_structural_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rig .*rig.toml: outputs: missing required key"):
        load_rig(_write(tmp_path, MINIMAL.split("[[outputs]]")[0]))
    with pytest.raises(ConfigError, match=r"rig .*rig.toml: invalid TOML: .*line 3"):
        load_rig(_write(tmp_path, '[rig]\nname = "x"\nbroken = \n'))
    with pytest.raises(ConfigError, match=r"actuators\[1\]\.channel: channel 0 of output 'main' is already used"):
        load_rig(_write(tmp_path, MINIMAL.replace('kind = "lra"', 'kind = "lra"\nchannel = 0')))
    with pytest.raises(ConfigError, match=r"channels of output 'main' must be 0..n-1 without gaps, got \[0, 5\]"):
        load_rig(_write(tmp_path, MINIMAL.replace('kind = "lra"', 'kind = "lra"\nchannel = 5')))
    with pytest.raises(ConfigError, match=r"no such file \(bundled rigs: .*default-sim-vest"):
        load_rig(tmp_path / "nope.toml")


def test_preset_overrides_are_validated(tmp_path: Path) -> None:
    text = MINIMAL + '\n[[presets]]\nname = "doorbell"\npattern = "fanfare"\n'
    with pytest.raises(ConfigError, match=r"presets\[0\]\.pattern: is 'fanfare' \(expected one of alarm,"):
        load_rig(_write(tmp_path, text))
    text = MINIMAL + '\n[[presets]]\nname = "doorbell"\npriority = 20\ngroup = "pair"\n'
    doorbell = next(p for p in load_rig(_write(tmp_path, text)).spec.presets if p.name == "doorbell")
    assert doorbell.priority == 20 and doorbell.pattern == "doorbell" and doorbell.group == "pair"


def test_open_outputs_routes_every_actuator(tmp_path: Path) -> None:
    rig = default_rig()
    routed = rig.open_outputs()
    try:
        assert len(routed) == 1 and isinstance(routed[0].output, SimOutput)
        np.testing.assert_array_equal(routed[0].actuator_indices, np.arange(16))
        intensities = np.linspace(0, 1, 16, dtype=np.float32)
        routed[0].write(0.008, intensities)
        np.testing.assert_allclose(routed[0].output.state, intensities)
    finally:
        for output in routed:
            output.output.close()


def test_open_outputs_maps_channels_across_outputs(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        '[[actuators]]\nid = "a"',
        '[[outputs]]\nid = "second"\nurl = "sim://?channels=1"\n\n[[actuators]]\nid = "a"\noutput = "second"',
        1,
    )
    text = text.replace('kind = "lra"', 'kind = "lra"\noutput = "main"')
    routed = load_rig(_write(tmp_path, text)).open_outputs()
    try:
        assert [list(r.actuator_indices) for r in routed] == [[1], [0]]  # output "main" carries actuator b
    finally:
        for output in routed:
            output.output.close()


def test_override_url_carries_all_actuators() -> None:
    routed = load_rig("wristband-drv2605").open_outputs("sim://")
    try:
        assert len(routed) == 1 and routed[0].output.n_channels == 4
        np.testing.assert_array_equal(routed[0].actuator_indices, np.arange(4))
    finally:
        routed[0].output.close()
