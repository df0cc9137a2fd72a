"""The two teacher interfaces every adapter implements, at the device rate (16 kHz mono).

- A separator teacher: ``separate(mixture (n_samples,)) -> {stem: (n_samples,)}``.
- A tagger teacher: ``tag(audio (n_samples,)) -> (n_frames, n_classes)`` sigmoid probabilities, one frame per
  ``hop_samples`` over windows of ``window_samples`` (frame i covers samples [i * hop, i * hop + window)),
  with ``class_names`` naming the columns (AudioSet display names for YAMNet).

``teacher_id`` names the teacher and its weights; the teacher-output cache keys on it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from edge.errors import ConfigError
from edge.stream import DEVICE_STREAM

SAMPLE_RATE_HZ = DEVICE_STREAM.sample_rate_hz


@runtime_checkable
class SeparatorTeacher(Protocol):
    teacher_id: str
    stems: tuple[str, ...]

    def separate(self, mixture: np.ndarray) -> dict[str, np.ndarray]:
        """(n_samples,) float32 16 kHz mono -> stem name -> (n_samples,) float32."""
        ...


@runtime_checkable
class TaggerTeacher(Protocol):
    teacher_id: str
    class_names: tuple[str, ...]
    window_samples: int
    hop_samples: int

    def tag_windows(self, windows: np.ndarray) -> np.ndarray:
        """(n_windows, window_samples) float32 -> (n_windows, n_classes) probabilities."""
        ...


def check_mono(audio: np.ndarray, what: str) -> np.ndarray:
    """Return ``audio`` as contiguous float32 (n_samples,), or raise ConfigError saying what was given."""
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ConfigError(f"{what}: expected mono audio of shape (n_samples,), got shape {audio.shape}")
    return np.ascontiguousarray(audio, dtype=np.float32)


def frame_windows(audio: np.ndarray, window_samples: int, hop_samples: int) -> np.ndarray:
    """(n_samples,) -> (n_frames, window_samples): frame i = audio[i * hop : i * hop + window], zero-padded at the
    end so that a clip shorter than one window still gives one frame."""
    audio = check_mono(audio, "frame_windows")
    if len(audio) < window_samples:
        audio = np.concatenate([audio, np.zeros(window_samples - len(audio), np.float32)])
    return np.lib.stride_tricks.sliding_window_view(audio, window_samples)[::hop_samples].copy()


def tag(teacher: TaggerTeacher, audio: np.ndarray, batch: int = 64) -> np.ndarray:
    """Run a tagger teacher over a whole clip: (n_samples,) -> (n_frames, n_classes)."""
    windows = frame_windows(audio, teacher.window_samples, teacher.hop_samples)
    return np.concatenate([teacher.tag_windows(windows[i : i + batch]) for i in range(0, len(windows), batch)])
