"""Regenerate the example haptic files of the bundled example sound and their picture (docs/haptic-files/).

Run from the repository root: ``.venv/bin/python docs/haptic-files/make_example.py``. The picture shows, over
the haptogram's heatmap, the mono mix that both files carry, the .haptic breakpoints (emphasis marked) and
the AHAP intensity read back (transients marked). Needs the ``render`` extra (matplotlib).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge import DEVICE_SAMPLE_RATE_HZ
from edge._lazy import require
from edge.audio_source import read_audio_file
from edge.haptic_files import read_track
from edge.haptic_files.export import track_from_rendering, write_rendering
from edge.haptogram import compute_haptogram
from edge.pack import load_pack
from edge.rig import default_rig
from edge.run import EXAMPLE_SOUND

HERE = Path(__file__).parent
SECONDS = 8.0


def main() -> None:
    rig = default_rig()
    audio = read_audio_file(EXAMPLE_SOUND)[: int(SECONDS * DEVICE_SAMPLE_RATE_HZ)]
    haptogram = compute_haptogram(audio, rig, load_pack(None), EXAMPLE_SOUND.name)
    frame_rate_hz = DEVICE_SAMPLE_RATE_HZ / 128
    track = track_from_rendering(
        haptogram.intensities, frame_rate_hz, haptogram.onsets_s, rig, "mix", EXAMPLE_SOUND.name
    )
    (haptic_path,) = write_rendering(track, HERE / "example.haptic", "haptic", 0.01)
    (ahap_path,) = write_rendering(track, HERE / "example.ahap", "ahap", 0.01)

    matplotlib = require("matplotlib", "render", "drawing")
    matplotlib.use("Agg")
    pyplot = require("matplotlib.pyplot", "render", "drawing")
    figure, axes = pyplot.subplots(3, 1, figsize=(12, 8), sharex=True, gridspec_kw={"height_ratios": [2.2, 1, 1]})
    n_actuators = haptogram.intensities.shape[1]
    axes[0].imshow(
        haptogram.intensities.T,
        aspect="auto",
        origin="lower",
        cmap="magma",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(0, track.duration_s, -0.5, n_actuators - 0.5),
    )
    axes[0].set_yticks(np.arange(n_actuators), haptogram.actuator_labels, fontsize=6)
    axes[0].set_title(f"haptogram: {EXAMPLE_SOUND.name} on {rig.name} (pack {haptogram.pack_name})", fontsize=9)
    document = json.loads(haptic_path.read_text())
    points = document["signals"]["continuous"]["envelopes"]["amplitude"]
    t_s = track.t_s
    axes[1].plot(t_s, track.intensities[:, 0], color="#bbb", linewidth=2.5, label="rendered mix")
    axes[1].plot(
        [p["time"] for p in points],
        [p["amplitude"] for p in points],
        ".-",
        color="#258",
        markersize=2,
        linewidth=0.8,
        label=f"{haptic_path.name}: {len(points)} breakpoints",
    )
    emphasis = [p for p in points if "emphasis" in p]
    axes[1].plot(
        [p["time"] for p in emphasis],
        [p["emphasis"]["amplitude"] for p in emphasis],
        "v",
        color="#d62",
        label=f"{len(emphasis)} emphasis (drum hits)",
    )
    ahap = read_track(ahap_path)
    n_curves = sum("ParameterCurve" in entry for entry in json.loads(ahap_path.read_text())["Pattern"])
    axes[2].plot(t_s, track.intensities[:, 0], color="#bbb", linewidth=2.5, label="rendered mix")
    axes[2].plot(
        ahap.t_s,
        ahap.intensities[:, 0],
        color="#283",
        linewidth=0.8,
        label=f"{ahap_path.name} read back: {n_curves} intensity curves (intensity² = drive)",
    )
    frames = ahap.transient_frames[0]
    axes[2].plot(
        ahap.t_s[frames], ahap.intensities[frames, 0], "v", color="#d62", label=f"{len(frames)} HapticTransient"
    )
    for axis, name in ((axes[1], ".haptic amplitude"), (axes[2], ".ahap drive")):
        axis.set_ylabel(name, fontsize=8)
        axis.set_ylim(0, 1.05)
        axis.legend(loc="upper right", fontsize=7, framealpha=0.7)
    axes[2].set_xlabel("time (s)")
    figure.savefig(HERE / "example.png", dpi=110, bbox_inches="tight")
    print(
        f"wrote {haptic_path}, {ahap_path}, {HERE / 'example.png'}; max |ahap - mix| = "
        f"{float(np.abs(ahap.intensities[:, 0] - track.intensities[:, 0]).max()):.4f}"
    )


if __name__ == "__main__":
    main()
