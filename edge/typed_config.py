"""Typed reading of config tables (TOML or JSON) with errors that name the file, the line, the key and what was
expected — the one validator behind rig files, pack manifests and training recipes.

Generic: knows nothing of rigs, packs or recipes. A :class:`ConfigDocument` names one file being read (and finds
the line of a key in its TOML text); a :class:`TableReader` reads one table of it — typed values, ranges, choices,
nested tables, unknown keys refused — and :func:`read_dataclass` fills a dataclass from a table by its annotations.
Every error has the shape of :func:`edge.errors.field_message`: ``"KIND FILE:LINE: KEY: PROBLEM (expected X)"``.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from collections.abc import Iterable
from typing import Any, TypeVar

from edge.errors import ConfigError, SenseError, field_message

KeyPath = tuple[Any, ...]
"""A key's place in a document: table names and keys (str) and array indices (int), e.g. ("actuators", 3, "kind")."""

REQUIRED: Any = ...
"""The default of a key that must be present."""

T = TypeVar("T")

_TYPE_WORDS: dict[type, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
}


def key_name(path: KeyPath) -> str:
    """("actuators", 3, "kind") -> "actuators[3].kind"."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


class ConfigDocument:
    """One config file being read: ``kind`` ("rig", "recipe", …) and ``source`` (its path) start every error;
    with its TOML ``text`` the error also gives the line of the key."""

    table_word = "a table"
    """What a table is called in this format (JSON says 'an object')."""

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
        header = re.compile(
            rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]" if index is not None else rf"^\s*\[\s*{re.escape(table)}\s*\]"
        )
        seen = -1
        start = None
        for number, line in enumerate(self.lines):
            if header.match(line):
                seen += 1
                if index is None or seen == index:
                    start = number
                    break
        if start is None:  # no such table header: a top-level key stands before the first one
            return _line_of_key(self.lines, table, 0) if index is None and not rest else None
        key = next((part for part in rest if isinstance(part, str)), None)
        if key is None:
            return start + 1
        return _line_of_key(self.lines, key, start + 1) or start + 1

    def error(self, path: KeyPath, problem: str, expected: str | None = None) -> SenseError:
        """The error for the key at ``path``: what is wrong there and, if given, what was expected."""
        line = self.line_of(path)
        where = f"{self.source}:{line}" if line is not None else self.source
        return ConfigError(field_message(f"{self.kind} {where}", key_name(path) or "(top level)", problem, expected))


def _line_of_key(lines: list[str], key: str, start: int) -> int | None:
    """1-based line of ``key = …`` from line index ``start`` up to the next table header; None if absent."""
    key_line = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
    for number in range(start, len(lines)):
        if lines[number].lstrip().startswith("["):
            return None
        if key_line.match(lines[number]):
            return number + 1
    return None


def parse_toml(kind: str, source: str, text: str) -> tuple[dict[str, Any], ConfigDocument]:
    """The TOML ``text`` of a ``kind`` file as a table, and the document that locates errors in it."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{kind} {source}: invalid TOML: {error}") from None
    return data, ConfigDocument(kind, source, text)


