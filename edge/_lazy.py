"""Lazy imports of optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from edge.errors import MissingExtraError


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the pip ``extra`` that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(module, extra, purpose) from error
