"""The haptic renderer: routes, presets and the per-actuator output chain, composed from edge.haptics.stages.

Per block of hops (an :class:`~edge.analysis.Analysis`):

1. each route turns its source spectrum (a stem, or on the DSP-only path a band of the mixture standing in for
   it) into a feature — band envelope, onset pulses or pitch-placed energy — on its actuator group;
2. routes are merged per preset (maximum, so overlapping routes never sum past full scale);
3. tags, smoothed with hysteresis, pick the active preset by priority; an alert preset plays its pattern and
   ducks or interrupts the music;
4. per actuator: equalisation to the vibrotactile threshold at its carrier, ERM overdrive/braking kicks, drive
   limits, then a total power cap across the rig.

Stages are built at the first block (they need the hop rate) and are rebuilt only if the analysis rate changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.analysis import Analysis
from edge.haptics.features import (
    HysteresisParams,
    BandFluxOnsets,
    OnsetHeadPulses,
    OnsetParams,
    TagHysteresis,
    band_mask,
    best_pitch_candidate_rows,
    bin_frequencies_hz,
    pitch_candidates,
)
from edge.haptics.patterns import PATTERN_FUNCTIONS
from edge.haptics.spec import ALL_GROUP, MIXTURE_SOURCE, MUSIC_PRESET, RenderParams, RigSpec, RouteSpec
from edge.haptics.stages import (
    ActuatorLimits,
    AttackRelease,
    CompressedAmplitude,
    ErmKick,
    KickedLimits,
    NormalisedEnvelope,
    PeakNormaliser,
    PulseShaper,
    clip01,
    phantom_pan,
    tactile_weights,
    threshold_gains,
)

# On the DSP-only path each stem is stood in for by the band of the mixture where it dominates (Hz): drums by
# the noisy top of the spectrum (hats, snare, the click of the kick), which bass and voices hardly reach.
DSP_PROXY_BANDS_HZ: dict[str, tuple[float, float]] = {
    "drums": (2000.0, 8000.0),
    "bass": (30.0, 250.0),
    "vocals": (250.0, 3000.0),
    "other": (250.0, 8000.0),
}
PITCH_RANGE_HZ = (80.0, 800.0)
ONSET_HEAD_SOURCE = "drums"
"""Onset routes reading this stem pulse on the separator's drum-onset head when it has one (spectral flux is
the fallback: DSP-only hops, separators without the head)."""
KICK_CLASS = "kick"
KICK_BAND_MAX_HZ = 300.0
"""A drum onset route whose band ends at or below this pulses on the kick class; any other on the other classes."""


def onset_columns(route: RouteSpec, onset_classes: tuple[str, ...]) -> list[int]:
    """Columns of the onset head a drum onset route pulses on: the kick for a low band, the others otherwise
    (every column when the head has no kick class)."""
    kick = route.band_hz[1] <= KICK_BAND_MAX_HZ
    chosen = [i for i, name in enumerate(onset_classes) if (name == KICK_CLASS) == kick]
    return chosen or list(range(len(onset_classes)))


@dataclass(frozen=True)
class _Rate:
    sample_rate_hz: int
    n_fft: int
    hop: int
    key: tuple[int, int, int] = field(init=False, repr=False, compare=False)
    """(sample_rate_hz, n_fft, hop), to compare with an analysis's without making a _Rate per hop."""

    @property
    def frame_rate_hz(self) -> float:
        return self.sample_rate_hz / self.hop

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.sample_rate_hz, self.n_fft, self.hop))


