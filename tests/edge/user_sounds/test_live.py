"""``sense run --user-sounds``: a learned sound takes over the rig with its own preset, through the real pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
from typer.testing import CliRunner

from edge.cli import app
from edge.pack import load_pack
from edge.rig import default_rig
from edge.run import run
from edge.stream import DEVICE_STREAM
from edge.user_sounds.store import SoundStore
from export.data.sound_events import synthesize_event

RATE_HZ = DEVICE_STREAM.sample_rate_hz
FRAME_S = DEVICE_STREAM.hop_s


def test_a_learned_sound_plays_its_pattern_on_its_group_over_everything(tmp_path: Path) -> None:
    takes = []
    for seed in range(5):
        takes.append(tmp_path / f"ring-{seed}.wav")
        soundfile.write(takes[-1], 0.8 * synthesize_event("telephone", np.random.default_rng(seed), 1.5), RATE_HZ)
    overlay = tmp_path / "overlay"
    SoundStore(load_pack(None), overlay).learn("phone", takes, pattern="pulse", priority=13, group="kick")
    scene = np.zeros(4 * RATE_HZ, np.float32)
    scene[RATE_HZ : 3 * RATE_HZ] = 0.8 * synthesize_event("telephone", np.random.default_rng(42), 2.0)
    song = tmp_path / "scene.wav"
    soundfile.write(song, scene, RATE_HZ)

    # no dropped hops: a hop rendered DSP-only has no tags, so any alert preset pauses for it
    with_sounds = run(
        str(song),
        output_url="sim://",
        realtime_budget=None,
        keep_intensities=True,
        user_sounds=True,
        sounds_dir=str(overlay),
    ).intensities
    without = run(str(song), output_url="sim://", realtime_budget=None, keep_intensities=True).intensities
    rig = default_rig()
    kick = list(rig.spec.groups["kick"])
    others = [index for index in range(rig.n_actuators) if index not in kick]
    ringing = slice(int(2.0 / FRAME_S), int(3.0 / FRAME_S))  # a second after the ring began
    assert with_sounds[ringing][:, others].max() == 0.0  # the music is interrupted everywhere else
    assert with_sounds[ringing][:, kick].max() > 0.5  # the pulse pattern on the kick group
    assert without[ringing][:, others].max() > 0.05  # without it the ring is rendered as sound
    quiet = slice(0, int(0.9 / FRAME_S))
    assert with_sounds[quiet].max() == without[quiet].max() == 0.0

    result = CliRunner().invoke(
        app, ["run", str(song), "--output", "sim://", "--user-sounds", "--sounds-dir", str(overlay), "--json"]
    )
    assert result.exit_code == 0, result.output