class TableReader:
    """Typed access to one table of a document, with errors located in the file.

    ``allowed``: the keys the table may hold (others are refused at construction); None accepts any key.
    """

    def __init__(
        self, document: ConfigDocument, table: Any, path: KeyPath = (), allowed: Iterable[str] | None = None
    ) -> None:
        self.document = document
        self.table = table
        self.path = path
        if not isinstance(table, dict):
            raise document.error(path, f"is {_shown(table, document)}", document.table_word)
        if allowed is not None:
            allowed = set(allowed)
            for key in table:
                if key not in allowed:
                    raise document.error(path + (key,), "unknown key", f"one of {', '.join(sorted(allowed))}")

    def __contains__(self, key: str) -> bool:
        return key in self.table

    def error(self, key: str | int, problem: str, expected: str | None = None) -> SenseError:
        return self.document.error(self.path + (key,), problem, expected)

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = REQUIRED,
        required: bool = False,
        expected: str | None = None,
    ) -> Any:
        """The value of ``key``, which must be a ``kind`` (an int is a float too, a bool is not an int)."""
        expected = expected or _expected(kind, self.document)
        if key not in self.table:
            if required or default is REQUIRED:
                raise self.error(key, "missing required key", expected)
            return default
        value = self.table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise self.error(key, f"is {_shown(value, self.document)}", expected)
        return value

    def number(self, key: str, default: Any = REQUIRED, low: float | None = None, high: float | None = None) -> float:
        return self._in_range(key, self.get(key, float, default), low, high, "a number")

    def integer(self, key: str, default: Any = REQUIRED, low: int | None = None, high: int | None = None) -> int:
        return self._in_range(key, self.get(key, int, default), low, high, "an integer")

    def _in_range(self, key: str, value: Any, low: float | None, high: float | None, what: str) -> Any:
        if value is not None and (low is not None and value < low or high is not None and value > high):
            raise self.error(
                key, f"is {value}", f"{what} in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
            )
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = REQUIRED) -> str:
        expected = f"one of {', '.join(choices)}"
        value = self.get(key, str, default, expected=expected)
        if value not in choices:
            raise self.error(key, f"is {value!r}", expected)
        return value

    def strings(self, key: str, default: Any = REQUIRED, non_empty: bool = False) -> tuple[str, ...]:
        expected = "a non-empty list of strings" if non_empty else "a list of strings"
        value = self.get(key, list, default, expected=expected)
        if not all(isinstance(item, str) for item in value) or non_empty and not value:
            raise self.error(key, f"is {value!r}", expected)
        return tuple(value)

    def pair(
        self, key: str, default: Any = REQUIRED, low: float = 0.0, high: float = float("inf")
    ) -> tuple[float, float]:
        value = self.get(key, list, default, expected="two numbers")
        if len(value) != 2 or not all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in value):
            raise self.error(key, f"is {value!r}", "two numbers")
        first, second = float(value[0]), float(value[1])
        if not low <= first <= high or not low <= second <= high:
            raise self.error(key, f"is {value!r}", f"two numbers within [{low}, {high}]")
        return first, second

    def table_at(self, key: str, allowed: Iterable[str] | None = None, default: Any = REQUIRED) -> TableReader:
        """The nested table ``key`` (an empty one if absent and ``default`` is given)."""
        value = self.get(key, dict, default, expected=self.document.table_word)
        return TableReader(self.document, value if value is not None else {}, self.path + (key,), allowed)

    def tables_at(self, key: str, allowed: Iterable[str] | None = None, default: Any = REQUIRED) -> list[TableReader]:
        """The array of tables ``key``, one reader each (paths ``key[i]``)."""
        items = self.get(key, list, default, expected=f"a list of {_plural(self.document.table_word)}")
        return [TableReader(self.document, item, self.path + (key, index), allowed) for index, item in enumerate(items)]


def read_dataclass(reader: TableReader, cls: type[T]) -> T:
    """Fill dataclass ``cls`` from the reader's table by the fields' annotations (bool, int, float, str,
    ``tuple[X, ...]`` and ``X | None``); absent keys keep the field defaults, unknown keys are refused."""
    known = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    TableReader(reader.document, reader.table, reader.path, known)
    hints = typing.get_type_hints(cls)
    values = {
        key: _convert(reader.document, reader.path + (key,), value, hints[key]) for key, value in reader.table.items()
    }
    return cls(**values)


def _convert(document: ConfigDocument, path: KeyPath, value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):  # "X | None": TOML has no null, so a given value is an X
        return _convert(document, path, value, next(a for a in typing.get_args(annotation) if a is not type(None)))
    if origin is tuple:
        if not isinstance(value, list):
            raise document.error(path, f"is {_shown(value, document)}", "a list")
        item_type = typing.get_args(annotation)[0]
        return tuple(_convert(document, path + (index,), item, item_type) for index, item in enumerate(value))
    if annotation not in _TYPE_WORDS:
        raise document.error(path, f"has the unsupported field type {annotation!r}")
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and annotation is not bool or not isinstance(value, annotation):
        raise document.error(path, f"is {_shown(value, document)}", _TYPE_WORDS[annotation])
    return value


def _expected(kind: type | tuple[type, ...], document: ConfigDocument) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(document.table_word if k is dict else _TYPE_WORDS.get(k, k.__name__) for k in kinds)


def _shown(value: Any, document: ConfigDocument) -> str:
    """A wrong value as errors show it: a table by its kind, others as written (long ones cut)."""
    if isinstance(value, dict):
        return document.table_word
    return repr(value) if len(repr(value)) <= 60 else f"{repr(value)[:57]}..."


def _plural(word: str) -> str:
    return word.split(" ", 1)[1] + "s"
