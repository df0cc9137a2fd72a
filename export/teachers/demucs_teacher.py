"""Demucs / HDemucs / HTDemucs (PyPI ``demucs``) as a separator teacher, from a user's checkpoint.

The checkpoint is Demucs' own package format (a dict with 'klass', 'args', 'kwargs', 'state', as written by
``demucs.states.serialize_model`` or a plain ``torch.save`` of that dict). Pretrained weights can't be
downloaded here, so users bring their own file. demucs.htdemucs imports ``openunmix.filtering``, whose package
``__init__`` needs torchaudio; the import goes through :func:`import_model_module` so torchaudio is never needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import ConfigError
from export.teachers.package_import import import_model_module
from export.teachers.user_models import WaveformSeparatorTeacher

TORCHAUDIO = ("torchaudio",)


def import_demucs_models() -> dict[str, type]:
    """The Demucs model classes by name (importing them without torchaudio)."""
    import_model_module("openunmix", "filtering", unavailable=TORCHAUDIO)
    classes = {}
    for module_name, class_name in (("demucs", "Demucs"), ("hdemucs", "HDemucs"), ("htdemucs", "HTDemucs")):
        module = import_model_module("demucs", module_name, unavailable=TORCHAUDIO)
        classes[class_name] = getattr(module, class_name)
    return classes


def load_demucs_model(checkpoint: Path) -> object:
    torch = require("torch", "export", "loading a Demucs checkpoint")
    import_demucs_models()
    states = import_model_module("demucs", "states", unavailable=TORCHAUDIO)
    if not Path(checkpoint).is_file():
        raise ConfigError(f"Demucs teacher: checkpoint {checkpoint} not found")
    package = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
    if not isinstance(package, dict) or not {"klass", "args", "kwargs", "state"} <= set(package):
        raise ConfigError(
            f"Demucs teacher: {checkpoint} is not a Demucs package (a dict with klass, args, kwargs, state)"
        )
    return states.load_model(package).eval()


def demucs_teacher(checkpoint: Path, segment_seconds: float | None = None) -> WaveformSeparatorTeacher:
    """Separator teacher from a Demucs-family checkpoint; stems are the model's ``sources``."""
    torch = require("torch", "export", "running a Demucs teacher")
    from edge.pack import sha256_of

    model = load_demucs_model(checkpoint)
    apply = import_model_module("demucs", "apply", unavailable=TORCHAUDIO)

    def run(audio: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return apply.apply_model(
                model, torch.from_numpy(audio), shifts=0, split=True, overlap=0.25, segment=segment_seconds
            ).numpy()

    return WaveformSeparatorTeacher(
        run,
        tuple(model.sources),
        int(model.samplerate),
        int(model.audio_channels),
        f"demucs:{type(model).__name__}:{sha256_of(Path(checkpoint))[:16]}",
    )
