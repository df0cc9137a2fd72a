"""Rig files (TOML): actuators, outputs, groups, routes and presets — loaded, validated, turned into a renderer.

A bad rig fails at load with ``ConfigError("FILE:LINE: KEY: reason")`` and never opens hardware: output URLs
are only parsed and their scheme checked. See docs/haptics.md for the schema.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge.controls import CONTROL_NAMES, LiveControls, check_controls
from edge.errors import ConfigError
from edge.haptics.spec import (
    ACTUATOR_KINDS,
    DRIVES,
    ALL_GROUP,
    FEATURES,
    MUSIC_PRESET,
    PATTERNS,
    WEIGHTINGS,
    ActuatorSpec,
    OutputSpec,
    PresetSpec,
    RenderParams,
    RigSpec,
    RouteSpec,
)
from edge.output_url import OutputURL
from edge.outputs import RoutedOutput, open_output

if TYPE_CHECKING:
    from edge.haptics.renderer import HapticRenderer

RIGS_DIR = Path(__file__).parent / "data" / "rigs"
DEFAULT_RIG = RIGS_DIR / "default-sim-vest.toml"
MAX_CARRIER_HZ = 1000.0
MAX_NYQUIST_HZ = 8000.0

# Presets every rig has unless it redefines one by name: alerts interrupt music with a distinct pattern,
# speech ducks it. Tags match the tagger's labels case-insensitively, '_' and '-' counting as spaces, so both
# the bundled packs' names ("baby_cry") and AudioSet names ("Baby cry, infant cry") work.
DEFAULT_PRESETS = (
    PresetSpec(name=MUSIC_PRESET, priority=0),
    PresetSpec(name="speech", priority=5, tags=("speech", "conversation", "narration, monologue"), music_gain=0.3),
    PresetSpec(name="knock", priority=8, tags=("knock",), pattern="knock", music_gain=0.0),
    PresetSpec(name="doorbell", priority=9, tags=("doorbell", "ding-dong"), pattern="doorbell", music_gain=0.0),
    PresetSpec(name="baby-cry", priority=10, tags=("baby cry", "baby cry, infant cry", "crying, sobbing"),
               pattern="baby-cry", music_gain=0.0),
    PresetSpec(name="alarm", priority=11, tags=("alarm", "smoke detector, smoke alarm", "fire alarm", "alarm clock"),
               pattern="alarm", music_gain=0.0),
    PresetSpec(name="siren", priority=12, tags=("siren", "civil defense siren", "police car (siren)",
               "ambulance (siren)", "fire engine, fire truck (siren)"), pattern="siren", music_gain=0.0),
)

_ACTUATOR_DEFAULTS = {"kind": "erm", "surface": "front", "resonance_hz": 180.0, "min_drive": 0.0, "max_drive": 1.0, "power": 1.0}
_SPINUP_BY_KIND = {"erm": 0.04, "lra": 0.0, "voice-coil": 0.0}
_DRIVE_BY_KIND = {"erm": "audio", "lra": "carrier", "voice-coil": "audio"}  # only audio-rate outputs use it
AUDIO_SCHEME = "audio"


class _Located:
    """Turns a key path such as ("actuators", 3, "kind") into "FILE:LINE: actuators[3].kind" for errors."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = text.splitlines()

    @staticmethod
    def key_name(path: tuple[Any, ...]) -> str:
        name = ""
        for part in path:
            name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
        return name

    def line_of(self, path: tuple[Any, ...]) -> int | None:
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

    def error(self, path: tuple[Any, ...], reason: str) -> ConfigError:
        line = self.line_of(path)
        where = f"{self.source}:{line}" if line is not None else self.source
        return ConfigError(f"rig {where}: {self.key_name(path)}: {reason}")


class _Reader:
    """Typed access to one TOML table with errors located in the file."""

    def __init__(self, located: _Located, table: dict[str, Any], path: tuple[Any, ...], allowed: set[str]) -> None:
        self.located = located
        self.table = table
        self.path = path
        if not isinstance(table, dict):
            raise located.error(path, f"expected a table, got {type(table).__name__}")
        for key in table:
            if key not in allowed:
                raise located.error(path + (key,), f"unknown key; allowed: {', '.join(sorted(allowed))}")

    def error(self, key: str, reason: str) -> ConfigError:
        return self.located.error(self.path + (key,), reason)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., required: bool = False) -> Any:
        if key not in self.table:
            if required or default is ...:
                raise self.located.error(self.path + (key,), "missing required key")
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


