"""Reading JSON haptic files field by field, with errors that name the field's path (``Pattern[3].Event.Time``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from edge.errors import HapticFileError

_MISSING = object()


def load_json(path: Path) -> Any:
    """The parsed JSON document of ``path``; unreadable or invalid JSON is a :class:`HapticFileError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise HapticFileError(str(path), "file", f"cannot read it ({error})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise HapticFileError(
            str(path), f"line {error.lineno}, column {error.colno}", f"invalid JSON: {error.msg}"
        ) from None


def write_json(document: Any, path: Path) -> None:
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


class Fields:
    """Typed access to the fields of one JSON object at ``where`` (a path such as ``signals.continuous``)."""

    def __init__(self, path: Path, value: Any, where: str) -> None:
        self.path = path
        self.where = where
        if not isinstance(value, dict):
            raise self.error_at(where, f"is {_kind(value)}", "an object")
        self.value = value

    def error_at(self, where: str, problem: str, expected: str | None = None) -> HapticFileError:
        return HapticFileError(str(self.path), where or "document", problem, expected)

    def at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self.value

    def object(self, key: str, default: Any = _MISSING) -> Fields:
        return Fields(self.path, self._get(key, default), self.at(key))

    def list(self, key: str, default: Any = _MISSING, min_items: int = 0) -> list[Any]:
        value = self._get(key, default)
        if not isinstance(value, list):
            raise self.error_at(self.at(key), f"is {_kind(value)}", "an array")
        if len(value) < min_items:
            raise self.error_at(self.at(key), f"has {len(value)} items", f"at least {min_items}")
        return value

    def string(self, key: str, default: Any = _MISSING) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self.error_at(self.at(key), f"is {_kind(value)}", "a string")
        return value

    def integer(self, key: str, default: Any = _MISSING) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error_at(self.at(key), f"is {_kind(value)}", "an integer")
        return value

    def number(self, key: str, default: Any = _MISSING, low: float = -math.inf, high: float = math.inf) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error_at(self.at(key), f"is {_kind(value)}", "a finite number")
        if not low <= value <= high:
            raise self.error_at(self.at(key), f"{value} is out of range", f"within [{low:g}, {high:g}]")
        return float(value)

    def _get(self, key: str, default: Any) -> Any:
        if key in self.value:
            return self.value[key]
        if default is _MISSING:
            raise self.error_at(self.at(key), "is missing", "a required field")
        return default


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return {"list": "an array", "dict": "an object"}.get(type(value).__name__, type(value).__name__)
