"""The rig renderer end to end on signals with known content: routing, presets and priority, DSP-only path,
limits, and streaming equals offline for any split of an Analysis at frame boundaries."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge.analysis import Analysis
from edge.analysis import analyse_signals, slice_analysis
from edge.haptics.renderer import HapticRenderer
from edge.rig import default_rig, load_rig, parse_rig
from tests.edge.haptics.signals import FRAME_RATE_HZ, HOP, N_FFT, SAMPLE_RATE_HZ, band_limited_song, noise_bursts
from tests.streaming import assert_streaming_equals_offline

STEMS = ("vocals", "drums", "bass", "other")
LABELS = ("speech", "music", "siren", "doorbell", "knock", "baby_cry", "alarm")


class AnalysisBlocks:
    """Adapter for tests/streaming.py: a block of frame indices -> the renderer on that slice of ``analysis``."""

    def __init__(self, renderer: HapticRenderer, analysis: Analysis) -> None:
        self.renderer = renderer
        self.analysis = analysis
        self.position = 0

    def reset(self) -> None:
        self.renderer.reset()
        self.position = 0

    def process(self, block: np.ndarray) -> np.ndarray:
        start = self.position
        self.position += len(block)
        return self.renderer.process(slice_analysis(self.analysis, start, self.position))


def _groups(rig) -> dict[str, np.ndarray]:
    return {name: np.array(members) for name, members in rig.spec.groups.items()}


def _tags(n_frames: int, on: dict[str, tuple[float, float]]) -> np.ndarray:
    probs = np.full((n_frames, len(LABELS)), 0.02)
    t_s = np.arange(1, n_frames + 1) * HOP / SAMPLE_RATE_HZ
    for label, (start_s, end_s) in on.items():
        probs[(t_s >= start_s) & (t_s < end_s), LABELS.index(label)] = 0.95
    return probs


@pytest.fixture(scope="module")
def song():
    return band_limited_song(4.0)


def test_output_contract(song) -> None:
    mixture, stems, _ = song
    rig = default_rig()
    out = rig.make_renderer(STEMS, ()).process(analyse_signals(mixture, SAMPLE_RATE_HZ, N_FFT, HOP, stems=stems))
    assert out.dtype == np.float32 and out.shape == (len(mixture) // HOP, rig.n_actuators)
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("path", ["oracle", "dsp-only", "tags"])
def test_renderer_streams_like_offline(song, path: str) -> None:
    mixture, stems, _ = song
    n_frames = len(mixture) // HOP
    tag_probs = _tags(n_frames, {"doorbell": (1.0, 1.8), "speech": (2.5, 3.5)}) if path == "tags" else None
    analysis = analyse_signals(
        mixture,
        SAMPLE_RATE_HZ,
        N_FFT,
        HOP,
        stems=None if path == "dsp-only" else stems,
        tag_probs=tag_probs,
        labels=LABELS if path == "tags" else (),
    )
    renderer = default_rig().make_renderer(() if path == "dsp-only" else STEMS, analysis.labels)
    result = assert_streaming_equals_offline(
        lambda: AnalysisBlocks(renderer, analysis), np.arange(n_frames), max_block=70
    )
    assert result.max() > 0.5


def test_each_stem_drives_its_own_group(song) -> None:
    mixture, stems, onsets_s = song
    rig = default_rig()
    groups = _groups(rig)
    out = rig.make_renderer(STEMS, ()).process(analyse_signals(mixture, SAMPLE_RATE_HZ, N_FFT, HOP, stems=stems))
    t_s = np.arange(1, out.shape[0] + 1) * HOP / SAMPLE_RATE_HZ
    # Drum pulses: one rise per hit on the drum actuators, within 20 ms.
    drums = out[:, groups["drums"]].mean(axis=1)
    rises = t_s[1:][np.diff(drums) > 0.2]
    pulse_starts = rises[np.concatenate([[True], np.diff(rises) > 0.05])]
    assert len(pulse_starts) == len(onsets_s)
    assert np.all((pulse_starts - onsets_s >= 0) & (pulse_starts - onsets_s <= 0.02))
    # Voice group is quiet before the vocals enter at 2 s and busy after.
    voice = out[:, groups["voice"]].max(axis=1)
    assert voice[(t_s > 0.5) & (t_s < 1.9)].max() == 0 and voice[(t_s > 2.2)].min() > 0.2
    assert out[t_s > 0.5][:, groups["bass"]].min() > 0.2


def test_bass_alone_leaves_the_drum_actuators_still() -> None:
    _, stems, _ = band_limited_song(3.0)
    silent = np.zeros_like(stems["bass"])
    only_bass = {"drums": silent, "bass": stems["bass"], "vocals": silent, "other": silent}
    rig = default_rig()
    out = rig.make_renderer(STEMS, ()).process(
        analyse_signals(stems["bass"], SAMPLE_RATE_HZ, N_FFT, HOP, stems=only_bass)
    )
    groups = _groups(rig)
    assert out[:, groups["drums"]].max() == 0.0 and out[20:, groups["bass"]].min() > 0.2


def test_dsp_only_path_when_there_is_no_separator(song) -> None:
    mixture, _, onsets_s = song
    rig = default_rig()
    out = rig.make_renderer((), ()).process(analyse_signals(mixture, SAMPLE_RATE_HZ, N_FFT, HOP))
    groups = _groups(rig)
    drums = out[:, groups["drums"]].mean(axis=1)
    t_s = np.arange(1, out.shape[0] + 1) * HOP / SAMPLE_RATE_HZ
    rises = t_s[1:][np.diff(drums) > 0.2]
    rises = rises[rises > 0.1]  # every tone starts at t = 0 with a click, which is a fair onset too
    assert len(rises[np.concatenate([[True], np.diff(rises) > 0.05])]) == len(onsets_s)
    assert out[t_s > 0.5][:, groups["bass"]].min() > 0.2


def _render_with_tags(on: dict[str, tuple[float, float]], duration_s: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    mixture, stems, _ = band_limited_song(duration_s)
    n_frames = len(mixture) // HOP
    analysis = analyse_signals(
        mixture, SAMPLE_RATE_HZ, N_FFT, HOP, stems=stems, tag_probs=_tags(n_frames, on), labels=LABELS
    )
    out = default_rig().make_renderer(STEMS, LABELS).process(analysis)
    return out, np.arange(1, n_frames + 1) * HOP / SAMPLE_RATE_HZ


def _selected_presets(on: dict[str, tuple[float, float]], n_frames: int) -> list[str]:
    renderer = default_rig().make_renderer(STEMS, LABELS)
    mixture, stems, _ = band_limited_song(n_frames * HOP / SAMPLE_RATE_HZ)
    renderer.process(analyse_signals(mixture, SAMPLE_RATE_HZ, N_FFT, HOP, stems=stems))  # builds the stages
    renderer.reset()
    renderer.process(analyse_signals(mixture, SAMPLE_RATE_HZ, N_FFT, HOP, stems=stems))
    chosen, _ = renderer._selector.process(_tags(n_frames, on), n_frames)
    return [renderer._selector.presets[index].name for index in chosen]


def test_preset_priority_siren_over_doorbell_over_speech() -> None:
    n_frames = int(4.0 * FRAME_RATE_HZ)
    names = _selected_presets({"speech": (0.5, 3.5), "doorbell": (1.0, 3.0), "siren": (1.5, 2.0)}, n_frames)
    t_s = np.arange(1, n_frames + 1) * HOP / SAMPLE_RATE_HZ

    def at(time_s: float) -> str:
        return names[int(np.searchsorted(t_s, time_s))]

    assert at(0.3) == "music"
    assert at(0.8) == "speech"
    assert at(1.3) == "doorbell"
    assert at(1.8) == "siren"
    assert at(2.8) == "doorbell"  # the siren tag has gone (after its minimum hold)
    assert at(3.4) == "speech"
    assert at(3.95) == "music"


def test_alert_interrupts_music_with_its_pattern() -> None:
    out, t_s = _render_with_tags({"doorbell": (1.0, 3.0)})
    during = (t_s > 1.3) & (t_s < 2.8)
    rig = default_rig()
    groups = _groups(rig)
    # Music is interrupted: the bass actuators follow the doorbell pattern (ding on the first half of the rig,
    # dong on the second), not the steady bass.
    bass = out[during][:, groups["bass"]].max(axis=1)
    assert bass.min() == 0.0 and bass.max() > 0.5
    # The pattern repeats with the doorbell period.
    from edge.haptics.patterns import DOORBELL_PERIOD_S

    period_frames = int(round(DOORBELL_PERIOD_S * FRAME_RATE_HZ))
    first = np.flatnonzero(during)[0]
    np.testing.assert_allclose(
        out[first : first + 20], out[first + period_frames : first + period_frames + 20], atol=0.05
    )
    # Before and after, music as usual.
    assert out[(t_s > 0.5) & (t_s < 0.9)][:, groups["bass"]].min() > 0.2


def test_speech_ducks_music_and_plays_the_voice_band() -> None:
    plain, t_s = _render_with_tags({})
    speech, _ = _render_with_tags({"speech": (0.5, 4.0)})
    groups = _groups(default_rig())
    window = (t_s > 1.0) & (t_s < 1.9)
    assert speech[window][:, groups["bass"]].mean() < 0.6 * plain[window][:, groups["bass"]].mean()
    assert speech[window][:, groups["chest"]].mean() > plain[window][:, groups["chest"]].mean()


def _render_spec(spec, duration_s: float = 3.0) -> np.ndarray:
    mixture, stems, _ = band_limited_song(duration_s)
    return HapticRenderer(spec, STEMS, ()).process(analyse_signals(mixture, SAMPLE_RATE_HZ, N_FFT, HOP, stems=stems))


def test_actuator_limits_hold() -> None:
    rig = default_rig()
    limited = dataclasses.replace(
        rig.spec, actuators=tuple(dataclasses.replace(a, min_drive=0.25, max_drive=0.6) for a in rig.spec.actuators)
    )
    out = _render_spec(limited)
    assert out.max() <= 0.6 + 1e-6 and out.max() > 0.55
    assert out[out > 0].min() >= 0.25 - 1e-6  # a running motor never sits in its start-up dead zone


def test_total_power_cap_holds() -> None:
    rig = default_rig()
    uncapped = _render_spec(rig.spec)
    capped = _render_spec(
        dataclasses.replace(rig.spec, params=dataclasses.replace(rig.spec.params, max_total_power=2.0))
    )
    assert uncapped.sum(axis=1).max() > 3.0
    assert capped.sum(axis=1).max() <= 2.0 + 1e-5


def test_every_bundled_rig_renders() -> None:
    from edge.rig import RIGS_DIR

    mixture, stems, _ = band_limited_song(2.0)
    analysis = analyse_signals(mixture, SAMPLE_RATE_HZ, N_FFT, HOP, stems=stems)
    for path in sorted(RIGS_DIR.glob("*.toml")):
        rig = load_rig(path)
        out = rig.make_renderer(STEMS, ()).process(analysis)
        assert out.shape == (analysis.n_frames, rig.n_actuators) and out.max() > 0.2, path.name


def test_renderer_from_a_rig_without_routes_is_silent_but_valid() -> None:
    spec = parse_rig('[[outputs]]\nid = "s"\nurl = "sim://"\n[[actuators]]\nid = "a"\n', "mini.toml")
    out = HapticRenderer(spec, (), ()).process(analyse_signals(noise_bursts([0.1], 0.5), SAMPLE_RATE_HZ, N_FFT, HOP))
    assert out.shape == (int(0.5 * SAMPLE_RATE_HZ) // HOP, 1) and out.max() == 0.0


def test_drum_pulses_follow_the_onset_head_kick_on_the_kick_group() -> None:
    """With onset-head probabilities the drum onset routes pulse where the head rises (kick class on the low
    route's group, the other classes on the other), whatever the drum spectrum does; without them, flux."""
    rig = default_rig()
    n_frames = 250
    silence = np.zeros(n_frames * HOP, np.float32)
    plain = analyse_signals(
        silence, SAMPLE_RATE_HZ, N_FFT, HOP, stems={s: silence for s in ("vocals", "drums", "bass", "other")}
    )
    onsets = np.full((n_frames, 3), 0.02, np.float32)
    onsets[60:62, 0] = 0.95  # a kick at frame 60
    onsets[150:152, 1] = 0.9  # a snare at frame 150
    with_head = dataclasses.replace(plain, drum_onsets=onsets, onset_classes=("kick", "snare", "hat"))
    renderer = rig.make_renderer(("vocals", "drums", "bass", "other"), ())
    out = renderer.process(with_head)
    drum_routes = [r for r in rig.spec.routes if r.source == "drums" and r.feature == "onset"]
    kick_group = next(r.group for r in drum_routes if r.band_hz[1] <= 300)
    other_group = next(r.group for r in drum_routes if r.band_hz[1] > 300)
    index = {name: np.asarray(members) for name, members in rig.spec.groups.items()}
    kick = out[:, index[kick_group]].max(axis=1)
    other = out[:, index[other_group]].max(axis=1)
    assert np.argmax(kick > 0.05) == 60 and kick[140:160].max() < 0.05
    assert np.argmax(other > 0.05) == 150 and other[50:70].max() < 0.05
    renderer.reset()
    assert renderer.process(plain).max() == 0.0  # silence without the head: flux finds nothing


@pytest.mark.parametrize("path", ["oracle", "dsp-only"])
def test_music_gather_equals_the_routed_maximum(song, path: str) -> None:
    """The music layer read as one gather (no actuator driven by two route channels: every bundled rig) gives exactly
    what the general merge (the maximum over each actuator's routed channels) gives."""
    mixture, stems, _ = song
    analysis = analyse_signals(mixture, SAMPLE_RATE_HZ, N_FFT, HOP, stems=None if path == "dsp-only" else stems)
    gathered, merged = (default_rig().make_renderer(() if path == "dsp-only" else STEMS, ()) for _ in range(2))
    first = slice_analysis(analysis, 0, 1)
    np.testing.assert_array_equal(gathered.process(first), merged.process(first))  # both built at the first block
    assert gathered._music_channel is not None
    merged._music_channel = None  # the general merge from here on
    rest = slice_analysis(analysis, 1, analysis.n_frames)
    out = gathered.process(rest)
    assert out.max() > 0.5
    np.testing.assert_array_equal(out, merged.process(rest))
