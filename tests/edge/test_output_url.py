"""Output URLs: one parser, typed parameters, one scheme registry that also names each scheme's parameters."""

from __future__ import annotations

import pytest

from edge.errors import ConfigError
from edge.output_url import SCHEMES, OutputURL, known_schemes
from edge.outputs import open_output
from edge.rig import parse_rig


def test_typed_parameters_and_their_errors() -> None:
    url = OutputURL.parse_known("drv2605://1/0x5a?mux=0x70&channels=0,1,3&max=0.5&rated_v=2.1")
    assert (url.scheme, url.host, url.path) == ("drv2605", "1", "0x5a")
    assert url.int_list("channels", []) == [0, 1, 3] and url.fraction_param("max", 1.0) == 0.5
    assert url.float_param("rated_v", 0.0) == 2.1 and url.parse_int(url.query["mux"], "mux") == 0x70
    with pytest.raises(ConfigError, match=r"max=1.5 must be within \(0, 1\]"):
        OutputURL.parse("pca9685://1?max=1.5").fraction_param("max", 1.0)
    with pytest.raises(ConfigError, match="parameter freq='fast' is not a number"):
        OutputURL.parse("pca9685://1?freq=fast").float_param("freq", 1000.0)


def test_an_unknown_parameter_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) frq for pca9685://; known: channels, first, freq"):
        open_output("pca9685://1/0x40?frq=1000")


@pytest.mark.parametrize(
    ("url", "closest"),
    [
        (
            "drv2605://1/0x5a?mux=0x70&mux_chanel=0",
            "mux_chanel -> did you mean mux_channel?",
        ),  # not a 'channel 8' error
        ("pca9685://1/0x40?mx=0.3", "mx -> did you mean max?"),  # a typo in a safety cap is never ignored
    ],
)
def test_an_unknown_parameter_names_the_closest_known_one(url: str, closest: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_output(url)
    assert str(caught.value).endswith(f"({closest})") and "channel 8" not in str(caught.value)


def test_rigs_check_parameter_names_without_opening_anything() -> None:
    rig = '[rig]\nname = "r"\n[[outputs]]\nid = "o"\nurl = "sim://?vew=live"\n[[actuators]]\nid = "a"\n'
    with pytest.raises(ConfigError, match=r"outputs\[0\]\.url: .*unknown parameter\(s\) vew"):
        parse_rig(rig, "r.toml")


def test_serial_and_spy_urls() -> None:
    assert OutputURL.parse("serial:///dev/ttyACM0").serial_port() == "/dev/ttyACM0"
    assert OutputURL.parse("serial://COM3").serial_port() == "COM3"
    spy = OutputURL.parse_known("spy://serial:///dev/x?baud=9600&log=/tmp/l")
    assert spy.spy_inner_url() == "serial:///dev/x?baud=9600"


def test_every_scheme_resolves_to_a_handler() -> None:
    assert "spy" in known_schemes() and set(known_schemes()) == set(SCHEMES)
    for scheme in SCHEMES.values():
        module, _, attribute = scheme.handler.partition(":")
        assert module.startswith("edge.outputs.") and attribute.endswith("from_url")
