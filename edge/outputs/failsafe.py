"""Fail safe: when a write to the hardware fails for good, zero what can be zeroed and say so in the error."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from edge.errors import OutputError


def zero_and_raise(url: str, error: OutputError, zero: Callable[[], None]) -> NoReturn:
    """Run ``zero`` (best effort), then raise an :class:`OutputError` for ``url`` that says what happened to the
    actuators: switched off, or — if zeroing failed too — that they may still be running."""
    try:
        zero()
    except OutputError as zero_error:
        raise OutputError(
            f"output {url}: {error}; switching the actuators off failed too ({zero_error}) - they may still be "
            "running: cut their power"
        ) from error
    raise OutputError(f"output {url}: {error}; all its actuators were switched off") from error