def _parse_outputs(located: _Located, raw: list[Any]) -> tuple[OutputSpec, ...]:
    outputs: list[OutputSpec] = []
    for index, table in enumerate(raw):
        reader = _Reader(located, table, ("outputs", index), {"id", "url"})
        output_id = reader.get("id", str)
        url = reader.get("url", str)
        try:  # syntax, scheme and parameter names only: no handler is imported, no hardware opened
            OutputURL.parse_known(url)
        except ConfigError as error:
            raise reader.error("url", str(error)) from None
        if output_id in {output.id for output in outputs}:
            raise reader.error("id", f"duplicate output id {output_id!r}")
        outputs.append(OutputSpec(id=output_id, url=url))
    return tuple(outputs)


def _parse_actuators(located: _Located, raw: list[Any], defaults: dict[str, Any], outputs: tuple[OutputSpec, ...]) -> tuple[ActuatorSpec, ...]:
    allowed = {"id", "kind", "surface", "position", "resonance_hz", "spinup_s", "min_drive", "max_drive", "power", "output",
               "channel", "drive"}
    output_ids = [output.id for output in outputs]
    actuators: list[ActuatorSpec] = []
    for index, table in enumerate(raw):
        if not isinstance(table, dict):
            raise located.error(("actuators", index), "expected a table")
        reader = _Reader(located, {**defaults, **table}, ("actuators", index), allowed)
        kind = reader.choice("kind", ACTUATOR_KINDS)
        resonance_hz = reader.number("resonance_hz", low=1.0)
        if resonance_hz >= MAX_CARRIER_HZ:
            raise reader.error("resonance_hz", f"{resonance_hz} Hz cannot be felt (skin resolves vibration below {MAX_CARRIER_HZ:.0f} Hz)")
        min_drive = reader.number("min_drive", low=0.0, high=1.0)
        max_drive = reader.number("max_drive", low=0.0, high=1.0)
        if min_drive >= max_drive:
            raise reader.error("max_drive", f"must exceed min_drive ({min_drive}), got {max_drive}")
        output = reader.get("output", str, output_ids[0] if len(output_ids) == 1 else ...)
        if output not in output_ids:
            raise reader.error("output", f"no output with id {output!r}; outputs: {', '.join(output_ids)}")
        channel = reader.get("channel", int, sum(1 for a in actuators if a.output == output))
        if channel < 0:
            raise reader.error("channel", f"must be >= 0, got {channel}")
        if any(a.output == output and a.channel == channel for a in actuators):
            raise reader.error("channel", f"channel {channel} of output {output!r} is already used")
        actuator_id = reader.get("id", str)
        if actuator_id in {a.id for a in actuators} or actuator_id == ALL_GROUP:
            raise reader.error("id", f"duplicate or reserved actuator id {actuator_id!r}")
        actuators.append(
            ActuatorSpec(
                id=actuator_id,
                kind=kind,
                surface=reader.get("surface", str),
                position=reader.pair("position", (0.5, 0.5), high=1.0),
                resonance_hz=resonance_hz,
                output=output,
                channel=channel,
                spinup_s=reader.number("spinup_s", _SPINUP_BY_KIND[kind], low=0.0, high=1.0),
                min_drive=min_drive,
                max_drive=max_drive,
                power=reader.number("power", low=0.0),
                drive=reader.choice("drive", DRIVES, _DRIVE_BY_KIND[kind]),
            )
        )
    if not actuators:
        raise located.error(("actuators",), "a rig needs at least one [[actuators]] entry")
    for output in outputs:
        channels = sorted(a.channel for a in actuators if a.output == output.id)
        if channels != list(range(len(channels))):
            raise located.error(("outputs", output_ids.index(output.id), "id"), f"channels of output {output.id!r} must be 0..n-1 without gaps, got {channels}")
    return tuple(actuators)


def _parse_groups(located: _Located, raw: Any, actuators: tuple[ActuatorSpec, ...]) -> dict[str, tuple[int, ...]]:
    if not isinstance(raw, dict):
        raise located.error(("groups",), "expected a table of name = [actuator ids]")
    ids = [a.id for a in actuators]
    groups: dict[str, tuple[int, ...]] = {}
    for name, members in raw.items():
        path = ("groups", name)
        if name == ALL_GROUP:
            raise located.error(path, f"{ALL_GROUP!r} is reserved (it always means every actuator)")
        if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
            raise located.error(path, "expected a non-empty list of actuator ids")
        unknown = [m for m in members if m not in ids]
        if unknown:
            raise located.error(path, f"unknown actuator id(s) {', '.join(unknown)}")
        groups[name] = tuple(ids.index(m) for m in members)
    return groups


