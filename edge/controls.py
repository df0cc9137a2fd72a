"""Live controls of a running session: what to feel (mode), master intensity, per-group gains, preset lock, mute.

They act at the session level, around the rig's renderer (:class:`ControlledRenderer`), never inside it: the
renderer computes the hop as usual and the controls scale its frame per actuator, so a change takes effect on the
next hop rendered and the renderer's own state (envelopes, normalisers, tag hysteresis) is never disturbed.

- **mode** keeps the actuators that the chosen part of the music drives, worked out from the rig's routes: an
  actuator plays if any route of the mode drives its group (``beat``: onset routes and drum routes; ``bass``,
  ``vocals``: routes from that stem; ``speech``: the speech preset's routes and the vocals' routes). Alerts (a
  preset with a pattern: alarm, doorbell, …) are never hidden by the mode.
- **master** and **group gains** only attenuate (0..1): the renderer's per-actuator limits and total power cap
  still hold. Overlapping groups multiply (drums 0.5 and kick 0.5 give the kick motors 0.25).
- **preset lock**: ``music`` withholds the tags from the renderer (no preset switching, from the next hop); another
  preset holds its own tags on, so it engages after the renderer's tag smoothing (``tag_smoothing_s``).
- **muted** renders zeros (the session also zeroes every output at once when it is set).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from edge.analysis import Analysis
from edge.errors import ConfigError
from edge.haptics.base import Renderer
from edge.haptics.spec import ALL_GROUP, MUSIC_PRESET, RigSpec, RouteSpec

MODES = ("everything", "beat", "bass", "vocals", "speech")
"""What to feel: every route, or only the routes of one part of the music."""
SPEECH_PRESET = "speech"
MAX_GAIN = 1.0
"""Master and group gains attenuate only, so the renderer's drive limits and power cap stay in force."""
CONTROL_NAMES = ("mode", "master", "group_gains", "preset_lock", "muted")


@dataclass(frozen=True)
class LiveControls:
    """The controls' values. ``group_gains``: rig group -> gain in [0, 1] (groups not named: 1); ``preset_lock``:
    a preset name or None (presets follow the tags)."""

    mode: str = "everything"
    master: float = 1.0
    group_gains: Mapping[str, float] = field(default_factory=dict)
    preset_lock: str | None = None
    muted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "master": self.master,
            "group_gains": dict(self.group_gains),
            "preset_lock": self.preset_lock,
            "muted": self.muted,
        }


def route_in_mode(route: RouteSpec, mode: str) -> bool:
    """Whether ``route`` plays in ``mode`` (see the module docstring)."""
    if mode == "everything":
        return True
    if mode == "beat":
        return route.feature == "onset" or route.source == "drums"
    if mode == "speech":
        return SPEECH_PRESET in route.presets or route.source == "vocals"
    return route.source == mode


def group_members(spec: RigSpec) -> dict[str, np.ndarray]:
    """Group name -> actuator indices, with ``all``."""
    members = {name: np.asarray(indices, dtype=int) for name, indices in spec.groups.items()}
    members[ALL_GROUP] = np.arange(len(spec.actuators))
    return members


def mode_mask(spec: RigSpec, mode: str) -> np.ndarray:
    """(n_actuators,) 1.0 where a route of ``mode`` drives the actuator, else 0.0 (``everything``: all ones)."""
    n_actuators = len(spec.actuators)
    if mode == "everything":
        return np.ones(n_actuators)
    groups = group_members(spec)
    mask = np.zeros(n_actuators)
    for route in spec.routes:
        if route_in_mode(route, mode):
            mask[groups[route.group]] = 1.0
    return mask


def _gain(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"control {name}: expected a number in [0, {MAX_GAIN:g}], got {value!r}")
    if not 0.0 <= value <= MAX_GAIN:
        raise ConfigError(f"control {name}: {value!r} is out of range [0, {MAX_GAIN:g}]")
    return float(value)


def lock_labels(spec: RigSpec, preset: str, labels: tuple[str, ...]) -> list[int]:
    """Indices of the tagger labels that switch ``preset`` on (empty for music)."""
    from edge.haptics.renderer import normalise_label

    tags = next(p.tags for p in spec.presets if p.name == preset)
    names = [normalise_label(label) for label in labels]
    return sorted({names.index(normalise_label(tag)) for tag in tags if normalise_label(tag) in names})


def check_controls(
    spec: RigSpec, labels: tuple[str, ...] | None, current: LiveControls, changes: Mapping[str, Any]
) -> LiveControls:
    """``current`` with ``changes`` (control name -> value as JSON gives it) applied, validated against the rig and
    the tagger's ``labels`` (None: not known yet, a held preset's tags are not checked); a ConfigError names the
    control and what it accepts. ``group_gains`` changes are merged into the current ones."""
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "mode":
            if value not in MODES:
                raise ConfigError(f"control mode: {value!r} is not one of {', '.join(MODES)}")
            if not mode_mask(spec, value).any():
                playable = [mode for mode in MODES if mode_mask(spec, mode).any()]
                raise ConfigError(
                    f"control mode: {value!r}: no route of rig {spec.name!r} plays in it; "
                    f"modes of this rig: {', '.join(playable)}"
                )
            values[name] = value
        elif name == "master":
            values[name] = _gain("master", value)
        elif name == "group_gains":
            if not isinstance(value, Mapping):
                raise ConfigError(f"control group_gains: expected an object of group -> gain, got {value!r}")
            known = [ALL_GROUP, *spec.groups]
            gains = dict(values.get(name, current.group_gains))
            for group, gain in value.items():
                if group not in known:
                    raise ConfigError(f"control group_gains: unknown group {group!r}; groups: {', '.join(known)}")
                gains[group] = _gain(f"group_gains.{group}", gain)
            values[name] = gains
        elif name == "preset_lock":
            names = [preset.name for preset in spec.presets]
            if value is not None and value not in names:
                raise ConfigError(
                    f"control preset_lock: {value!r} is not a preset of rig {spec.name!r}; "
                    f"presets: {', '.join(names)} (or null to follow the tags)"
                )
            if value not in (None, MUSIC_PRESET) and labels is not None and not lock_labels(spec, value, labels):
                raise ConfigError(
                    f"control preset_lock: preset {value!r} cannot be held: none of its tags is among "
                    f"the tagger's labels ({len(labels)} labels)"
                )
            values[name] = value
        elif name == "muted":
            if not isinstance(value, bool):
                raise ConfigError(f"control muted: expected true or false, got {value!r}")
            values[name] = value
        else:
            raise ConfigError(f"unknown control {name!r}; controls: {', '.join(CONTROL_NAMES)}")
    return replace(current, **values)


