"""Plain, validated descriptions of a rig that the renderer is built from (the TOML rules live in edge.rig_schema, the loader in edge.rig)."""

from __future__ import annotations

from dataclasses import dataclass, field

ACTUATOR_KINDS = ("erm", "lra", "voice-coil")
DRIVES = ("carrier", "audio")
FEATURES = ("energy", "onset", "pitch")
WEIGHTINGS = ("flat", "tactile")
PATTERNS = ("alarm", "siren", "doorbell", "knock", "baby-cry", "pulse")
MIXTURE_SOURCE = "mixture"
MUSIC_PRESET = "music"
ALL_GROUP = "all"


@dataclass(frozen=True)
class ActuatorSpec:
    """One actuator. ``position`` (x, y) in [0, 1] on its ``surface`` (x left -> right, y bottom -> top).

    ``resonance_hz``: LRA resonance / voice-coil centre / ERM rated vibration frequency at full drive.
    ``spinup_s``: ERM spin-up time constant (0 for LRAs and voice coils). ``min_drive``/``max_drive``: the
    drive range in [0, 1] (start-up dead zone, safety cap). ``power``: relative power at full drive, for the
    total power cap. ``output``/``channel``: which output and which of its channels drives it. ``drive``: on
    an audio-rate output, "carrier" (a sine at ``resonance_hz``) or "audio" (the sound itself).
    """

    id: str
    kind: str
    surface: str
    position: tuple[float, float]
    resonance_hz: float
    output: str
    channel: int
    spinup_s: float = 0.0
    min_drive: float = 0.0
    max_drive: float = 1.0
    power: float = 1.0
    drive: str = "audio"


@dataclass(frozen=True)
class OutputSpec:
    id: str
    url: str


@dataclass(frozen=True)
class RouteSpec:
    """(source, feature) -> actuator group, active while one of ``presets`` is.

    ``source``: a stem name or "mixture". ``feature``: "energy" (band envelope), "onset" (pulses on spectral
    flux onsets) or "pitch" (energy placed along the group by the source's pitch, phantom sensation).
    ``band_hz``: the part of the source's spectrum the feature looks at.
    """

    source: str
    feature: str
    group: str
    gain: float = 1.0
    band_hz: tuple[float, float] = (20.0, 8000.0)
    weighting: str = "flat"
    presets: tuple[str, ...] = (MUSIC_PRESET,)


@dataclass(frozen=True)
class PresetSpec:
    """A rendering mode switched on by tags. The active preset is the highest ``priority`` one whose tags are on
    ("music", priority 0, is always on). While active, its routes play, its ``pattern`` plays on ``group`` with
    ``gain``, and the music routes are scaled by ``music_gain`` (0 interrupts the music)."""

    name: str
    priority: int
    tags: tuple[str, ...] = ()
    pattern: str | None = None
    group: str = ALL_GROUP
    gain: float = 1.0
    music_gain: float = 1.0


@dataclass(frozen=True)
class RenderParams:
    """Renderer time constants and levels (seconds, linear intensity)."""

    attack_s: float = 0.005
    release_s: float = 0.08
    compression_exponent: float = 0.6
    gate: float = 0.05
    normaliser_decay_s: float = 3.0
    pulse_decay_s: float = 0.06
    max_total_power: float = 8.0
    tag_smoothing_s: float = 0.15
    tag_on: float = 0.5
    tag_off: float = 0.3
    tag_min_hold_s: float = 0.5


@dataclass(frozen=True)
class RigSpec:
    name: str
    actuators: tuple[ActuatorSpec, ...]
    outputs: tuple[OutputSpec, ...]
    groups: dict[str, tuple[int, ...]]
    routes: tuple[RouteSpec, ...]
    presets: tuple[PresetSpec, ...]
    params: RenderParams = field(default_factory=RenderParams)
    description: str = ""
    haptic_offset_ms: float = 0.0
    """Touch against sound, ms (> 0: touch later); see :attr:`edge.pipeline.Pipeline.haptic_offset_ms`."""