def _check_group(reader: _Reader, groups: dict[str, tuple[int, ...]], key: str, name: str) -> None:
    if name != ALL_GROUP and name not in groups:
        raise reader.error(key, f"unknown group {name!r}; groups: {', '.join([ALL_GROUP, *groups])}")


def _parse_presets(located: _Located, raw: list[Any], groups: dict[str, tuple[int, ...]]) -> tuple[PresetSpec, ...]:
    presets = {preset.name: preset for preset in DEFAULT_PRESETS}
    allowed = {"name", "priority", "tags", "pattern", "group", "gain", "music_gain"}
    for index, table in enumerate(raw):
        reader = _Reader(located, table, ("presets", index), allowed)
        name = reader.get("name", str)
        base = presets.get(name, PresetSpec(name=name, priority=1))
        pattern = reader.get("pattern", str, base.pattern or "")
        if pattern and pattern not in PATTERNS:
            raise reader.error("pattern", f"{pattern!r} is not one of {', '.join(PATTERNS)}")
        group = reader.get("group", str, base.group)
        _check_group(reader, groups, "group", group)
        priority = reader.get("priority", int, base.priority)
        if name == MUSIC_PRESET and (priority != 0 or table.get("tags")):
            raise reader.error("priority", "the music preset is the always-on base: priority 0, no tags")
        presets[name] = PresetSpec(
            name=name,
            priority=priority,
            tags=reader.strings("tags", base.tags),
            pattern=pattern or None,
            group=group,
            gain=reader.number("gain", base.gain, low=0.0, high=1.0),
            music_gain=reader.number("music_gain", base.music_gain, low=0.0, high=1.0),
        )
    return tuple(presets.values())


def _parse_routes(located: _Located, raw: list[Any], groups: dict[str, tuple[int, ...]], preset_names: set[str]) -> tuple[RouteSpec, ...]:
    allowed = {"source", "feature", "group", "gain", "band_hz", "weighting", "presets"}
    routes = []
    for index, table in enumerate(raw):
        reader = _Reader(located, table, ("routes", index), allowed)
        group = reader.get("group", str)
        _check_group(reader, groups, "group", group)
        band_hz = reader.pair("band_hz", (20.0, MAX_NYQUIST_HZ), high=MAX_NYQUIST_HZ)
        if band_hz[0] >= band_hz[1]:
            raise reader.error("band_hz", f"low edge must be below high edge, got {list(band_hz)}")
        presets = reader.strings("presets", (MUSIC_PRESET,))
        unknown = [name for name in presets if name not in preset_names]
        if unknown:
            raise reader.error("presets", f"unknown preset(s) {', '.join(unknown)}; presets: {', '.join(sorted(preset_names))}")
        routes.append(
            RouteSpec(
                source=reader.get("source", str),
                feature=reader.choice("feature", FEATURES),
                group=group,
                gain=reader.number("gain", 1.0, low=0.0, high=4.0),
                band_hz=band_hz,
                weighting=reader.choice("weighting", WEIGHTINGS, "flat"),
                presets=presets,
            )
        )
    return tuple(routes)


def _parse_params(located: _Located, raw: Any) -> RenderParams:
    names = {f.name for f in fields(RenderParams)}
    reader = _Reader(located, raw, ("render",), names)
    values = {name: reader.number(name, getattr(RenderParams(), name), low=0.0) for name in names}
    if values["tag_off"] > values["tag_on"]:
        raise reader.error("tag_off", f"must not exceed tag_on ({values['tag_on']})")
    return RenderParams(**values)


