"""Haptograms: a picture of what a rig would feel for a sound — waveform, stems, per-actuator intensity heatmap
with the detected drum onsets marked. Behind ``sense render``; matplotlib is imported lazily (extra ``render``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.analysis import Analysis
from edge.haptics.base import Renderer
from edge.haptics.features import SpectralFluxOnsets, band_mask
from edge.haptics.renderer import DSP_PROXY_BANDS_HZ
from edge.haptics.spec import MUSIC_PRESET
from edge.pack import Pack
from edge.rig import Rig

DRUM_STEM = "drums"
ONSET_MERGE_S = 0.03
STEM_RANGE_DB = 50.0  # each stem's lane shows its level from this far below its peak up to the peak
LANE_HEIGHT = 0.8  # of a stem lane, leaving a gap to the next


class RecordingRenderer:
    """Passes every Analysis on to ``renderer`` and keeps it, so a picture can show what the renderer saw."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.n_channels = renderer.n_channels
        self.analyses: list[Analysis] = []
        self.presets: list[str] = []

    def reset(self) -> None:
        self.renderer.reset()
        self.analyses = []
        self.presets = []

    def process(self, analysis: Analysis) -> np.ndarray:
        self.analyses.append(analysis)
        intensities = self.renderer.process(analysis)
        self.presets.extend(getattr(self.renderer, "last_presets", []) or [MUSIC_PRESET] * analysis.n_frames)
        return intensities


@dataclass
class Haptogram:
    """Everything a haptogram shows. ``intensities``: (n_frames, n_actuators); ``stem_levels``: stem ->
    (n_frames,) RMS magnitude, or empty on the DSP-only path; ``onsets_s``: detected drum onsets; ``presets``:
    (n_frames,) the active preset of each frame."""

    audio: np.ndarray
    sample_rate_hz: int
    t_s: np.ndarray
    intensities: np.ndarray
    stem_levels: dict[str, np.ndarray]
    onsets_s: np.ndarray
    actuator_labels: list[str]
    rig_name: str
    source_name: str
    pack_name: str
    presets: list[str]


def _actuator_labels(rig: Rig) -> list[str]:
    labels = []
    for index, actuator in enumerate(rig.spec.actuators):
        groups = [name for name, members in rig.spec.groups.items() if index in members]
        labels.append(f"{actuator.id} ({groups[0]})" if groups else actuator.id)
    return labels


def _drum_onsets_s(analyses: list[Analysis], rig: Rig) -> np.ndarray:
    """Onsets the way the rig's drum onset routes see them: on the drum stem in each route's band, or on the
    DSP-only path in the drum stand-in band of the mixture; hits closer than ONSET_MERGE_S count once."""
    if not analyses:
        return np.zeros(0)
    first = analyses[0]
    frame_rate_hz = first.sample_rate_hz / first.hop
    bands_hz = [r.band_hz for r in rig.spec.routes if r.source == DRUM_STEM and r.feature == "onset"] or [
        (20.0, 8000.0)
    ]
    with_stem = [
        SpectralFluxOnsets(frame_rate_hz, band_mask(first.n_fft, first.sample_rate_hz, *band)) for band in bands_hz
    ]
    proxy = SpectralFluxOnsets(
        frame_rate_hz, band_mask(first.n_fft, first.sample_rate_hz, *DSP_PROXY_BANDS_HZ[DRUM_STEM])
    )
    times = []
    for analysis in analyses:
        if analysis.stem_mag is not None and DRUM_STEM in analysis.stem_mag:
            for detector in with_stem:
                times.append(analysis.t_s[detector.process(analysis.stem_mag[DRUM_STEM]) > 0])
        else:
            times.append(analysis.t_s[proxy.process(analysis.mixture_mag) > 0])
    merged = np.sort(np.concatenate(times))
    return merged[np.concatenate([[True], np.diff(merged) > ONSET_MERGE_S])] if merged.size else merged


def compute_haptogram(audio: np.ndarray, rig: Rig, pack: Pack | None, source_name: str = "") -> Haptogram:
    """Run the streaming pipeline (with ``pack``'s separator, or DSP-only when ``pack`` is None) over ``audio``
    (mono at the device rate) and collect what the picture needs."""
    from edge.session import open_session
    from edge.stream import DEVICE_STREAM

    recorders: list[RecordingRenderer] = []

    def record(renderer: Renderer) -> Renderer:
        recorders.append(RecordingRenderer(renderer))
        return recorders[-1]

    with open_session(pack, rig, output=(), wrap_renderer=record, realtime_budget=None) as session:
        intensities = session.process(np.asarray(audio, dtype=np.float32))
        stems = session.stems
    recorder = recorders[0]
    analyses = recorder.analyses
    t_s = np.concatenate([a.t_s for a in analyses]) if analyses else np.zeros(0)
    stem_levels: dict[str, np.ndarray] = {}
    if analyses and all(a.stem_mag is not None for a in analyses):
        for stem in stems:
            magnitudes = np.concatenate([a.stem_mag[stem] for a in analyses])  # type: ignore[index]
            stem_levels[stem] = np.sqrt((magnitudes**2).mean(axis=1))
    pack_name = pack.name if pack is not None else "none (DSP-only)"
    return Haptogram(
        audio=np.asarray(audio, dtype=np.float32),
        sample_rate_hz=DEVICE_STREAM.sample_rate_hz,
        t_s=t_s,
        intensities=intensities,
        stem_levels=stem_levels,
        onsets_s=_drum_onsets_s(analyses, rig),
        actuator_labels=_actuator_labels(rig),
        rig_name=rig.name,
        source_name=source_name,
        pack_name=str(pack_name),
        presets=recorder.presets,
    )


