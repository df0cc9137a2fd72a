"""Output URLs, in one place: parsing, typed query parameters with strict validation, and the scheme registry.

``scheme://host/path?key=value&…`` names every actuator output (STYLE.md #3): ``sim://``, ``pca9685://1/0x40``,
``serial:///dev/ttyACM0``, ``spy://<link URL>``… ``edge.outputs`` (which opens them) and ``edge.link`` (the byte
transports behind firmware outputs) both read URLs through this module and never import each other for it.

Each scheme lists the query parameters it understands; a URL with any other parameter is refused when it is
parsed for opening or validated in a rig (a typo such as ``frq=1000`` must not be silently ignored).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from edge.errors import ConfigError

_FIRMWARE_PARAMS = frozenset(
    {"key", "channels", "smoothing_ms", "watchdog_ms", "thermal_limit", "thermal_tau_ms", "lost_after_s", "silent_s"}
)
_BLE_PARAMS = frozenset({"service", "char", "scan_s", "connect_s", "adapter", "reconnect_min_s", "reconnect_max_s"})
_SERIAL_PARAMS = frozenset({"baud"})


@dataclass(frozen=True)
class Scheme:
    """One output scheme: ``handler`` is ``"module.path:callable"`` taking ``(url: OutputURL, n_channels: int | None)``
    and returning an ``ActuatorOutput`` (imported only when a URL of this scheme is opened); ``params`` the query
    parameters it accepts."""

    handler: str
    params: frozenset[str]


_FIRMWARE = "edge.outputs.firmware:FirmwareOutput.from_url"
SCHEMES: dict[str, Scheme] = {
    "sim": Scheme("edge.outputs.sim:SimOutput.from_url", frozenset({"channels", "view"})),
    "pca9685": Scheme("edge.outputs.pca9685:PCA9685Output.from_url", frozenset({"first", "channels", "freq", "max"})),
    "drv2605": Scheme(
        "edge.outputs.drv2605:DRV2605Output.from_url",
        frozenset(
            {
                "mux",
                "channels",
                "mux_channel",
                "cal",
                "calibrate",
                "max",
                "actuator",
                "library",
                "rated_v",
                "clamp_v",
                "resonance_hz",
            }
        ),
    ),
    "gpio": Scheme("edge.outputs.gpio:GpioOutput.from_url", frozenset({"pins", "pwm", "chip", "freq", "max"})),
    "audio": Scheme(
        "edge.outputs.audio:AudioOutput.from_url",
        frozenset({"channels", "rate", "out_rate", "path", "device", "latency", "carrier_hz", "max"}),
    ),
    "serial": Scheme(_FIRMWARE, _FIRMWARE_PARAMS | _SERIAL_PARAMS),
    "loop": Scheme(_FIRMWARE, _FIRMWARE_PARAMS),
    "ble": Scheme(_FIRMWARE, _FIRMWARE_PARAMS | _BLE_PARAMS),
    "spy": Scheme(_FIRMWARE, _FIRMWARE_PARAMS | _SERIAL_PARAMS | _BLE_PARAMS | {"log"}),
}
"""Every output scheme the toolkit provides. To add one, add one entry here."""


def known_schemes() -> list[str]:
    return sorted(SCHEMES)


@dataclass(frozen=True)
class OutputURL:
    """A parsed output URL such as ``pca9685://1/0x40?freq=1000``.

    ``host`` is the part after ``//`` up to the first ``/``; ``path`` the rest without its leading ``/``;
    ``query`` maps each key to its last value.
    """

    url: str
    scheme: str
    host: str
    path: str
    query: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str) -> OutputURL:
        """Split ``url`` (syntax only; :meth:`parse_known` also checks the scheme and its parameters)."""
        parts = urlsplit(url)
        if not parts.scheme or "://" not in url:
            raise ConfigError(f"output URL {url!r}: expected 'scheme://…', e.g. 'sim://' or 'serial:///dev/ttyACM0'")
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        return cls(url=url, scheme=parts.scheme, host=parts.netloc, path=parts.path.lstrip("/"), query=query)

    @classmethod
    def parse_known(cls, url: str) -> OutputURL:
        """Parse ``url`` and check that its scheme is registered and every query parameter is one it accepts."""
        parsed = cls.parse(url)
        scheme = SCHEMES.get(parsed.scheme)
        if scheme is None:
            raise ConfigError(
                f"output URL {url!r}: unknown output scheme {parsed.scheme!r}; known: {', '.join(known_schemes())}"
            )
        unknown = sorted(set(parsed.query) - scheme.params)
        if unknown:
            hints = [
                f"{name} -> did you mean {close[0]}?"
                for name in unknown
                if (close := difflib.get_close_matches(name, sorted(scheme.params), n=1, cutoff=0.6))
            ]
            raise ConfigError(
                f"output URL {url!r}: unknown parameter(s) {', '.join(unknown)} for {parsed.scheme}://; "
                f"known: {', '.join(sorted(scheme.params))}" + (f" ({'; '.join(hints)})" if hints else "")
            )
        return parsed

    def error(self, reason: str) -> ConfigError:
        return ConfigError(f"output URL {self.url!r}: {reason}")

    def parse_int(self, text: str, what: str) -> int:
        """``text`` (decimal or 0x-hex) as an int; ``what`` names it in the error."""
        try:
            return int(text, 0)
        except ValueError:
            raise self.error(f"{what} {text!r} is not an integer") from None

    def int_param(self, key: str, default: int) -> int:
        """Query parameter ``key`` as an int (decimal or 0x-hex), or ``default`` when absent."""
        if key not in self.query:
            return default
        try:
            return int(self.query[key], 0)
        except ValueError:
            raise self.error(f"parameter {key}={self.query[key]!r} is not an integer") from None

    def float_param(self, key: str, default: float) -> float:
        """Query parameter ``key`` as a float, or ``default`` when absent."""
        if key not in self.query:
            return default
        try:
            return float(self.query[key])
        except ValueError:
            raise self.error(f"parameter {key}={self.query[key]!r} is not a number") from None

    def fraction_param(self, key: str, default: float) -> float:
        """Query parameter ``key`` as a fraction in (0, 1], e.g. ``max=0.8`` (a per-output intensity cap)."""
        value = self.float_param(key, default)
        if not 0.0 < value <= 1.0:
            raise self.error(f"parameter {key}={value} must be within (0, 1]")
        return value

    def int_list(self, key: str, default: list[int]) -> list[int]:
        """Query parameter ``key`` as a comma-separated list of ints (``channels=0,1,2``), or ``default``."""
        if key not in self.query:
            return list(default)
        items = [item.strip() for item in self.query[key].split(",") if item.strip()]
        if not items:
            raise self.error(f"parameter {key} is empty")
        return [self.parse_int(item, f"parameter {key} item") for item in items]

    def serial_port(self) -> str:
        """``serial:///dev/ttyACM0`` -> ``/dev/ttyACM0``; ``serial://COM3`` -> ``COM3``."""
        if self.host and self.path:
            return f"{self.host}/{self.path}"
        if self.host:
            return self.host
        if self.path:
            return "/" + self.path
        raise self.error("no port given, expected e.g. 'serial:///dev/ttyACM0'")

    def spy_inner_url(self) -> str:
        """``spy://serial:///dev/x?baud=9600&log=/tmp/l`` -> ``serial:///dev/x?baud=9600`` (``log`` is spy's)."""
        inner = self.url[len("spy://") :]
        if "://" not in inner:
            raise self.error("expected 'spy://<link URL>', e.g. 'spy://serial:///dev/ttyACM0'")
        base, _, query = inner.partition("?")
        kept = [part for part in query.split("&") if part and not part.startswith("log=")]
        return base + ("?" + "&".join(kept) if kept else "")
