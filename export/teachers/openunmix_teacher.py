"""Open-Unmix (PyPI ``openunmix``) as a separator teacher, from a user's model directory.

The directory holds, per target, ``<target>.json`` (Open-Unmix's training record: ``{"args": {"nfft", "nhop",
"nb_channels", "hidden_size", ...}, "rate": 44100}``) and ``<target>*.pth`` (the state dict), as Open-Unmix's
training script writes them. The model classes are imported without the package ``__init__`` (which needs
torchaudio); the torch STFT filterbank is used.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import ConfigError
from export.teachers.package_import import import_model_module
from export.teachers.user_models import WaveformSeparatorTeacher

DEFAULT_RATE_HZ = 44_100


def openunmix_module() -> object:
    return import_model_module("openunmix", "model", unavailable=("torchaudio",))


def openunmix_teacher(model_dir: Path, targets: tuple[str, ...], niter: int = 0) -> WaveformSeparatorTeacher:
    torch = require("torch", "export", "running an Open-Unmix teacher")
    model = openunmix_module()
    model_dir = Path(model_dir)
    target_models = {}
    settings: dict = {}
    for target in targets:
        json_path = model_dir / f"{target}.json"
        weights = sorted(model_dir.glob(f"{target}*.pth"))
        if not json_path.is_file() or not weights:
            raise ConfigError(f"Open-Unmix teacher: {model_dir} needs {target}.json and {target}.pth")
        record = json.loads(json_path.read_text())
        args = record.get("args", {})
        try:
            settings = {
                "nfft": int(args["nfft"]),
                "nhop": int(args["nhop"]),
                "nb_channels": int(args["nb_channels"]),
                "rate": int(record.get("rate", args.get("sample_rate", DEFAULT_RATE_HZ))),
            }
            hidden_size = int(args["hidden_size"])
        except KeyError as missing:
            raise ConfigError(f"Open-Unmix teacher: {json_path} has no args.{missing.args[0]}") from None
        state = torch.load(str(weights[0]), map_location="cpu", weights_only=False)
        net = model.OpenUnmix(
            nb_bins=settings["nfft"] // 2 + 1,
            nb_channels=settings["nb_channels"],
            hidden_size=hidden_size,
            max_bin=state["input_mean"].shape[0],
        )
        net.load_state_dict(state)
        target_models[target] = net.eval()
    separator = model.Separator(
        target_models,
        niter=niter,
        sample_rate=settings["rate"],
        n_fft=settings["nfft"],
        n_hop=settings["nhop"],
        nb_channels=settings["nb_channels"],
        filterbank="torch",
    ).eval()

    def run(audio: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return separator(torch.from_numpy(audio)).numpy()

    return WaveformSeparatorTeacher(
        run, tuple(targets), settings["rate"], settings["nb_channels"], f"openunmix:{model_dir.resolve()}"
    )