def preset_spans(t_s: np.ndarray, presets: list[str]) -> list[tuple[float, float, str]]:
    """(start_s, end_s, name) of each stretch where a preset other than music is active."""
    spans = []
    start = None
    for frame, name in enumerate(presets + [MUSIC_PRESET]):
        if start is not None and (name != presets[start]):
            spans.append((float(t_s[start]), float(t_s[frame - 1]), presets[start]))
            start = None
        if start is None and name != MUSIC_PRESET and frame < len(presets):
            start = frame
    return spans


def plot_haptogram(haptogram: Haptogram, out_path: str | Path, dpi: int = 120) -> Path:
    """Draw the haptogram to ``out_path`` (PNG, SVG or PDF by suffix) and return the path."""
    matplotlib = require("matplotlib", "render", "drawing haptograms")
    matplotlib.use("Agg")
    pyplot = require("matplotlib.pyplot", "render", "drawing haptograms")
    n_actuators = haptogram.intensities.shape[1]
    n_stem_rows = max(1, len(haptogram.stem_levels))
    heights = [1.2, 0.45 * n_stem_rows + 0.6, max(2.5, 0.22 * n_actuators)]
    figure, axes = pyplot.subplots(
        3, 1, figsize=(12, sum(heights) + 1.2), sharex=True, gridspec_kw={"height_ratios": heights}
    )
    duration_s = len(haptogram.audio) / haptogram.sample_rate_hz
    wave_t_s = np.arange(len(haptogram.audio)) / haptogram.sample_rate_hz
    axes[0].plot(wave_t_s, haptogram.audio, color="#345", linewidth=0.4)
    axes[0].set_ylabel("waveform")
    axes[0].set_title(
        f"{haptogram.source_name} → {haptogram.rig_name}   (model pack: {haptogram.pack_name})", fontsize=10
    )

    stem_axis = axes[1]
    if haptogram.stem_levels:
        for row, (stem, level) in enumerate(haptogram.stem_levels.items()):
            level_db = 20 * np.log10(np.maximum(level, 1e-6))
            top = max(float(level_db.max()), -60.0)
            scaled = np.clip((level_db - (top - STEM_RANGE_DB)) / STEM_RANGE_DB, 0, 1) * LANE_HEIGHT
            stem_axis.fill_between(haptogram.t_s, row, row + scaled, step="pre", alpha=0.8)
        stem_axis.set_yticks(np.arange(len(haptogram.stem_levels)) + 0.4, list(haptogram.stem_levels))
        stem_axis.set_ylabel("stems (dB)")
    else:
        stem_axis.text(
            0.5, 0.5, "no separator: DSP-only rendering", ha="center", va="center", transform=stem_axis.transAxes
        )
        stem_axis.set_yticks([])

    heat = axes[2]
    image = heat.imshow(
        haptogram.intensities.T,
        aspect="auto",
        origin="lower",
        cmap="magma",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(0, float(haptogram.t_s[-1]) if len(haptogram.t_s) else duration_s, -0.5, n_actuators - 0.5),
    )
    heat.set_yticks(np.arange(n_actuators), haptogram.actuator_labels, fontsize=7)
    heat.set_xlabel("time (s)")
    for onset_s in haptogram.onsets_s:
        for axis in axes:
            axis.axvline(onset_s, color="#0bd", linewidth=0.5, alpha=0.5)
    heat.plot(
        haptogram.onsets_s,
        np.full(len(haptogram.onsets_s), n_actuators - 0.5),
        "v",
        color="#0bd",
        markersize=5,
        clip_on=False,
        label="drum onsets",
    )
    for start_s, end_s, preset in preset_spans(haptogram.t_s, haptogram.presets):
        heat.axvspan(start_s, end_s, color="#fff", alpha=0.12)
        heat.text(start_s, n_actuators - 0.6, f" {preset}", color="white", fontsize=8, va="top")
    heat.legend(loc="upper right", fontsize=7, framealpha=0.6)
    colorbar = figure.colorbar(image, ax=axes, fraction=0.02, pad=0.01)
    colorbar.set_label("intensity")
    heat.set_xlim(0, duration_s)
    out_path = Path(out_path)
    figure.savefig(out_path, dpi=dpi, bbox_inches="tight")
    pyplot.close(figure)
    return out_path
