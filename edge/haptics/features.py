"""Features the haptic renderer reads from magnitude spectra, one hop per frame.

Stateless helpers work frame by frame; the stateful ones (``SpectralFluxOnsets``, ``TagHysteresis``) have
``reset()``/``process()`` and give the same output for any split of the frames into blocks (``edge.stream``).
All spectra are (n_frames, n_bins) magnitudes with n_bins = n_fft // 2 + 1.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

FLOOR_POWER = 1e-10  # power below this is treated as silence (keeps logs finite)


def bin_frequencies_hz(n_fft: int, sample_rate_hz: int) -> np.ndarray:
    """(n_fft // 2 + 1,) centre frequency of each STFT bin in Hz."""
    return np.arange(n_fft // 2 + 1, dtype=np.float64) * sample_rate_hz / n_fft


def band_mask(n_fft: int, sample_rate_hz: int, low_hz: float, high_hz: float) -> np.ndarray:
    """(n_bins,) bool, True for bins with low_hz <= f < high_hz."""
    freqs_hz = bin_frequencies_hz(n_fft, sample_rate_hz)
    return (freqs_hz >= low_hz) & (freqs_hz < high_hz)


def band_energy(mag: np.ndarray, mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(n_frames,) mean power of ``mag`` (n_frames, n_bins) in the bins of ``mask``, optionally weighted per bin."""
    power = mag[:, mask].astype(np.float64) ** 2
    if weights is not None:
        power = power * weights[mask]
    return power.mean(axis=1) if power.shape[1] else np.zeros(mag.shape[0])


def band_energies(mag: np.ndarray, n_fft: int, sample_rate_hz: int, bands_hz: list[tuple[float, float]]) -> np.ndarray:
    """(n_frames, n_bands) mean power per band for ``bands_hz`` = [(low_hz, high_hz), …]."""
    return (
        np.stack([band_energy(mag, band_mask(n_fft, sample_rate_hz, low, high)) for low, high in bands_hz], axis=1)
        if bands_hz
        else np.zeros((mag.shape[0], 0))
    )


def energy_to_db(power: np.ndarray) -> np.ndarray:
    """Power to dB, floored at ``FLOOR_POWER``."""
    return 10.0 * np.log10(np.maximum(power, FLOOR_POWER))


@dataclass(frozen=True)
class OnsetParams:
    """Spectral-flux onset detection (SuperFlux-style: lagged difference against a frequency-max-filtered
    reference, which tolerates slow attacks and suppresses pitch sweeps and vibrato).

    ``compression``: flux is taken on log(1 + compression * mag), which makes it nearly level-independent.
    ``lag_frames``: the frame compared against is this many frames back.
    ``max_filter_bins``: the reference frame is max-filtered over +- this many bins.
    ``window_s``: length of the causal history the adaptive threshold looks at.
    ``ratio``/``offset``: an onset needs flux > ratio * median(history) + offset (offset in flux units per bin).
    ``min_interval_s``: refractory time after an onset.
    ``min_rise_db``: the band's power must also have risen by this much over the lag (a decaying sound whose
    partials shift between bins has flux but no rise).
    ``max_below_peak_db``/``peak_decay_s``: the band's power must be within this many dB of its recent peak
    (a peak tracker decaying with ``peak_decay_s``), so the rustle in a cymbal's low band is not a kick.
    """

    compression: float = 10.0
    lag_frames: int = 1
    max_filter_bins: int = 1
    window_s: float = 0.25
    ratio: float = 1.5
    offset: float = 0.1
    min_interval_s: float = 0.05
    min_rise_db: float = 3.0
    max_below_peak_db: float = 35.0
    peak_decay_s: float = 2.0


class BandFluxOnsets:
    """Causal onsets by half-wave rectified spectral flux with an adaptive threshold, in several bands of one
    spectrum at once (a rig's onset routes on one source cost one pass, not one pass per route).

    ``masks``: one (n_bins,) bool mask per band (None: every bin). ``process(mag)`` takes (n_frames, n_bins)
    magnitudes (any block size) and returns (n_frames, n_bands) float32 onset strengths: 0 where there is no onset,
    else the flux excess over the threshold (> 0). Each band behaves exactly as if detected alone: the max filter
    of the reference stays inside the band. The decision for a frame uses only that frame and earlier ones, so
    detection delay is one hop at most beyond the STFT window.

    Cost (docs/hot_path.md): the spectra are a few numpy calls per block over all bands; what follows per band
    and frame (peak tracker, threshold, running median, refractory time) is a handful of Python floats, cheaper
    than a numpy call each on the device's one-hop blocks. When every band is a run of at least two bins and the
    bands do not overlap (every rig's bands), the max filter is two shifted maxima instead of a gather.
    """

    def __init__(
        self,
        frame_rate_hz: float,
        masks: list[np.ndarray | None],
        params: OnsetParams = OnsetParams(),
        n_bins: int | None = None,
    ) -> None:
        self.params = params
        self.n_bands = len(masks)
        self.n_history = max(1, int(round(params.window_s * frame_rate_hz)))
        self.n_refractory = max(1, int(round(params.min_interval_s * frame_rate_hz)))
        self.peak_decay = float(np.exp(-1.0 / (params.peak_decay_s * frame_rate_hz)))
        self.rise_factor = 10.0 ** (params.min_rise_db / 10.0)
        self.loud_factor = 10.0 ** (-params.max_below_peak_db / 10.0)
        sizes = [mask.shape[0] for mask in masks if mask is not None]
        n_all = n_bins or (sizes[0] if sizes else 0)
        bins = [np.flatnonzero(mask) if mask is not None else np.arange(n_all) for mask in masks]
        used = np.concatenate(bins) if bins else np.zeros(0, dtype=np.int64)
        low = int(used.min()) if used.size else 0
        high = int(used.max()) + 1 if used.size else 0
        self.bins = slice(low, high)
        """The bins any band reads (the state keeps only these)."""
        runs = params.max_filter_bins == 1 and all(
            len(indices) >= 2 and indices[-1] - indices[0] == len(indices) - 1 for indices in bins
        )
        self._runs = runs and len(np.unique(used)) == len(used)
        """Every band a run of >= 2 bins, no two overlapping: the reference is max-filtered over the used bins in
        place (two shifted maxima, the band edges fixed after), and the flux reads them without a gather."""
        offsets = np.arange(-params.max_filter_bins, params.max_filter_bins + 1)
        windows, selected, band_of = [], [], []
        power_weights = np.zeros((high - low, self.n_bands))
        for band, indices in enumerate(bins):
            local = indices - low
            positions = np.clip(np.arange(len(local))[:, None] + offsets[None, :], 0, max(len(local) - 1, 0))
            windows.append(local[positions] if len(local) else np.zeros((0, len(offsets)), dtype=np.int64))
            selected.append(local)
            band_of.append(np.full(len(local), band))
            power_weights[local, band] = 1.0
        self._window = np.concatenate(windows).astype(np.intp)  # (n_selected, 2 m + 1): each bin's in-band window
        self._selected = np.concatenate(selected).astype(np.intp)  # (n_selected,)
        if self._runs:  # the flux reads the used bins in place: bins between bands weigh 0
            self._band_starts = np.array([indices[0] - low for indices in bins], dtype=np.intp)
            self._band_ends = np.array([indices[-1] - low for indices in bins], dtype=np.intp)
            flux_weights = np.zeros((high - low, self.n_bands))
            for band, indices in enumerate(bins):
                flux_weights[indices - low, band] = 1.0 / len(indices)
        else:
            flux_weights = np.zeros((len(self._selected), self.n_bands))
            for band, indices in enumerate(bins):
                flux_weights[np.concatenate(band_of) == band, band] = 1.0 / max(1, len(indices))
        self._flux_weights = flux_weights  # (n_reference_bins, n_bands): the mean over each band's bins
        self._one_run = self._runs and self.n_bands == 1 and high - low >= 3 and params.lag_frames == 1
        """One band of >= 3 bins (the DSP-only path's drum band): the one-hop call takes the fast path of
        :meth:`_spectral_one_run`."""
        self._flux_column = np.ascontiguousarray(flux_weights[:, 0]) if self._one_run else flux_weights[:, :0]
        self._power_weights = power_weights  # (n_used_bins, n_bands): the sum over each band's bins
        self.reset()

    def reset(self) -> None:
        # the last lag_frames frames' max-filtered log magnitude and band power (silence before the start)
        n_reference = self._flux_weights.shape[0]
        self._previous_reference = np.zeros((self.params.lag_frames, n_reference))
        self._previous_power = [[0.0] * self.n_bands for _ in range(self.params.lag_frames)]
        # per band: the last n_history flux values (oldest first) and the same values sorted, for the median
        self._history = [deque([0.0] * self.n_history) for _ in range(self.n_bands)]
        self._sorted_history = [[0.0] * self.n_history for _ in range(self.n_bands)]
        self._frames_since_onset = [1 << 30] * self.n_bands
        self._peak_power = [0.0] * self.n_bands

    def _reference(self, log_mag: np.ndarray) -> np.ndarray:
        """(n_frames, n_reference_bins) log magnitude max-filtered within each band."""
        if not self._runs:
            return log_mag[:, self._window].max(axis=2)
        pairs = np.maximum(log_mag[:, :-1], log_mag[:, 1:])  # max of bins i and i + 1
        reference = np.empty_like(log_mag)
        np.maximum(pairs[:, :-1], pairs[:, 1:], out=reference[:, 1:-1])  # max of bins i - 1, i, i + 1
        reference[:, self._band_starts] = pairs[:, self._band_starts]  # a band's first bin: itself and the next
        reference[:, self._band_ends] = pairs[:, self._band_ends - 1]  # its last bin: the one before and itself
        return reference

    def _spectral_one_run(self, mag: np.ndarray) -> tuple[list[list[float]], list[list[float]]]:
        """:meth:`_spectral` of one frame and one band, in fewer and cheaper numpy calls and to the same bits: the
        reference's edges in one slice assignment, band power and flux as dot products (a (1, n) @ (n, 1) product is
        the same BLAS dot, and a square times 1.0 is the square)."""
        current = mag[:, self.bins].astype(np.float64)
        log_mag = np.log1p(self.params.compression * current)
        pairs = np.maximum(log_mag[:, :-1], log_mag[:, 1:])
        reference = np.empty_like(log_mag)
        np.maximum(pairs[:, :-1], pairs[:, 1:], out=reference[:, 1:-1])
        n_used = reference.shape[1]
        reference[:, :: n_used - 1] = pairs[:, :: n_used - 2]  # the first and last bins: the pairs at the band's ends
        rise = log_mag - self._previous_reference
        self._previous_reference = reference
        np.maximum(rise, 0.0, out=rise)
        return [[float(np.dot(rise[0], self._flux_column))]], [[float(np.dot(current[0], current[0]))]]

    def _spectral(self, mag: np.ndarray) -> tuple[list[list[float]], list[list[float]]]:
        """Per frame, each band's flux (mean positive log-magnitude increase per bin) and power, as Python floats;
        advances the reference."""
        n_frames = mag.shape[0]
        if n_frames == 1 and self._one_run:
            return self._spectral_one_run(mag)
        lag = self.params.lag_frames
        current = mag[:, self.bins].astype(np.float64)
        log_mag = np.log1p(self.params.compression * current)
        power = np.square(current) @ self._power_weights
        # each frame is compared with the frame lag_frames earlier, max-filtered within the band
        reference = self._reference(log_mag)
        if n_frames == 1 and lag == 1:  # the device's one-hop call
            previous = self._previous_reference
            self._previous_reference = reference
        else:
            references = np.concatenate([self._previous_reference, reference])
            previous = references[:n_frames]
            self._previous_reference = references[-lag:]
        rise = log_mag - previous if self._runs else log_mag[:, self._selected] - previous
        flux = np.maximum(rise, 0.0) @ self._flux_weights
        return flux.tolist(), power.tolist()

    def process(self, mag: np.ndarray) -> np.ndarray:
        n_frames = mag.shape[0]
        return np.array(self.process_bands(mag), dtype=np.float32).reshape(self.n_bands, n_frames).T.copy()

    def process_bands(self, mag: np.ndarray) -> list[list[float]]:
        """:meth:`process` as Python floats, per band then per frame (each a float32 value, as ``process`` gives)."""
        n_frames = mag.shape[0]
        strengths = [[0.0] * n_frames for _ in range(self.n_bands)]
        if n_frames == 0 or self.n_bands == 0:
            return strengths
        fluxes, powers = self._spectral(mag)
        params, middle = self.params, self.n_history // 2
        ratio, offset, decay = params.ratio, params.offset, self.peak_decay
        rise_factor, loud_factor, n_refractory = self.rise_factor, self.loud_factor, self.n_refractory
        lag = params.lag_frames
        earlier_powers = self._previous_power + powers  # frame i compares with earlier_powers[i] (lag frames back)
        peaks, since = self._peak_power, self._frames_since_onset
        for band in range(self.n_bands):
            history, ordered = self._history[band], self._sorted_history[band]
            peak, frames_since = peaks[band], since[band]
            for frame in range(n_frames):
                power = powers[frame][band]
                decayed = peak * decay
                peak = power if power >= decayed else decayed  # np.maximum(power, peak * decay)
                # flux counts where the band's power rose by min_rise_db over the lag and is near its recent peak
                flux = (
                    fluxes[frame][band]
                    if power >= earlier_powers[frame][band] * rise_factor and power >= peak * loud_factor
                    else 0.0
                )
                # the upper median of the previous n_history flux values (a median, so one loud hit does not
                # raise the threshold for the soft hits right after it)
                excess = flux - (ratio * ordered[middle] + offset)
                if excess > 0.0 and frames_since >= n_refractory:
                    strengths[band][frame] = float(np.float32(excess))  # rounded as the float32 strengths
                    frames_since = 0
                frames_since += 1
                del ordered[bisect_left(ordered, history.popleft())]
                insort(ordered, flux)
                history.append(flux)
            peaks[band], since[band] = peak, frames_since
        self._previous_power = earlier_powers[-lag:]
        return strengths


class SpectralFluxOnsets:
    """:class:`BandFluxOnsets` on one band: ``process(mag)`` -> (n_frames,) float32 onset strengths."""

    def __init__(
        self, frame_rate_hz: float, mask: np.ndarray | None = None, params: OnsetParams = OnsetParams()
    ) -> None:
        self.params = params
        self._mask = mask
        self._frame_rate_hz = frame_rate_hz
        self._bands: BandFluxOnsets | None = None if mask is None else BandFluxOnsets(frame_rate_hz, [mask], params)

    def reset(self) -> None:
        if self._bands is not None:
            self._bands.reset()

    def process(self, mag: np.ndarray) -> np.ndarray:
        if self._bands is None:  # every bin: the size is known at the first block
            self._bands = BandFluxOnsets(self._frame_rate_hz, [np.ones(mag.shape[1], dtype=bool)], self.params)
        return self._bands.process(mag)[:, 0]


PITCH_STEP_HZ = 5.0


@lru_cache(maxsize=16)
def _harmonic_sum_matrix(
    n_fft: int, sample_rate_hz: int, min_hz: float, max_hz: float, n_harmonics: int
) -> tuple[np.ndarray, np.ndarray]:
    """(candidates_hz (n_candidates,), weights (n_used_bins, n_candidates)): mag[:, :n_used_bins] @ weights sums,
    for each candidate f0, the magnitude linearly interpolated at f0, 2 f0, … weighted 1/harmonic (bins above the
    highest harmonic are left out)."""
    n_bins = n_fft // 2 + 1
    bin_hz = sample_rate_hz / n_fft
    candidates_hz = np.arange(min_hz, max_hz, PITCH_STEP_HZ)
    weights = np.zeros((n_bins, candidates_hz.shape[0]))
    columns = np.arange(candidates_hz.shape[0])
    for harmonic in range(1, n_harmonics + 1):
        positions = candidates_hz * harmonic / bin_hz
        valid = positions < n_bins - 1
        lower = np.floor(positions[valid]).astype(int)
        fraction = positions[valid] - lower
        np.add.at(weights, (lower, columns[valid]), (1.0 - fraction) / harmonic)
        np.add.at(weights, (lower + 1, columns[valid]), fraction / harmonic)
    used = np.flatnonzero(weights.any(axis=1))
    return candidates_hz, weights[: int(used[-1]) + 1 if used.size else 0]  # no rows above the top harmonic


def vocal_pitch_hz(
    mag: np.ndarray, n_fft: int, sample_rate_hz: int, min_hz: float = 80.0, max_hz: float = 800.0, n_harmonics: int = 4
) -> np.ndarray:
    """(n_frames,) fundamental estimate by harmonic sum over the magnitude spectrum; 0 where nothing is voiced.

    A candidate f0 scores the summed magnitude at f0, 2 f0, … (n_harmonics, weighted 1/harmonic); the best
    candidate on a 5 Hz grid wins. Frames whose best score is under a tenth of their total magnitude count as
    unvoiced.
    """
    candidates_hz, weights = pitch_candidates(n_fft, sample_rate_hz, min_hz, max_hz, n_harmonics)
    if mag.shape[0] == 0 or candidates_hz.shape[0] == 0:
        return np.zeros(mag.shape[0], dtype=np.float32)
    best, voiced = best_pitch_candidate(mag, weights)
    return np.where(voiced, candidates_hz[best], 0.0).astype(np.float32)


def pitch_candidates(
    n_fft: int, sample_rate_hz: int, min_hz: float = 80.0, max_hz: float = 800.0, n_harmonics: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """(candidates_hz (n_candidates,), weights (n_bins, n_candidates)) of :func:`vocal_pitch_hz` (cached)."""
    return _harmonic_sum_matrix(n_fft, sample_rate_hz, float(min_hz), float(max_hz), n_harmonics)


_NUMPY_2 = int(np.__version__.split(".")[0]) >= 2
"""NEP 50 (numpy >= 2): a float32 scalar and a Python float give a float32, as a float32 array and a Python float do."""


def best_pitch_candidate_rows(mag: np.ndarray, weights: np.ndarray) -> tuple[list[int], list[bool]]:
    """:func:`best_pitch_candidate` as Python lists; one frame on numpy scalars (same types, same values), which on
    the device's one-hop call is ~20 k instructions fewer than the (1, n) array operations."""
    if mag.shape[0] != 1 or not _NUMPY_2:
        candidates, voiced = best_pitch_candidate(mag, weights)
        return candidates.tolist(), voiced.tolist()
    scores = (mag[:, : weights.shape[0]] @ weights)[0]
    best = int(scores.argmax())
    return [best], [bool(scores[best] > 0.1 * (np.add.reduce(mag[0]) + FLOOR_POWER))]


def best_pitch_candidate(mag: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_frames,) index of the best-scoring f0 candidate of each frame and (n_frames,) whether it is voiced (its
    score is at least a tenth of the frame's total magnitude); ``weights`` from :func:`pitch_candidates`."""
    scores = mag[:, : weights.shape[0]] @ weights
    # the ufuncs' reductions called directly (ndarray.max/sum add a Python wrapper, a few k instructions per hop)
    total = np.add.reduce(mag, axis=1)
    return scores.argmax(axis=1), np.maximum.reduce(scores, axis=1) > 0.1 * (total + FLOOR_POWER)


@dataclass(frozen=True)
class HysteresisParams:
    """Tag smoothing: an exponential average with time constant ``smoothing_s``; a tag turns on above
    ``on_threshold`` and off only below ``off_threshold`` after having been on for at least ``min_hold_s``."""

    smoothing_s: float = 0.15
    on_threshold: float = 0.5
    off_threshold: float = 0.3
    min_hold_s: float = 0.5


class TagHysteresis:
    """(n_frames, n_labels) probabilities -> (n_frames, n_labels) bool active flags that do not flicker."""

    def __init__(self, n_labels: int, frame_rate_hz: float, params: HysteresisParams = HysteresisParams()) -> None:
        if params.off_threshold > params.on_threshold:
            raise ValueError("off_threshold must not exceed on_threshold")
        self.n_labels = n_labels
        self.params = params
        self.alpha = 1.0 - float(np.exp(-1.0 / (params.smoothing_s * frame_rate_hz))) if params.smoothing_s > 0 else 1.0
        self.n_hold = int(round(params.min_hold_s * frame_rate_hz))
        self.reset()

    def reset(self) -> None:
        self._smoothed = [0.0] * self.n_labels
        self._active = [False] * self.n_labels
        self._frames_on = [0] * self.n_labels

    def process(self, probs: np.ndarray) -> np.ndarray:
        rows = self.process_rows(np.asarray(probs).tolist())
        return np.array(rows, dtype=bool).reshape(len(rows), self.n_labels)

    def process_rows(self, probs: list[list[float]]) -> list[list[bool]]:
        """:meth:`process` on Python floats, one list per frame: the renderer feeds only the labels its presets
        listen to (a handful), where a few float operations each cost less than a numpy call per frame."""
        alpha, on, off, n_hold = self.alpha, self.params.on_threshold, self.params.off_threshold, self.n_hold
        rows = []
        for frame in probs:
            smoothed, active, frames_on = [], [], []
            for probability, level, was_active, n_on in zip(frame, self._smoothed, self._active, self._frames_on):
                level += alpha * (probability - level)
                if not was_active:
                    is_active = level > on  # turns on above on_threshold
                else:  # turns off below off_threshold, once on for min_hold_s
                    is_active = not (level < off and n_on >= n_hold)
                smoothed.append(level)
                active.append(is_active)
                frames_on.append(n_on + 1 if is_active else 0)
            self._smoothed, self._active, self._frames_on = smoothed, active, frames_on
            rows.append(active)
        return rows


@dataclass(frozen=True)
class OnsetHeadParams:
    """Drum pulses from a model's frame-level onset probabilities (the separator's drum-onset head).

    ``threshold``: a pulse fires on the frame where the probability rises through this value.
    ``min_interval_s``: refractory time after a pulse (a flam or a roll faster than this is one pulse).
    """

    threshold: float = 0.5
    min_interval_s: float = 0.05


class OnsetHeadPulses:
    """Causal peak picking on onset probabilities: ``process((n_frames, n_classes) probabilities)`` -> (n_frames,)
    float32 strengths, the probability on frames where the largest class probability crosses the threshold
    upwards (outside the refractory time), else 0. Any block size gives the same result."""

    def __init__(self, frame_rate_hz: float, params: OnsetHeadParams = OnsetHeadParams()) -> None:
        self.params = params
        self.n_refractory = max(1, int(round(params.min_interval_s * frame_rate_hz)))
        self.reset()

    def reset(self) -> None:
        self._previous = 0.0
        self._frames_since_pulse = 1 << 30

    def process(self, probabilities: np.ndarray) -> np.ndarray:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        strongest = probabilities.max(axis=1) if probabilities.ndim == 2 else probabilities.reshape(-1)
        return np.array(self.process_strongest(strongest.tolist()), dtype=np.float32)

    def process_strongest(self, strongest: list[float]) -> list[float]:
        """:meth:`process` on Python floats, from each frame's largest class probability (the renderer's one-hop
        call: a few comparisons instead of a dozen numpy calls); each strength a float32 value, as :meth:`process`
        gives."""
        threshold, n_refractory = self.params.threshold, self.n_refractory
        strengths = [0.0] * len(strongest)
        previous, since = self._previous, self._frames_since_pulse
        for frame, probability in enumerate(strongest):
            if probability >= threshold and previous < threshold and since >= n_refractory:  # rises through it
                strengths[frame] = float(np.float32(probability))  # as the float32 strengths
                since = 0
            previous = probability
            since += 1
        self._previous, self._frames_since_pulse = previous, since
        return strengths
