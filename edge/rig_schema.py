"""The rules of a rig file: its tables and keys, their defaults, and what makes a rig invalid.

:func:`parse_rig` turns rig TOML into a :class:`~edge.haptics.spec.RigSpec` or fails with
``ConfigError("rig FILE:LINE: KEY: reason")``. It never opens hardware: output URLs are only parsed and their scheme
checked. See docs/haptics.md for the schema; :mod:`edge.rig` loads rig files.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

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
from edge.stream import MAX_HAPTIC_OFFSET_MS
from edge.typed_config import TableReader, parse_toml

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
    PresetSpec(
        name="baby-cry",
        priority=10,
        tags=("baby cry", "baby cry, infant cry", "crying, sobbing"),
        pattern="baby-cry",
        music_gain=0.0,
    ),
    PresetSpec(
        name="alarm",
        priority=11,
        tags=("alarm", "smoke detector, smoke alarm", "fire alarm", "alarm clock"),
        pattern="alarm",
        music_gain=0.0,
    ),
    PresetSpec(
        name="siren",
        priority=12,
        tags=(
            "siren",
            "civil defense siren",
            "police car (siren)",
            "ambulance (siren)",
            "fire engine, fire truck (siren)",
        ),
        pattern="siren",
        music_gain=0.0,
    ),
)

_ACTUATOR_DEFAULTS = {
    "kind": "erm",
    "surface": "front",
    "resonance_hz": 180.0,
    "min_drive": 0.0,
    "max_drive": 1.0,
    "power": 1.0,
}
_SPINUP_BY_KIND = {"erm": 0.04, "lra": 0.0, "voice-coil": 0.0}
_DRIVE_BY_KIND = {"erm": "audio", "lra": "carrier", "voice-coil": "audio"}  # only audio-rate outputs use it


def _parse_outputs(top: TableReader) -> tuple[OutputSpec, ...]:
    outputs: list[OutputSpec] = []
    for reader in top.tables_at("outputs", {"id", "url"}):
        output_id = reader.get("id", str)
        url = reader.get("url", str)
        try:  # syntax, scheme and parameter names only: no handler is imported, no hardware opened
            OutputURL.parse_known(url)
        except ConfigError as error:
            raise reader.error("url", str(error)) from None
        if output_id in {output.id for output in outputs}:
            raise reader.error("id", f"is {output_id!r}, already used", "a unique output id")
        outputs.append(OutputSpec(id=output_id, url=url))
    if not outputs:
        raise top.error("outputs", "is empty", "at least one [[outputs]] entry")
    return tuple(outputs)


def _parse_actuators(
    top: TableReader, defaults: dict[str, Any], outputs: tuple[OutputSpec, ...]
) -> tuple[ActuatorSpec, ...]:
    allowed = {
        "id",
        "kind",
        "surface",
        "position",
        "resonance_hz",
        "spinup_s",
        "min_drive",
        "max_drive",
        "power",
        "output",
        "channel",
        "drive",
    }
    output_ids = [output.id for output in outputs]
    actuators: list[ActuatorSpec] = []
    for item in top.tables_at("actuators"):
        reader = TableReader(item.document, {**defaults, **item.table}, item.path, allowed)
        kind = reader.choice("kind", ACTUATOR_KINDS)
        resonance_hz = reader.number("resonance_hz", low=1.0)
        if resonance_hz >= MAX_CARRIER_HZ:
            raise reader.error(
                "resonance_hz",
                f"{resonance_hz} Hz cannot be felt",
                f"below {MAX_CARRIER_HZ:.0f} Hz, where skin resolves vibration",
            )
        min_drive = reader.number("min_drive", low=0.0, high=1.0)
        max_drive = reader.number("max_drive", low=0.0, high=1.0)
        if min_drive >= max_drive:
            raise reader.error("max_drive", f"is {max_drive}", f"more than min_drive ({min_drive})")
        output = reader.get("output", str, output_ids[0] if len(output_ids) == 1 else ...)
        if output not in output_ids:
            raise reader.error("output", f"no output with id {output!r}", f"one of {', '.join(output_ids)}")
        channel = reader.integer("channel", sum(1 for a in actuators if a.output == output), low=0)
        if any(a.output == output and a.channel == channel for a in actuators):
            raise reader.error("channel", f"channel {channel} of output {output!r} is already used", "a free channel")
        actuator_id = reader.get("id", str)
        if actuator_id in {a.id for a in actuators} or actuator_id == ALL_GROUP:
            raise reader.error(
                "id",
                f"is {actuator_id!r}, a duplicate or reserved actuator id",
                f"a unique id other than {ALL_GROUP!r}",
            )
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
        raise top.error("actuators", "is empty", "at least one [[actuators]] entry")
    for output in outputs:
        channels = sorted(a.channel for a in actuators if a.output == output.id)
        if channels != list(range(len(channels))):
            raise top.document.error(
                ("outputs", output_ids.index(output.id), "id"),
                f"channels of output {output.id!r} must be 0..n-1 without gaps, got {channels}",
            )
    return tuple(actuators)


def _parse_groups(top: TableReader, actuators: tuple[ActuatorSpec, ...]) -> dict[str, tuple[int, ...]]:
    reader = top.table_at("groups", default={})
    ids = [a.id for a in actuators]
    groups: dict[str, tuple[int, ...]] = {}
    for name in reader.table:
        if name == ALL_GROUP:
            raise reader.error(name, f"{ALL_GROUP!r} is reserved (it always means every actuator)")
        members = reader.strings(name, non_empty=True)
        unknown = [m for m in members if m not in ids]
        if unknown:
            raise reader.error(name, f"unknown actuator id(s) {', '.join(unknown)}", f"ids from {', '.join(ids)}")
        groups[name] = tuple(ids.index(m) for m in members)
    return groups


def _check_group(reader: TableReader, groups: dict[str, tuple[int, ...]], key: str, name: str) -> None:
    if name != ALL_GROUP and name not in groups:
        raise reader.error(key, f"unknown group {name!r}", f"one of {', '.join([ALL_GROUP, *groups])}")


def _parse_presets(top: TableReader, groups: dict[str, tuple[int, ...]]) -> tuple[PresetSpec, ...]:
    presets = {preset.name: preset for preset in DEFAULT_PRESETS}
    allowed = {"name", "priority", "tags", "pattern", "group", "gain", "music_gain"}
    for reader in top.tables_at("presets", allowed, default=[]):
        name = reader.get("name", str)
        base = presets.get(name, PresetSpec(name=name, priority=1))
        pattern = reader.get("pattern", str, base.pattern or "")
        if pattern and pattern not in PATTERNS:
            raise reader.error("pattern", f"is {pattern!r}", f'one of {", ".join(PATTERNS)}, or "" for none')
        group = reader.get("group", str, base.group)
        _check_group(reader, groups, "group", group)
        priority = reader.integer("priority", base.priority)
        if name == MUSIC_PRESET and (priority != 0 or reader.table.get("tags")):
            raise reader.error(
                "priority",
                f"is {priority}" + (" with tags" if reader.table.get("tags") else ""),
                "the music preset is the always-on base: priority 0, no tags",
            )
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


def _parse_routes(
    top: TableReader, groups: dict[str, tuple[int, ...]], preset_names: set[str]
) -> tuple[RouteSpec, ...]:
    allowed = {"source", "feature", "group", "gain", "band_hz", "weighting", "presets"}
    routes = []
    for reader in top.tables_at("routes", allowed, default=[]):
        group = reader.get("group", str)
        _check_group(reader, groups, "group", group)
        band_hz = reader.pair("band_hz", (20.0, MAX_NYQUIST_HZ), high=MAX_NYQUIST_HZ)
        if band_hz[0] >= band_hz[1]:
            raise reader.error("band_hz", f"is {list(band_hz)}", "a low edge below the high edge")
        presets = reader.strings("presets", (MUSIC_PRESET,))
        unknown = [name for name in presets if name not in preset_names]
        if unknown:
            raise reader.error(
                "presets", f"unknown preset(s) {', '.join(unknown)}", f"some of {', '.join(sorted(preset_names))}"
            )
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


def _parse_params(top: TableReader) -> RenderParams:
    names = {f.name for f in fields(RenderParams)}
    reader = top.table_at("render", names, default={})
    values = {name: reader.number(name, getattr(RenderParams(), name), low=0.0) for name in names}
    if values["tag_off"] > values["tag_on"]:
        raise reader.error("tag_off", f"is {values['tag_off']}", f"at most tag_on ({values['tag_on']})")
    return RenderParams(**values)


def parse_rig(text: str, source: str = "<rig>") -> RigSpec:
    """Parse and validate rig TOML ``text``; ``source`` names the file in errors."""
    data, document = parse_toml("rig", source, text)
    top = TableReader(
        document,
        data,
        (),
        {"rig", "outputs", "actuators", "defaults", "groups", "routes", "presets", "render", "controls"},
    )
    meta = top.table_at("rig", {"name", "description", "haptic_offset_ms"}, default={})
    outputs = _parse_outputs(top)
    defaults = top.table_at("defaults", set(_ACTUATOR_DEFAULTS) | {"spinup_s"}, default={}).table
    actuators = _parse_actuators(top, {**_ACTUATOR_DEFAULTS, **defaults}, outputs)
    groups = _parse_groups(top, actuators)
    presets = _parse_presets(top, groups)
    routes = _parse_routes(top, groups, {preset.name for preset in presets})
    return RigSpec(
        name=meta.get("name", str, Path(source).stem),
        description=meta.get("description", str, ""),
        actuators=actuators,
        outputs=outputs,
        groups=groups,
        routes=routes,
        presets=presets,
        params=_parse_params(top),
        haptic_offset_ms=meta.number("haptic_offset_ms", 0.0, low=-MAX_HAPTIC_OFFSET_MS, high=MAX_HAPTIC_OFFSET_MS),
    )


def parse_controls(text: str, spec: RigSpec, source: str = "<rig>") -> LiveControls:
    """The rig's ``[controls]`` table (the live controls a session starts with; ``sense serve`` saves them there),
    validated against ``spec``; defaults without one."""
    data, document = parse_toml("rig", source, text)
    raw = data.get("controls", {})
    reader = TableReader(document, raw, ("controls",), set(CONTROL_NAMES))
    controls = LiveControls()
    for key, value in raw.items():
        try:
            controls = check_controls(spec, None, controls, {key: value})
        except ConfigError as error:
            raise reader.error(key, str(error).split(": ", 1)[-1]) from None
    return controls
