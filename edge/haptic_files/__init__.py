"""Haptic pattern files: what SENSE renders, written in formats other platforms play, and read back to be felt
on our own rigs (``sense render --format``, ``sense play``).

One in-memory form, :class:`HapticTrack` (a few named channels of intensities at a fixed frame rate, plus the
transients on each), and one small module per format, each pure numpy/json:

| format | module | channels | transients | resolution |
|---|---|---|---|---|
| Meta ``.haptic`` 1.0 (Haptics Studio / Haptics SDK) | ``meta_haptic`` | 1 | emphasis on a breakpoint | float, breakpoints within ``tolerance`` |
| Apple ``.ahap`` (Core Haptics) | ``ahap`` | 1 | ``HapticTransient`` events | float, curves within ``tolerance`` |
| Android waveform/envelope arrays (``.json``) | ``android`` | 1 per vibrator | none | amplitude 1/255, 1 ms |
| per-actuator ``.csv`` | ``tables`` | any | none | 1e-4 |
| per-actuator ``.wav`` (16-bit, one channel per actuator, at the frame rate) | ``tables`` | any | none | 1/32767 |
"""

from __future__ import annotations

from pathlib import Path

from edge.errors import ConfigError
from edge.haptic_files.track import DEFAULT_FRAME_RATE_HZ, HapticTrack

__all__ = ["DEFAULT_FRAME_RATE_HZ", "FORMATS", "HapticTrack", "format_of", "read_track", "write_track"]

FORMATS: dict[str, str] = {"haptic": ".haptic", "ahap": ".ahap", "android": ".json", "csv": ".csv", "wav": ".wav"}
"""Format name -> file suffix."""

MULTI_CHANNEL_FORMATS = ("csv", "wav", "android")
"""Formats that hold several channels in one file; the others hold one channel per file."""


def format_of(path: str | Path, format_name: str | None = None) -> str:
    """The format of ``path``: ``format_name`` if given, else from the suffix."""
    if format_name is not None:
        if format_name not in FORMATS:
            raise ConfigError(f"haptic format {format_name!r} unknown; known: {', '.join(FORMATS)}")
        return format_name
    suffix = Path(path).suffix.lower()
    for name, known_suffix in FORMATS.items():
        if suffix == known_suffix:
            return name
    raise ConfigError(
        f"{path}: cannot tell the haptic format from the suffix {suffix!r}; expected one of "
        f"{', '.join(FORMATS.values())} or --format {'|'.join(FORMATS)}"
    )


def _module(format_name: str):
    from edge.haptic_files import ahap, android, meta_haptic, tables

    return {"haptic": meta_haptic, "ahap": ahap, "android": android, "csv": tables.CSV, "wav": tables.WAV}[format_name]


def read_track(
    path: str | Path, format_name: str | None = None, frame_rate_hz: float = DEFAULT_FRAME_RATE_HZ
) -> HapticTrack:
    """Read and validate a haptic file; breakpoint formats are sampled at ``frame_rate_hz``.

    Raises :class:`~edge.errors.HapticFileError` naming the field at fault.
    """
    return _module(format_of(path, format_name)).read(Path(path), frame_rate_hz)


def write_track(track: HapticTrack, path: str | Path, format_name: str | None = None, tolerance: float = 0.01) -> Path:
    """Write ``track`` to ``path``; breakpoint formats keep every frame within ``tolerance`` of the track."""
    module = _module(format_of(path, format_name))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module.write(track, path, tolerance)
    return path
