"""Recipes carry the stream parameters (edge.stream.StreamParams); without a [stream] table, the device's."""

from __future__ import annotations

import pytest

from edge.errors import ConfigError
from edge.stream import DEVICE_STREAM
from export.recipe import parse_recipe


def test_recipes_carry_the_stream_and_default_to_the_device_stream() -> None:
    plain = parse_recipe({"name": "r"}, "r.toml")
    assert plain.stream == DEVICE_STREAM
    wider = parse_recipe({"name": "r", "stream": {"hop": 256}, "tagger": {"every_n_hops": 4}}, "r.toml")
    assert (wider.stream.hop, wider.stream.tagger_every_n_hops) == (256, 4)
    with pytest.raises(ConfigError, match=r"recipe r.toml: \[stream\]: .*window"):
        parse_recipe({"name": "r", "stream": {"window": "box"}}, "r.toml")
