"""Typed reading of config tables (TOML or JSON) with errors that name the file, the line, the key and the reason.

Generic: knows nothing of rigs, packs or recipes. A :class:`ConfigDocument` names one file being read (and finds
the line of a key in its TOML text); a :class:`TableReader` reads one table of it — typed values, ranges, choices,
unknown keys refused — raising :class:`~edge.errors.ConfigError` ``"KIND FILE:LINE: KEY: reason"``.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from edge.errors import ConfigError

KeyPath = tuple[Any, ...]
"""A key's place in a document: table names and keys (str) and array indices (int), e.g. ("actuators", 3, "kind")."""


def key_name(path: KeyPath) -> str:
    """("actuators", 3, "kind") -> "actuators[3].kind"."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


class ConfigDocument:
    """One config file being read: ``kind`` ("rig", "recipe", …) and ``source`` (its path) start every error;
    with its TOML ``text`` the error also gives the line of the key."""

    def __init__(self, kind: str, source: str, text: str | None = None) -> None:
        self.kind = kind
        self.source = source
        self.lines = text.splitlines() if text is not None else []

    def line_of(self, path: KeyPath) -> int | None:
        """1-based line of the key, found by scanning table headers and ``key =`` lines; None if not found."""
        if not path:
            return None
        table, rest = path[0], list(path[1:])
        index = rest.pop(0) if rest and isinstance(rest[0], int) else None
        header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]" if index is not None else rf"^\s*\[\s*{re.escape(table)}\s*\]")
        any_header = re.compile(r"^\s*\[")
        seen = -1
        start = None
        for number, line in enumerate(self.lines):
            if header.match(line):
                seen += 1
                if index is None or seen == index:
                    start = number
                    break
        if start is None:
            return None
        key = next((part for part in rest if isinstance(part, str)), None)
        if key is None:
            return start + 1
        key_line = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for number in range(start + 1, len(self.lines)):
            if any_header.match(self.lines[number]):
                break
            if key_line.match(self.lines[number]):
                return number + 1
        return start + 1

    def error(self, path: KeyPath, reason: str) -> ConfigError:
        line = self.line_of(path)
        where = f"{self.source}:{line}" if line is not None else self.source
        return ConfigError(f"{self.kind} {where}: {key_name(path)}: {reason}")


def parse_toml(kind: str, source: str, text: str) -> tuple[dict[str, Any], ConfigDocument]:
    """The TOML ``text`` of a ``kind`` file as a table, and the document that locates errors in it."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{kind} {source}: invalid TOML: {error}") from None
    return data, ConfigDocument(kind, source, text)


class TableReader:
    """Typed access to one TOML table with errors located in the file; unknown keys are refused."""

    def __init__(self, document: ConfigDocument, table: Any, path: KeyPath, allowed: set[str]) -> None:
        self.document = document
        self.table = table
        self.path = path
        if not isinstance(table, dict):
            raise document.error(path, f"expected a table, got {type(table).__name__}")
        for key in table:
            if key not in allowed:
                raise document.error(path + (key,), f"unknown key; allowed: {', '.join(sorted(allowed))}")

    def error(self, key: str, reason: str) -> ConfigError:
        return self.document.error(self.path + (key,), reason)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., required: bool = False) -> Any:
        if key not in self.table:
            if required or default is ...:
                raise self.document.error(self.path + (key,), "missing required key")
            return default
        value = self.table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.error(key, f"expected {expected}, got {type(value).__name__} {value!r}")
        return value

    def number(self, key: str, default: Any = ..., low: float | None = None, high: float | None = None) -> float:
        value = self.get(key, float, default)
        if low is not None and value < low or high is not None and value > high:
            raise self.error(key, f"{value} is out of range [{low}, {high}]")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = ...) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            raise self.error(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, list, default)
        if not all(isinstance(item, str) for item in value):
            raise self.error(key, "expected a list of strings")
        return tuple(value)

    def pair(self, key: str, default: Any = ..., low: float = 0.0, high: float = float("inf")) -> tuple[float, float]:
        value = self.get(key, list, default)
        if len(value) != 2 or not all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in value):
            raise self.error(key, f"expected two numbers, got {value!r}")
        first, second = float(value[0]), float(value[1])
        if not low <= first <= high or not low <= second <= high:
            raise self.error(key, f"values must be within [{low}, {high}], got {value!r}")
        return first, second