def fit_controls(spec: RigSpec, labels: tuple[str, ...], controls: LiveControls) -> LiveControls:
    """``controls`` cut down to what ``spec`` has (another rig or pack): unknown groups dropped, a mode or lock it
    cannot play reset."""
    groups = {ALL_GROUP, *spec.groups}
    fitted = replace(controls, group_gains={g: v for g, v in controls.group_gains.items() if g in groups})
    try:
        check_controls(spec, labels, fitted, {"mode": fitted.mode})
    except ConfigError:
        fitted = replace(fitted, mode="everything")
    try:
        check_controls(spec, labels, fitted, {"preset_lock": fitted.preset_lock})
    except ConfigError:
        fitted = replace(fitted, preset_lock=None)
    return fitted


@dataclass(frozen=True)
class _Applied:
    """What one hop reads, swapped as one object so a hop never sees half a change."""

    controls: LiveControls
    music_gain: np.ndarray | None
    """(n_actuators,) gains of music frames, None when every gain is 1."""
    alert_gain: np.ndarray | None
    """(n_actuators,) gains of alert frames (the mode does not apply), None when every gain is 1."""
    lock_columns: list[int]


class ControlledRenderer:
    """The rig's renderer with the live controls applied to its frames (implements the Renderer protocol).

    Also keeps the last frame's tags and active preset for live views (one row, no history)."""

    def __init__(
        self, inner: Renderer, spec: RigSpec, labels: tuple[str, ...], controls: LiveControls | None = None
    ) -> None:
        self.inner = inner
        self.spec = spec
        self.labels = tuple(labels)
        self.n_channels = len(spec.actuators)
        self._alert_presets = {preset.name for preset in spec.presets if preset.pattern is not None}
        self.last_tags: np.ndarray | None = None
        """(n_labels,) the tag probabilities of the last frame rendered, None before the first or without a tagger."""
        self.last_preset = MUSIC_PRESET
        self.set_controls(controls or LiveControls())

    @property
    def controls(self) -> LiveControls:
        return self._applied.controls

    @property
    def last_presets(self) -> list[str]:
        return list(getattr(self.inner, "last_presets", []))

    def check(self, changes: Mapping[str, Any]) -> LiveControls:
        return check_controls(self.spec, self.labels, self.controls, changes)

    def set_controls(self, controls: LiveControls) -> None:
        """Apply ``controls`` (validated by :meth:`check`) from the next hop."""
        gains = np.full(self.n_channels, controls.master)
        groups = group_members(self.spec)
        for group, gain in controls.group_gains.items():
            gains[groups[group]] *= gain
        music = gains * mode_mask(self.spec, controls.mode)
        lock = controls.preset_lock
        self._applied = _Applied(
            controls,
            None if np.all(music == 1.0) else music,
            None if np.all(gains == 1.0) else gains,
            lock_labels(self.spec, lock, self.labels) if lock not in (None, MUSIC_PRESET) else [],
        )

    def reset(self) -> None:
        self.inner.reset()

    def _locked(self, analysis: Analysis, applied: _Applied) -> Analysis:
        if applied.controls.preset_lock is None or analysis.tag_probs is None:
            return analysis
        if applied.controls.preset_lock == MUSIC_PRESET:
            return replace(analysis, tag_probs=None)
        held = np.zeros_like(analysis.tag_probs)
        held[:, applied.lock_columns] = 1.0
        return replace(analysis, tag_probs=held)

    def process(self, analysis: Analysis) -> np.ndarray:
        applied = self._applied
        out = np.asarray(self.inner.process(self._locked(analysis, applied)), dtype=np.float32)
        if analysis.tag_probs is not None and len(analysis.tag_probs):
            self.last_tags = np.array(analysis.tag_probs[-1], dtype=np.float32)
        presets: list[str] = getattr(self.inner, "last_presets", [])  # read, not copied
        if presets:
            self.last_preset = presets[-1]
        if applied.controls.muted:
            return np.zeros_like(out)
        if applied.music_gain is None and applied.alert_gain is None:
            return out
        ones = np.ones(self.n_channels)
        music_gain = ones if applied.music_gain is None else applied.music_gain
        alert_gain = ones if applied.alert_gain is None else applied.alert_gain
        gain = np.repeat(music_gain[None, :], out.shape[0], axis=0)
        if presets and self._alert_presets:
            alert_frames = np.array([name in self._alert_presets for name in presets[-out.shape[0] :]], dtype=bool)
            gain[alert_frames] = alert_gain
        return (out * gain).astype(np.float32)
