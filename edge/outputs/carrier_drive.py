"""Audio-rate drive per actuator for audio outputs (``audio://``): LRAs and tuned transducers get a sine at their
own resonance, the others the frame's audio. The output scales each channel by its intensity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.outputs.base import RoutedOutput


class CarrierDrive:
    """(n_samples,) or (n_samples, n_audio_channels) frame audio -> (n_samples, n_channels) drive in [-1, 1].

    Channel c is a unit sine at ``carrier_hz[c]`` where that is > 0 (phase continuous across calls), else the
    frame audio (mixed to mono). Streams like offline: any split of the samples gives the same drive.
    """

    def __init__(self, carrier_hz: np.ndarray, sample_rate_hz: int) -> None:
        self.carrier_hz = np.asarray(carrier_hz, dtype=np.float64)
        self.sample_rate_hz = sample_rate_hz
        self.reset()

    def reset(self) -> None:
        self._n_samples = 0

    def process(self, audio: np.ndarray) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32)
        mono = audio.mean(axis=1) if audio.ndim == 2 else audio
        t_s = (self._n_samples + np.arange(mono.shape[0]))[:, None] / self.sample_rate_hz
        self._n_samples += mono.shape[0]
        carriers = np.sin(2.0 * np.pi * self.carrier_hz[None, :] * t_s)
        return np.where(self.carrier_hz[None, :] > 0, carriers, mono[:, None]).astype(np.float32)


@dataclass(frozen=True)
class CarrierRoutedOutput(RoutedOutput):
    """A routed audio output whose frame audio is replaced by each channel's :class:`CarrierDrive`."""

    drive: CarrierDrive | None = None

    def reset(self) -> None:
        if self.drive is not None:
            self.drive.reset()

    def write(self, t_s: float, intensities_per_actuator: np.ndarray, audio: np.ndarray | None = None) -> None:
        if audio is not None and self.drive is not None:
            audio = self.drive.process(audio)
        super().write(t_s, intensities_per_actuator, audio)
