"""Rig files (TOML): actuators, outputs, groups, routes and presets — loaded, validated, turned into a renderer.

A bad rig fails at load with ``ConfigError("FILE:LINE: KEY: reason")`` and never opens hardware. The rules of the
file live in :mod:`edge.rig_schema`, the opening of its outputs in :mod:`edge.rig_routing`; see docs/haptics.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge.controls import LiveControls
from edge.errors import ConfigError
from edge.haptics.spec import RigSpec
from edge.outputs import RoutedOutput
from edge.rig_routing import open_rig_outputs
from edge.rig_schema import parse_controls, parse_rig

if TYPE_CHECKING:
    from edge.haptics.renderer import HapticRenderer

__all__ = ["DEFAULT_RIG", "RIGS_DIR", "Rig", "default_rig", "load_rig", "parse_controls", "parse_rig"]

RIGS_DIR = Path(__file__).parent / "data" / "rigs"
DEFAULT_RIG = RIGS_DIR / "default-sim-vest.toml"


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
        """Open every output of the rig (or one ``override_url`` output carrying all actuators); see
        :func:`edge.rig_routing.open_rig_outputs`."""
        return open_rig_outputs(self.spec, override_url)


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