def parse_rig(text: str, source: str = "<rig>") -> RigSpec:
    """Parse and validate rig TOML ``text``; ``source`` names the file in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"rig {source}: invalid TOML: {error}") from None
    located = _Located(source, text)
    top = _Reader(located, data, (), {"rig", "outputs", "actuators", "defaults", "groups", "routes", "presets", "render", "controls"})
    meta = _Reader(located, top.get("rig", dict, {}), ("rig",), {"name", "description"})
    outputs = _parse_outputs(located, top.get("outputs", list, required=True))
    if not outputs:
        raise located.error(("outputs",), "a rig needs at least one [[outputs]] entry")
    defaults = top.get("defaults", dict, {})
    _Reader(located, defaults, ("defaults",), set(_ACTUATOR_DEFAULTS) | {"spinup_s"})
    actuators = _parse_actuators(located, top.get("actuators", list, required=True), {**_ACTUATOR_DEFAULTS, **defaults}, outputs)
    groups = _parse_groups(located, top.get("groups", dict, {}), actuators)
    presets = _parse_presets(located, top.get("presets", list, []), groups)
    routes = _parse_routes(located, top.get("routes", list, []), groups, {preset.name for preset in presets})
    return RigSpec(
        name=meta.get("name", str, Path(source).stem),
        description=meta.get("description", str, ""),
        actuators=actuators,
        outputs=outputs,
        groups=groups,
        routes=routes,
        presets=presets,
        params=_parse_params(located, top.get("render", dict, {})),
    )


def parse_controls(text: str, spec: RigSpec, source: str = "<rig>") -> LiveControls:
    """The rig's ``[controls]`` table (the live controls a session starts with; ``sense serve`` saves them there),
    validated against ``spec``; defaults without one."""
    raw = tomllib.loads(text).get("controls", {})
    located = _Located(source, text)
    reader = _Reader(located, raw, ("controls",), set(CONTROL_NAMES))
    controls = LiveControls()
    for key, value in raw.items():
        try:
            controls = check_controls(spec, None, controls, {key: value})
        except ConfigError as error:
            raise reader.error(key, str(error).split(": ", 1)[-1]) from None
    return controls


@dataclass(frozen=True)
class Rig:
    """A loaded rig: what the pipeline needs to render and to open the outputs, and the live controls it starts
    with (its ``[controls]`` table)."""

    spec: RigSpec
    path: Path | None = None
    controls: LiveControls = LiveControls()

    @property
    def n_actuators(self) -> int:
        return len(self.spec.actuators)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def actuator_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.spec.actuators)

    def make_renderer(self, stems: tuple[str, ...], labels: tuple[str, ...]) -> "HapticRenderer":
        """The rig's renderer for a separator with ``stems`` (empty: DSP-only) and a tagger with ``labels``."""
        from edge.haptics.renderer import HapticRenderer

        return HapticRenderer(self.spec, tuple(stems), tuple(labels))

    def open_outputs(self, override_url: str | None = None) -> list[RoutedOutput]:
        """Open every output of the rig (or one ``override_url`` output carrying all actuators).

        If opening one fails, the ones already open are closed (zeroed) before the error propagates.
        """
        if override_url is not None:
            plan = [(override_url, np.arange(self.n_actuators))]
        else:
            plan = []
            for output in self.spec.outputs:
                members = [(a.channel, index) for index, a in enumerate(self.spec.actuators) if a.output == output.id]
                if members:
                    plan.append((output.url, np.array([index for _, index in sorted(members)], dtype=int)))
        opened: list[RoutedOutput] = []
        try:
            for url, indices in plan:
                opened_output = open_output(url, len(indices))
                opened.append(self._routed(url, opened_output, indices))
                self._attach_layout(opened_output, indices)
        except BaseException:
            for routed in opened:
                routed.output.close()
            raise
        return opened

    def _routed(self, url: str, output: Any, indices: np.ndarray) -> RoutedOutput:
        """Audio outputs with carrier-driven actuators get each channel's carrier instead of the frame audio."""
        actuators = [self.spec.actuators[int(index)] for index in indices]
        if OutputURL.parse(url).scheme != AUDIO_SCHEME or all(a.drive != "carrier" for a in actuators):
            return RoutedOutput(output, indices)
        from edge.stream import DEVICE_STREAM
        from edge.outputs.carrier_drive import CarrierDrive, CarrierRoutedOutput

        carrier_hz = np.array([a.resonance_hz if a.drive == "carrier" else 0.0 for a in actuators])
        return CarrierRoutedOutput(output, indices, CarrierDrive(carrier_hz, DEVICE_STREAM.sample_rate_hz))

    def _attach_layout(self, output: Any, indices: np.ndarray) -> None:
        """Outputs that draw the rig (``sim://?view=live``) get the actuators' names and body positions."""
        set_layout = getattr(output, "set_layout", None)
        if callable(set_layout):
            set_layout([self.spec.actuators[int(index)] for index in indices])


def load_rig(path: str | Path) -> Rig:
    """Load and validate a rig file. A bare name such as ``wristband-drv2605`` finds a bundled example rig."""
    candidate = Path(path)
    if not candidate.exists() and (RIGS_DIR / f"{path}.toml").exists():
        candidate = RIGS_DIR / f"{path}.toml"
    if not candidate.exists():
        bundled = ", ".join(sorted(p.stem for p in RIGS_DIR.glob("*.toml")))
        raise ConfigError(f"rig {path}: no such file (bundled rigs: {bundled})")
    try:
        text = candidate.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"rig {candidate}: cannot read: {error}") from None
    spec = parse_rig(text, str(candidate))
    return Rig(spec, candidate, parse_controls(text, spec, str(candidate)))


def default_rig() -> Rig:
    """The bundled 16-motor simulated vest on ``sim://``."""
    return load_rig(DEFAULT_RIG)
