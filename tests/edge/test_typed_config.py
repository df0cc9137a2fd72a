"""The one config validator behind rigs, pack manifests and recipes: typed values, located errors, dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from edge.errors import ConfigError
from edge.typed_config import ConfigDocument, TableReader, parse_toml, read_dataclass

TEXT = """\
name = "demo"
seed = 3

[training]
steps = 10
rate = 0.5

[[layers]]
size = 4

[[layers]]
size = "big"
"""


@dataclass(frozen=True)
class Training:
    steps: int = 1
    rate: float = 1.0
    enabled: bool = True
    tags: tuple[str, ...] = ()
    limit: int | None = None


def _top() -> TableReader:
    table, document = parse_toml("demo", "demo.toml", TEXT)
    return TableReader(document, table, (), {"name", "seed", "training", "layers"})


def test_errors_name_file_line_key_problem_and_expectation() -> None:
    top = _top()
    layers = top.tables_at("layers", {"size"})
    assert layers[0].integer("size", low=1) == 4
    with pytest.raises(ConfigError, match=r"^demo demo.toml:12: layers\[1\].size: is 'big' \(expected an integer\)$"):
        layers[1].integer("size")
    with pytest.raises(ConfigError, match=r"^demo demo.toml:2: seed: is 3 \(expected an integer in \[5, inf\]\)$"):
        top.integer("seed", low=5)
    with pytest.raises(ConfigError, match=r"^demo demo.toml:5: training.steps: is 10 \(expected one of a, b\)$"):
        TableReader(top.document, {"steps": 10}, ("training",)).choice("steps", ("a", "b"))
    with pytest.raises(ConfigError, match=r"^demo demo.toml: colour: missing required key \(expected a string\)$"):
        top.get("colour", str)


def test_unknown_keys_and_non_tables_are_refused() -> None:
    document = ConfigDocument("demo", "demo.toml", TEXT)
    with pytest.raises(ConfigError, match=r"demo.toml:6: training.rate: unknown key \(expected one of steps\)"):
        TableReader(document, {"steps": 1, "rate": 2}, ("training",), {"steps"})
    with pytest.raises(ConfigError, match=r"training: is \[1, 2\] \(expected a table\)"):
        TableReader(document, [1, 2], ("training",))
    assert TableReader(document, {"anything": 1}, ()).get("anything", int) == 1  # allowed=None: an open table


def test_read_dataclass_converts_by_annotation_and_keeps_defaults() -> None:
    top = _top()
    training = read_dataclass(top.table_at("training"), Training)
    assert training == Training(steps=10, rate=0.5)
    document = top.document
    full = read_dataclass(TableReader(document, {"rate": 2, "tags": ["a"], "limit": 7}, ("training",)), Training)
    assert full.rate == 2.0 and isinstance(full.rate, float) and full.tags == ("a",) and full.limit == 7
    for table, message in [
        ({"steps": True}, r"training.steps: is True \(expected an integer\)"),
        ({"enabled": 1}, r"training.enabled: is 1 \(expected true or false\)"),
        ({"tags": ["a", 2]}, r"training.tags\[1\]: is 2 \(expected a string\)"),
        ({"tags": "a"}, r"training.tags: is 'a' \(expected a list\)"),
        ({"stepz": 1}, r"training.stepz: unknown key \(expected one of enabled, limit, rate, steps, tags\)"),
    ]:
        with pytest.raises(ConfigError, match=message):
            read_dataclass(TableReader(document, table, ("training",)), Training)


def test_invalid_toml_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"^demo broken.toml: invalid TOML: .*line 1"):
        parse_toml("demo", "broken.toml", "x = \n")
