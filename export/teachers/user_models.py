"""Any user-supplied separator or tagger as a teacher: a torch module or an ONNX model working on waveforms.

Separator convention (the one Demucs and Open-Unmix use): input (batch, channels, n_samples) at the model's
rate -> output (batch, n_stems, channels, n_samples) (a 3-D output (batch, n_stems, n_samples) is accepted
too). Mono 16 kHz mixtures are resampled to the model's rate, repeated to its channel count, and the stems are
averaged back to mono and resampled to 16 kHz.

Tagger convention: input (n_windows, window_samples) 16 kHz -> output (n_windows, n_classes) probabilities
(``outputs_are_logits`` applies a sigmoid first).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import ConfigError
from export.teachers.base import SAMPLE_RATE_HZ, check_mono


def _to_model_rate(mixture: np.ndarray, sample_rate_hz: int, n_channels: int) -> np.ndarray:
    """(n,) 16 kHz -> (1, channels, m) float32 at ``sample_rate_hz``."""
    if sample_rate_hz != SAMPLE_RATE_HZ:
        mixture = require("soxr", "export", "resampling for a teacher").resample(
            mixture, SAMPLE_RATE_HZ, sample_rate_hz
        )
    return np.repeat(np.asarray(mixture, np.float32)[None, None], n_channels, axis=1)


def _from_model_rate(
    stems: np.ndarray, names: tuple[str, ...], sample_rate_hz: int, n_samples: int, what: str
) -> dict[str, np.ndarray]:
    """(1, S, C, m) or (1, S, m) at the model rate -> stem name -> (n_samples,) 16 kHz mono."""
    if stems.ndim == 3:
        stems = stems[:, :, None]
    if stems.ndim != 4 or stems.shape[0] != 1 or stems.shape[1] != len(names):
        raise ConfigError(f"{what}: expected output (1, {len(names)} stems, channels, samples), got {stems.shape}")
    out = {}
    for name, stem in zip(names, stems[0].mean(axis=1)):
        if sample_rate_hz != SAMPLE_RATE_HZ:
            stem = require("soxr", "export", "resampling for a teacher").resample(stem, sample_rate_hz, SAMPLE_RATE_HZ)
        stem = np.asarray(stem, np.float32)[:n_samples]
        out[name] = np.pad(stem, (0, n_samples - len(stem)))
    return out


class WaveformSeparatorTeacher:
    """A separator teacher around ``run((1, C, m) float32) -> (1, S, C, m)`` at ``sample_rate_hz``."""

    def __init__(
        self,
        run: Callable[[np.ndarray], np.ndarray],
        stems: tuple[str, ...],
        sample_rate_hz: int,
        n_channels: int,
        teacher_id: str,
    ) -> None:
        self._run = run
        self.stems = tuple(stems)
        self.sample_rate_hz = sample_rate_hz
        self.n_channels = n_channels
        self.teacher_id = teacher_id

    def separate(self, mixture: np.ndarray) -> dict[str, np.ndarray]:
        mixture = check_mono(mixture, self.teacher_id)
        stems = self._run(_to_model_rate(mixture, self.sample_rate_hz, self.n_channels))
        return _from_model_rate(np.asarray(stems), self.stems, self.sample_rate_hz, len(mixture), self.teacher_id)


def torch_separator_teacher(
    module: object,
    stems: tuple[str, ...],
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    n_channels: int = 1,
    teacher_id: str | None = None,
) -> WaveformSeparatorTeacher:
    """A user torch ``nn.Module`` (eval mode, no grad) as a separator teacher."""
    torch = require("torch", "export", "running a torch teacher")
    if not isinstance(module, torch.nn.Module):
        raise ConfigError(f"torch separator teacher: expected a torch.nn.Module, got {type(module).__name__}")
    module.eval()

    def run(audio: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(audio)).numpy()

    return WaveformSeparatorTeacher(
        run, stems, sample_rate_hz, n_channels, teacher_id or f"torch:{type(module).__name__}:{_weights_digest(module)}"
    )


def _weights_digest(module: object) -> str:
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():  # type: ignore[attr-defined]
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def _onnx_session(path: Path, what: str) -> object:
    ort = require("onnxruntime", "export", f"running an ONNX {what} teacher")
    if not Path(path).is_file():
        raise ConfigError(f"ONNX {what} teacher: {path} not found")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def onnx_separator_teacher(
    path: Path, stems: tuple[str, ...], sample_rate_hz: int = SAMPLE_RATE_HZ, n_channels: int = 1
) -> WaveformSeparatorTeacher:
    """An ONNX separator with one waveform input (1, C, m) and stems output (1, S, C, m)."""
    from edge.pack import sha256_of

    session = _onnx_session(path, "separator")
    input_name = session.get_inputs()[0].name  # type: ignore[attr-defined]

    def run(audio: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: audio})[0]  # type: ignore[attr-defined]

    return WaveformSeparatorTeacher(run, stems, sample_rate_hz, n_channels, f"onnx:{sha256_of(Path(path))[:16]}")


class OnnxTaggerTeacher:
    """An ONNX tagger: (n_windows, window_samples) -> (n_windows, n_classes)."""

    def __init__(
        self,
        path: Path,
        class_names: tuple[str, ...],
        window_samples: int,
        hop_samples: int,
        outputs_are_logits: bool = False,
    ) -> None:
        from edge.pack import sha256_of

        self._session = _onnx_session(path, "tagger")
        self._input_name = self._session.get_inputs()[0].name  # type: ignore[attr-defined]
        self.class_names = tuple(class_names)
        self.window_samples = window_samples
        self.hop_samples = hop_samples
        self.outputs_are_logits = outputs_are_logits
        self.teacher_id = f"onnx-tagger:{sha256_of(Path(path))[:16]}"

    def tag_windows(self, windows: np.ndarray) -> np.ndarray:
        outputs = np.asarray(self._session.run(None, {self._input_name: np.asarray(windows, np.float32)})[0])  # type: ignore[attr-defined]
        if outputs.shape != (len(windows), len(self.class_names)):
            raise ConfigError(
                f"{self.teacher_id}: expected output ({len(windows)}, {len(self.class_names)}), got {outputs.shape}"
            )
        return (1.0 / (1.0 + np.exp(-outputs)) if self.outputs_are_logits else outputs).astype(np.float32)
