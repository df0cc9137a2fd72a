"""The one exception hierarchy of SENSE.

Every error we raise derives from :class:`SenseError` and also from the builtin it resembles, so callers can
catch either. The CLI turns a ``SenseError`` into a red message and exit code 1 in one place.
"""

from __future__ import annotations


def field_message(where: str, field: str, problem: str, expected: str | None) -> str:
    """'WHERE: FIELD: PROBLEM (expected EXPECTED)' — the one shape of every error that names a field."""
    return f"{where}: {field}: {problem}" + (f" (expected {expected})" if expected is not None else "")


class SenseError(Exception):
    """Base of every error SENSE raises on purpose."""


class MissingExtraError(SenseError, ImportError):
    """An optional dependency is not installed; the message names the pip extra that brings it."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{purpose} needs the Python module '{module}', which is not installed. "
            f"Install it with: pip install 'sense-edge[{extra}]'"
        )


class PackError(SenseError, ValueError):
    """A model pack is missing, malformed or does not match its manifest.

    ``pack`` is the pack path, ``field`` the manifest field (dotted path) at fault and ``expected`` what was
    expected there.
    """

    def __init__(self, pack: str, field: str, problem: str, expected: str | None = None) -> None:
        self.pack = pack
        self.field = field
        self.expected = expected
        super().__init__(field_message(f"model pack {pack}", field, problem, expected))


class ConfigError(SenseError, ValueError):
    """A rig file, output URL, recipe or option is invalid; the message names the file/key and the reason."""


class AudioInputError(SenseError, ValueError):
    """An audio source cannot be read or holds unusable samples (empty, NaN, wrong shape)."""


class RuntimeUnavailableError(SenseError, RuntimeError):
    """No inference runtime can run the requested model (not shipped in the pack or not importable)."""


class InferenceError(SenseError, RuntimeError):
    """A model run failed or returned tensors that do not match the manifest."""


class OutputError(SenseError, OSError):
    """An actuator output failed (bus error, device gone, link lost)."""


class ProtocolError(SenseError, ValueError):
    """A frame on the host <-> firmware wire protocol is malformed, fails its CRC or is unexpected."""


class FirmwareError(SenseError, RuntimeError):
    """Building, flashing or verifying actuator firmware failed."""


class LinkAuthError(SenseError, PermissionError):
    """The actuator firmware refused our key, or needs a key we do not have (link protocol authentication)."""


class LinkTimeoutError(ProtocolError):
    """The actuator firmware did not answer within the reply timeout (not running, wrong port or baud rate)."""


class HapticFileError(SenseError, ValueError):
    """A haptic pattern file (.haptic, .ahap, Android JSON, CSV, WAV) is malformed or breaks its format's rules.

    ``path`` is the file, ``field`` the place at fault (a JSON path such as ``Pattern[3].Event.Time``, or
    ``line 5, column 'F1L'``) and ``expected`` what the format allows there.
    """

    def __init__(self, path: str, field: str, problem: str, expected: str | None = None) -> None:
        self.path = path
        self.field = field
        self.expected = expected
        super().__init__(field_message(f"haptic file {path}", field, problem, expected))
