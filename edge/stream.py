"""The stream contract, in one place: the device's stream parameters and the streaming-stage protocol.

:class:`StreamParams` holds the numbers every stage, model pack, recipe, benchmark and test agrees on — sample
rate, STFT size, hop, window and the tagger's cadence. :data:`DEVICE_STREAM` is the device's value; nothing else
in the code base writes these numbers down (packs and recipes carry them, see ``Pack.stream``).

Every stateful stage has ``reset()`` and ``process(block)``; feeding a signal in blocks of any sizes and
concatenating the outputs along the time axis (axis 0) equals processing it in one call (STYLE.md #5, #6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edge.errors import ConfigError

if TYPE_CHECKING:
    from edge.pack import Pack

WINDOWS = ("hann", "sqrt_hann", "rect")


@dataclass(frozen=True)
class StreamParams:
    """Rates and framing of the audio stream.

    ``sample_rate_hz``: mono input rate; ``n_fft``: STFT size in samples; ``hop``: samples per hop (one control
    frame per hop); ``window``: analysis window name; ``tagger_every_n_hops``: the tagger runs on every this-many-th
    hop (counting from 1), the hops between repeat its latest probabilities.
    """

    sample_rate_hz: int = 16_000
    n_fft: int = 512
    hop: int = 128
    window: str = "hann"
    tagger_every_n_hops: int = 8

    def __post_init__(self) -> None:
        for name in ("sample_rate_hz", "n_fft", "hop", "tagger_every_n_hops"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"stream parameter {name}: expected a positive integer, got {value!r}")
        if self.hop > self.n_fft:
            raise ConfigError(f"stream parameter hop: {self.hop} exceeds n_fft {self.n_fft}")
        if self.window not in WINDOWS:
            raise ConfigError(f"stream parameter window: {self.window!r} is not one of {', '.join(WINDOWS)}")

    @property
    def n_bins(self) -> int:
        """Magnitude bins per STFT frame: n_fft // 2 + 1."""
        return self.n_fft // 2 + 1

    @property
    def hop_s(self) -> float:
        """Seconds of audio per hop (the control period)."""
        return self.hop / self.sample_rate_hz

    def n_samples(self, seconds: float) -> int:
        """Samples in ``seconds`` of audio, rounded."""
        return int(round(seconds * self.sample_rate_hz))

    def as_dict(self) -> dict[str, Any]:
        return {
            "sample_rate_hz": self.sample_rate_hz,
            "n_fft": self.n_fft,
            "hop": self.hop,
            "window": self.window,
            "tagger_every_n_hops": self.tagger_every_n_hops,
        }


DEVICE_STREAM = StreamParams()
"""The device's stream: 16 kHz mono, 512-sample STFT, 128-sample (8 ms) hop, periodic Hann, tagger every 8 hops."""


def stream_of(pack: Pack) -> StreamParams:
    """The stream a pack's models were trained for, as its manifest states it (one STFT feeds both models; the
    tagger's cadence when it has a tagger, else the device's)."""
    model = pack.separator or pack.tagger
    if model is None:
        raise ConfigError(f"model pack {pack.source}: no models, so no stream parameters")
    every_n_hops = pack.tagger.every_n_hops if pack.tagger else DEVICE_STREAM.tagger_every_n_hops
    return StreamParams(model.sample_rate_hz, model.n_fft, model.hop, model.window, every_n_hops)


def tagger_run_frames(n_frames: int, every_n_hops: int, n_frames_seen: int = 0) -> np.ndarray:
    """Indices (within a block of ``n_frames`` that follows ``n_frames_seen`` earlier frames) of the frames on
    which the tagger runs: every ``every_n_hops``-th frame of the stream, counting from 1."""
    index = np.arange(n_frames)
    return index[(n_frames_seen + index + 1) % every_n_hops == 0]


class StreamStage(Protocol):
    def reset(self) -> None:
        """Forget all history, as if freshly constructed."""

    def process(self, block: np.ndarray) -> np.ndarray:
        """Consume ``block`` (time on axis 0) and return the output it completes (time on axis 0; may be empty)."""


MAX_HAPTIC_OFFSET_MS = 250.0
"""The haptic offset (touch against sound, ms) lies within ±this: a rig's ``haptic_offset_ms``, ``sense run
--haptic-offset-ms`` and the live session parameter (:data:`edge.session.LIVE_PARAMS`)."""


def check_haptic_offset_ms(value: object) -> float:
    """``value`` as a haptic offset in ms, or a ConfigError that says what is allowed."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= MAX_HAPTIC_OFFSET_MS:
        raise ConfigError(f"haptic_offset_ms: expected a number of ms within ±{MAX_HAPTIC_OFFSET_MS:g}, got {value!r}")
    return float(value)