class RouteBank:
    """All routes of a rig on one path (with stems, or DSP-only): per route a source spectrum and band in,
    (n_frames, n_route_channels) intensities in [0, 1] out — route i's group occupies the columns
    ``channel_slices[i]``.

    Everything that depends only on the rig is worked out here once: one weight matrix per source gives every
    energy/pitch route's band power in one product, one :class:`BandFluxOnsets` per source gives every onset
    route's spectral flux, and routes share their stateful stages (one multi-channel normaliser, smoother and
    pulse shaper), so a block costs the same few calls however many routes a rig has. ``sources[i]`` names the
    spectrum route i reads: a stem name or "mixture"; ``bands_hz[i]`` its band.
    """

    def __init__(
        self,
        routes: tuple[RouteSpec, ...],
        group_sizes: list[int],
        sources: list[str],
        bands_hz: list[tuple[float, float]],
        rate: _Rate,
        params: RenderParams,
    ) -> None:
        self.routes = routes
        self.group_sizes = group_sizes
        self.sources = sources
        self.rate = rate
        self.params = params
        frame_rate_hz = rate.frame_rate_hz
        n_bins = rate.n_fft // 2 + 1
        freqs_hz = bin_frequencies_hz(rate.n_fft, rate.sample_rate_hz)
        masks = [band_mask(rate.n_fft, rate.sample_rate_hz, *band) for band in bands_hz]
        self.envelope_routes = [i for i, route in enumerate(routes) if route.feature in ("energy", "pitch")]
        self.onset_routes = [i for i, route in enumerate(routes) if route.feature == "onset"]
        self.pitch_routes = [i for i, route in enumerate(routes) if route.feature == "pitch"]
        # Pitch routes: the f0 candidates' harmonic-sum weights, and per route the pan of each candidate's place.
        candidates_hz, self._pitch_weights = pitch_candidates(rate.n_fft, rate.sample_rate_hz, *PITCH_RANGE_HZ)
        low_hz, high_hz = PITCH_RANGE_HZ
        place = np.log2(np.maximum(candidates_hz.astype(np.float32), low_hz) / low_hz) / np.log2(high_hz / low_hz)
        self._pan_rows = {
            i: phantom_pan(place, np.ones(len(place)), group_sizes[i]).tolist() for i in self.pitch_routes
        }
        # Band power of every envelope route: per source, (n_bins, n_envelope_routes) weights = the route's mask
        # (times skin sensitivity for "tactile" routes) / its bin count, so power @ weights is each band's mean.
        power_weights: dict[str, np.ndarray] = {}
        for column, i in enumerate(self.envelope_routes):
            weights = power_weights.setdefault(sources[i], np.zeros((n_bins, len(self.envelope_routes))))
            per_bin = tactile_weights(freqs_hz) if routes[i].weighting == "tactile" else np.ones(n_bins)
            weights[:, column] = np.where(masks[i], per_bin, 0.0) / max(1, int(masks[i].sum()))
        # ... stacked: the sources' spectra side by side, (n_frames, n_sources * n_bins), times one matrix is every
        # route's band power in three numpy calls however many sources (a product per source and their sum: ~9)
        self._power_sources = list(power_weights)
        self._power_weights = np.concatenate(list(power_weights.values())) if power_weights else np.zeros((0, 0))
        # Spectral flux of every onset route: one detector per source, one band per distinct band of that source
        # (on the DSP-only path both drum routes read the same stand-in band: it is detected once).
        self._flux_routes: dict[str, list[int]] = {}
        for i in self.onset_routes:
            self._flux_routes.setdefault(sources[i], []).append(i)
        self.onsets: dict[str, BandFluxOnsets] = {}
        self._flux_band_of_route: dict[str, list[int] | None] = {}
        """Per source, the detector band each of its onset routes reads (None: band j is route j's)."""
        for source, indices in self._flux_routes.items():
            bands = list(dict.fromkeys(bands_hz[i] for i in indices))
            self.onsets[source] = BandFluxOnsets(
                frame_rate_hz, [band_mask(rate.n_fft, rate.sample_rate_hz, *band) for band in bands], OnsetParams()
            )
            band_of_route = [bands.index(bands_hz[i]) for i in indices]
            self._flux_band_of_route[source] = None if len(bands) in (1, len(indices)) else band_of_route
        self._onset_column = {i: self.onset_routes.index(i) for i in self.onset_routes}
        self.head_onsets = {
            i: OnsetHeadPulses(frame_rate_hz) for i in self.onset_routes if sources[i] == ONSET_HEAD_SOURCE
        }
        self._head_columns: dict[tuple[str, ...], dict[int, list[int]]] = {}
        """Per onset-class list: the onset-head columns of each drum onset route (see :func:`onset_columns`)."""
        self.pulses = PulseShaper(len(self.onset_routes), frame_rate_hz, decay_s=params.pulse_decay_s)
        n_envelopes = len(self.envelope_routes)
        self.envelope = NormalisedEnvelope(  # band power -> level: normalised, amplitude, compressed, smoothed
            PeakNormaliser(n_envelopes, frame_rate_hz, decay_s=params.normaliser_decay_s),
            CompressedAmplitude(n_envelopes, params.compression_exponent, params.gate),
            AttackRelease(n_envelopes, frame_rate_hz, params.attack_s, params.release_s),
        )
        # Route levels (n_frames, n_routes) spread onto the route channels: column c reads route route_of_channel[c]
        # with the route's gain; pitch routes' channels are weighted by the phantom-sensation pan.
        self.n_channels = int(sum(group_sizes))
        edges = np.concatenate([[0], np.cumsum(group_sizes)]).astype(int)
        self.channel_slices = [slice(int(edges[i]), int(edges[i + 1])) for i in range(len(routes))]
        self._route_of_channel = np.repeat(np.arange(len(routes)), group_sizes)
        self._channel_gain = np.repeat(np.array([route.gain for route in routes], dtype=np.float64), group_sizes)
        # column of [envelope levels | onset levels] that each route channel reads
        level_order = np.argsort(np.array(self.envelope_routes + self.onset_routes, dtype=int), kind="stable")
        self._level_of_channel = level_order[self._route_of_channel]
        self.reset()

    def reset(self) -> None:
        for detector in self.onsets.values():
            detector.reset()
        for head in self.head_onsets.values():
            head.reset()
        self.pulses.reset()
        self.envelope.reset()
        self._last_pan = {
            i: phantom_pan(np.array([0.5]), np.ones(1), self.group_sizes[i])[0].tolist() for i in self.pitch_routes
        }

    def _pitch_pan(self, index: int, mag: np.ndarray) -> list[list[float]]:
        """Per frame, the (n_group,) phantom-sensation weights of pitch route ``index``: its group's actuators share
        the level by where the source's pitch lies between PITCH_RANGE_HZ (log scale); unvoiced frames keep the last
        voiced placement (carried across blocks)."""
        best, voiced = best_pitch_candidate_rows(mag, self._pitch_weights)
        table, last = self._pan_rows[index], self._last_pan[index]
        pans = []
        for candidate, is_voiced in zip(best, voiced):
            if is_voiced:
                last = table[candidate]
            pans.append(last)
        self._last_pan[index] = last
        return pans

    def _onset_strengths(
        self,
        spectra: dict[str, np.ndarray],
        n_frames: int,
        drum_onsets: np.ndarray | None,
        onset_classes: tuple[str, ...],
    ) -> list[list[float]]:
        """Per frame, the (n_onset_routes,) pulse strengths: the onset head's for routes that read the drums when the
        separator gave onset probabilities, else spectral flux of the route's source band."""
        columns: list[list[float]] = [[]] * len(self.onset_routes)  # per onset route, its strength per frame
        head_probs = drum_onsets if drum_onsets is not None and drum_onsets.shape[1] > 0 else None
        if head_probs is not None and self.head_onsets:
            classes = onset_classes or tuple(map(str, range(head_probs.shape[1])))
            if classes not in self._head_columns:
                self._head_columns[classes] = {i: onset_columns(self.routes[i], classes) for i in self.head_onsets}
            head_rows = head_probs.tolist()
            for i, head in self.head_onsets.items():
                head_columns = self._head_columns[classes][i]
                strongest = [max([row[column] for column in head_columns]) for row in head_rows]
                columns[self._onset_column[i]] = head.process_strongest(strongest)
        for source, indices in self._flux_routes.items():
            if head_probs is not None and source == ONSET_HEAD_SOURCE:
                continue  # these routes pulse on the onset head (their flux detector keeps its state)
            band_strengths = self.onsets[source].process_bands(spectra[source])  # per band, per frame
            band_of_route = self._flux_band_of_route[source]
            for route, i in enumerate(indices):  # one band: every route reads it
                columns[self._onset_column[i]] = band_strengths[
                    0 if len(band_strengths) == 1 else route if band_of_route is None else band_of_route[route]
                ]
        return [list(frame) for frame in zip(*columns)] if columns else [[] for _ in range(n_frames)]

    def levels(
        self,
        spectra: dict[str, np.ndarray],
        n_frames: int,
        drum_onsets: np.ndarray | None = None,
        onset_classes: tuple[str, ...] = (),
    ) -> tuple[list[list[float]], list[list[list[float]]]]:
        """The routes' state advanced by one block, on Python floats: per frame the route levels ([envelope routes |
        onset routes]), and per pitch route (in ``pitch_routes`` order) per frame its group's pan weights.
        :meth:`channels` or :meth:`gathered` turn them into route-channel values."""
        levels: list[list[float]] = [[] for _ in range(n_frames)]
        if not n_frames:
            return levels, [[] for _ in self.pitch_routes]
        if self.envelope_routes:
            sources = self._power_sources
            joined = (
                spectra[sources[0]]
                if len(sources) == 1
                else np.concatenate([spectra[source] for source in sources], axis=1)
            )
            power = np.square(joined, dtype=np.float64) @ self._power_weights
            levels = self.envelope.process_rows(power.tolist())
        if self.onset_routes:
            pulses = self.pulses.process_rows(self._onset_strengths(spectra, n_frames, drum_onsets, onset_classes))
            levels = [envelope + onset for envelope, onset in zip(levels, pulses)]
        return levels, [self._pitch_pan(i, spectra[self.sources[i]]) for i in self.pitch_routes]

    def channels(self, levels: list[list[float]], pans: list[list[list[float]]]) -> np.ndarray:
        """(n_frames, n_channels) route-channel values in [0, 1] from :meth:`levels`: each channel its route's level
        times the route's gain (times the pan weight on a pitch route's channels), clipped."""
        if not self.routes or not levels:
            return np.zeros((len(levels), self.n_channels))
        out = np.array(levels).take(self._level_of_channel, axis=1) * self._channel_gain  # take: no fancy-index setup
        for i, pan in zip(self.pitch_routes, pans):
            out[:, self.channel_slices[i]] *= np.array(pan)
        return clip01(out)

    def gather_plan(self, channels: np.ndarray, scales: np.ndarray) -> list[tuple[int, float, int, int, float]]:
        """For :meth:`gathered`: output k reads route channel ``channels[k]`` times ``scales[k]``."""
        pitch_slot = {}
        for slot, i in enumerate(self.pitch_routes):
            for position, channel in enumerate(range(self.channel_slices[i].start, self.channel_slices[i].stop)):
                pitch_slot[channel] = (slot, position)
        return [
            (int(self._level_of_channel[c]), float(self._channel_gain[c]), *pitch_slot.get(int(c), (-1, 0)), scale)
            for c, scale in zip(channels.tolist(), scales.tolist())
        ]

    def gathered(
        self, levels: list[list[float]], pans: list[list[list[float]]], plan: list[tuple[int, float, int, int, float]]
    ) -> list[list[float]]:
        """``channels(levels, pans).take(channels, axis=1) * scales`` (``plan`` from :meth:`gather_plan`), the same
        doubles on Python floats, per frame: no array is made (on the device's one-hop call that is ~30 k
        instructions fewer than the array path, docs/hot_path.md)."""
        rows = []
        for frame, level_row in enumerate(levels):
            frame_pans = [pan[frame] for pan in pans]
            row = []
            for level, gain, slot, position, scale in plan:
                x = level_row[level] * gain
                if slot >= 0:
                    x *= frame_pans[slot][position]
                row.append((0.0 if x < 0.0 else 1.0 if x > 1.0 else x) * scale)
            rows.append(row)
        return rows

    def process(
        self,
        spectra: dict[str, np.ndarray],
        n_frames: int,
        drum_onsets: np.ndarray | None = None,
        onset_classes: tuple[str, ...] = (),
    ) -> np.ndarray:
        """``spectra``: source name -> (n_frames, n_bins) magnitudes; ``drum_onsets``: (n_frames, n_classes)
        onset-head probabilities (columns named by ``onset_classes``) or None; returns (n_frames, n_channels)."""
        return self.channels(*self.levels(spectra, n_frames, drum_onsets, onset_classes))


