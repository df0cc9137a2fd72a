"""Teacher outputs computed once and kept on disk (offline distillation).

Each entry is an ``.npz`` named by sha256(audio bytes + teacher id + settings): arrays by name (stems of a
separator teacher, or ``probabilities`` of a tagger teacher). A corrupt entry is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np


def cache_key(audio: np.ndarray, teacher_id: str, settings: str = "") -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(audio, dtype=np.float32).tobytes())
    digest.update(b"\0" + teacher_id.encode() + b"\0" + settings.encode())
    return digest.hexdigest()


class TeacherCache:
    """``get_or_compute(audio, teacher_id, compute)``; counts hits and misses."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.n_hits = 0
        self.n_misses = 0

    def path_for(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def get_or_compute(
        self,
        audio: np.ndarray,
        teacher_id: str,
        compute: Callable[[np.ndarray], dict[str, np.ndarray]],
        settings: str = "",
    ) -> dict[str, np.ndarray]:
        path = self.path_for(cache_key(audio, teacher_id, settings))
        if path.exists():
            try:
                with np.load(path) as stored:
                    result = {name: stored[name] for name in stored.files}
                self.n_hits += 1
                return result
            except (OSError, ValueError, zipfile.BadZipFile, EOFError):
                path.unlink(missing_ok=True)
        result = compute(audio)
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, **result)
        partial.replace(path)
        self.n_misses += 1
        return result