def normalise_label(label: str) -> str:
    """Tag names compare case-insensitively with '_' and '-' as spaces: "Baby_cry" == "baby cry"."""
    return " ".join(label.lower().replace("_", " ").replace("-", " ").split())


class PresetSelector:
    """Tags (n_frames, n_labels) -> per frame the index of the active preset and frames since it became active.

    Only the labels some preset listens to are smoothed (each label's hysteresis is its own, so the others do not
    matter), on Python floats (:meth:`TagHysteresis.process_rows`)."""

    def __init__(self, spec: RigSpec, labels: tuple[str, ...], frame_rate_hz: float) -> None:
        self.presets = sorted(spec.presets, key=lambda preset: -preset.priority)
        names = [normalise_label(label) for label in labels]
        self.label_indices = [
            sorted({names.index(normalise_label(tag)) for tag in preset.tags if normalise_label(tag) in names})
            for preset in self.presets
        ]
        used = sorted({index for indices in self.label_indices for index in indices})
        self._used_labels = np.array(used, dtype=np.intp)
        self._used_columns = [[used.index(index) for index in indices] for indices in self.label_indices]
        """Per preset, its labels' columns among the used labels."""
        render = spec.params
        self.hysteresis = TagHysteresis(
            len(used),
            frame_rate_hz,
            HysteresisParams(render.tag_smoothing_s, render.tag_on, render.tag_off, render.tag_min_hold_s),
        )
        self.music_index = next(index for index, preset in enumerate(self.presets) if preset.name == MUSIC_PRESET)
        self.reset()

    def reset(self) -> None:
        self.hysteresis.reset()
        self._previous = self.music_index
        self._frames_active = 0

    def advance_without_tags(self, n_frames: int) -> None:
        """``n_frames`` frames without tags: music, the always-on preset, is active throughout."""
        if n_frames:
            staying = self._previous == self.music_index
            self._frames_active = self._frames_active + n_frames if staying else n_frames - 1
            self._previous = self.music_index

    def process_rows(self, tag_probs: np.ndarray | None, n_frames: int) -> tuple[list[int], list[int]]:
        """Per frame, the active preset (the first, by priority, that is on: music always is, another while one of
        its tags is active) and the frames since it became active."""
        if tag_probs is not None and self.hysteresis.n_labels:
            active_rows = self.hysteresis.process_rows(tag_probs.take(self._used_labels, axis=1).tolist())
        else:
            active_rows = [[] for _ in range(n_frames)]
        music_index, columns = self.music_index, self._used_columns
        chosen, elapsed = [], []
        for active in active_rows:
            index = next(
                index
                for index, preset_columns in enumerate(columns)
                if index == music_index or any(active[column] for column in preset_columns)
            )
            self._frames_active = self._frames_active + 1 if index == self._previous else 0
            self._previous = index
            chosen.append(index)
            elapsed.append(self._frames_active)
        return chosen, elapsed

    def process(self, tag_probs: np.ndarray | None, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`process_rows` as (n_frames,) int64 arrays."""
        chosen, elapsed = self.process_rows(tag_probs, n_frames)
        return np.array(chosen, dtype=np.int64), np.array(elapsed, dtype=np.int64)


class HapticRenderer:
    """The rig's renderer (implements :class:`edge.haptics.base.Renderer`)."""

    def __init__(self, spec: RigSpec, stems: tuple[str, ...], labels: tuple[str, ...]) -> None:
        self.spec = spec
        self.stems = tuple(stems)
        self.labels = tuple(labels)
        self.n_channels = len(spec.actuators)
        actuators = spec.actuators
        self.carrier_gains = threshold_gains(np.array([a.resonance_hz for a in actuators]))
        self.spinup_s = np.array([a.spinup_s if a.kind == "erm" else 0.0 for a in actuators])
        self.min_drive = np.array([a.min_drive for a in actuators])
        self.max_drive = np.array([a.max_drive for a in actuators])
        self.power = np.array([a.power for a in actuators])
        self._groups = {name: np.asarray(members, dtype=int) for name, members in spec.groups.items()}
        self._groups[ALL_GROUP] = np.arange(self.n_channels)
        self._rate: _Rate | None = None
        self.last_presets: list[str] = []
        """The active preset of each frame of the last block (for pictures and telemetry)."""

    def _group(self, name: str) -> np.ndarray:
        """Actuator indices of a group ("all": every actuator)."""
        return self._groups[name]

    def _build(self, rate: _Rate) -> None:
        self._rate = rate
        routes = self.spec.routes
        group_sizes = [len(self._group(route.group)) for route in routes]
        # With a separator: a route reads its stem, or the stem's stand-in band of the mixture if the separator
        # has no such stem. DSP-only: every stem route reads its stand-in band of the mixture.
        with_stems = [route.source in self.stems for route in routes]
        self._stem_bank = RouteBank(
            routes,
            group_sizes,
            [route.source if has_stem else MIXTURE_SOURCE for route, has_stem in zip(routes, with_stems)],
            [route.band_hz if has_stem else self._proxy_band(route) for route, has_stem in zip(routes, with_stems)],
            rate,
            self.spec.params,
        )
        self._dsp_bank = RouteBank(
            routes,
            group_sizes,
            [MIXTURE_SOURCE] * len(routes),
            [self._proxy_band(route) for route in routes],
            rate,
            self.spec.params,
        )
        self._selector = PresetSelector(self.spec, self.labels, rate.frame_rate_hz)
        self._output_chain = KickedLimits(
            ErmKick(self.spinup_s, rate.frame_rate_hz),
            ActuatorLimits(self.min_drive, self.max_drive, self.power, self.spec.params.max_total_power),
        )
        # Per preset with routes (in the selector's order), a (n_route_channels, n_channels) 0/1 matrix: route
        # channel c drives actuator a in that preset. A preset's layer is the maximum over its route channels.
        self._layer_presets = [
            index
            for index, preset in enumerate(self._selector.presets)
            if any(preset.name in route.presets for route in routes)
        ]
        self._layer_of_preset = {index: layer for layer, index in enumerate(self._layer_presets)}
        routing = np.zeros((len(self._layer_presets), self._stem_bank.n_channels, self.n_channels))
        for layer, index in enumerate(self._layer_presets):
            name = self._selector.presets[index].name
            for route, channels in zip(routes, self._stem_bank.channel_slices):
                if name in route.presets:
                    routing[layer, np.arange(channels.start, channels.stop), self._group(route.group)] = 1.0
        self._routing = routing
        self._music_layer = self._layer_of_preset.get(self._selector.music_index)
        # Music (the frames without an alert) as one gather when no actuator is driven by two route channels in it
        # (every bundled rig): actuator a reads route channel _music_channel[a], times 0 where no route drives it.
        self._music_channel: np.ndarray | None = None
        if self._music_layer is not None and (routing[self._music_layer].sum(axis=0) <= 1.0).all():
            self._music_channel = routing[self._music_layer].argmax(axis=0)
            self._music_driven = routing[self._music_layer].max(axis=0)
            music_carrier_gains = self._music_driven * self.carrier_gains
            self._music_plans = {  # by "is the stem bank"
                with_stems: bank.gather_plan(self._music_channel, music_carrier_gains)
                for with_stems, bank in ((True, self._stem_bank), (False, self._dsp_bank))
            }
        self._preset_names = [preset.name for preset in self._selector.presets]

    @staticmethod
    def _proxy_band(route: RouteSpec) -> tuple[float, float]:
        """On the DSP-only path a stem's route reads the mixture band where that stem dominates instead."""
        return DSP_PROXY_BANDS_HZ.get(route.source, route.band_hz)

    def reset(self) -> None:
        self._rate = None

    def _bank(self, analysis: Analysis) -> tuple[RouteBank, dict[str, np.ndarray]]:
        """The route bank of this analysis's path and the spectra its routes read."""
        spectra = {MIXTURE_SOURCE: analysis.mixture_mag}
        if analysis.stem_mag is None:
            return self._dsp_bank, spectra
        spectra.update({stem: analysis.stem_mag.get(stem, analysis.mixture_mag) for stem in self.stems})
        return self._stem_bank, spectra

    def _layers(self, contributions: np.ndarray) -> np.ndarray:
        """Per preset with routes, the merged (maximum) contributions of its routes: (n_frames, n_layers,
        n_channels)."""
        # contributions are >= 0, so the maximum of contribution x 0/1 is the maximum over the routed channels
        return (contributions[:, None, :, None] * self._routing[None]).max(axis=2, initial=0.0)

    def _music(self, contributions: np.ndarray) -> np.ndarray:
        """(n_frames, n_channels) the music preset's layer (what :meth:`_layers` gives for it)."""
        if self._music_layer is None:
            return np.zeros((contributions.shape[0], self.n_channels))
        if self._music_channel is None:
            return self._layers(contributions)[:, self._music_layer]
        return contributions.take(self._music_channel, axis=1) * self._music_driven

    def process(self, analysis: Analysis) -> np.ndarray:
        rate = self._rate
        if rate is None or rate.key != (analysis.sample_rate_hz, analysis.n_fft, analysis.hop):
            rate = _Rate(analysis.sample_rate_hz, analysis.n_fft, analysis.hop)
            self._build(rate)
        n_frames = analysis.n_frames
        bank, spectra = self._bank(analysis)
        levels, pans = bank.levels(spectra, n_frames, analysis.drum_onsets, analysis.onset_classes)
        tagged = analysis.tag_probs is not None and self._selector.hysteresis.n_labels > 0
        music_index = self._selector.music_index
        if tagged:
            chosen_rows, elapsed_rows = self._selector.process_rows(analysis.tag_probs, n_frames)
            self.last_presets = [self._preset_names[index] for index in chosen_rows]
            all_music = all(index == music_index for index in chosen_rows)
        else:  # no tags (or none a preset listens to): music throughout
            self._selector.advance_without_tags(n_frames)
            self.last_presets = [MUSIC_PRESET] * n_frames
            all_music = True
        if self._music_channel is not None and all_music:
            # music throughout, on Python floats: _drive(_music(channels)), the 0/1 of an undriven actuator folded into
            # its carrier gain ((c x 0/1) x g == c x (0/1 x g)); a layer is a maximum of clipped values: in [0, 1]
            plan = self._music_plans[bank is self._stem_bank]
            rows = self._output_chain.process_rows(bank.gathered(levels, pans, plan))
            return np.array(rows, dtype=np.float32).reshape(n_frames, self.n_channels)
        contributions = bank.channels(levels, pans)
        if not tagged:
            return self._drive(self._music(contributions))  # a layer is a maximum of clipped contributions: in [0, 1]
        music = self._music(contributions)
        if all_music:
            out = music
        else:
            chosen, elapsed_frames = np.array(chosen_rows, dtype=np.int64), np.array(elapsed_rows, dtype=np.int64)
            layers = self._layers(contributions)
            silent = np.zeros((n_frames, self.n_channels))
            out = np.zeros((n_frames, self.n_channels))
            elapsed_s = elapsed_frames / rate.frame_rate_hz
            for index, preset in enumerate(self._selector.presets):
                frames = chosen == index
                if not frames.any():
                    continue
                if index == music_index:
                    out[frames] = music[frames]
                    continue
                layer = self._layer_of_preset.get(index)
                own = silent[frames] if layer is None else layers[frames, layer]
                mixed = own + preset.music_gain * music[frames]
                if preset.pattern is not None:
                    group = self._group(preset.group)
                    pattern = PATTERN_FUNCTIONS[preset.pattern](elapsed_s[frames], len(group)) * preset.gain
                    mixed[:, group] = np.maximum(mixed[:, group], pattern)
                out[frames] = mixed
        return self._drive(clip01(out))

    def _drive(self, intensity: np.ndarray) -> np.ndarray:
        """(n_frames, n_channels) intensities in [0, 1] -> the actuators' float32 drive: equalised to the
        vibrotactile threshold at each carrier, ERM kicks, per-actuator limits, the total power cap."""
        return self._output_chain.process(intensity * self.carrier_gains, dtype=np.float32)
