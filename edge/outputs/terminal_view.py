"""A live terminal picture of a rig (``sense run --output "sim://?view=live"``): one panel per body surface, each
actuator drawn at its position, shaded by its intensity. ``rich`` is a core dependency; it is imported lazily."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from edge.haptics.spec import ActuatorSpec

GRID_COLUMNS = 5  # cells across a surface
GRID_ROWS = 5  # cells up a surface
REFRESH_HZ = 20.0
SHADES = " ░▒▓█"


def _cell_colour(intensity: float) -> str:
    level = int(round(np.clip(intensity, 0.0, 1.0) * 255))
    return f"rgb({level},{level // 3},{255 - level})" if intensity > 0 else "grey23"


def _default_layout(n_channels: int) -> list[ActuatorSpec]:
    """Without a rig: channels in a square-ish grid on one surface."""
    n_columns = int(np.ceil(np.sqrt(n_channels)))
    n_rows = int(np.ceil(n_channels / n_columns))
    layout = []
    for channel in range(n_channels):
        row, column = divmod(channel, n_columns)
        position = ((column + 0.5) / n_columns, 1.0 - (row + 0.5) / n_rows)
        layout.append(
            ActuatorSpec(
                id=str(channel),
                kind="erm",
                surface="channels",
                position=position,
                resonance_hz=180.0,
                output="sim",
                channel=channel,
            )
        )
    return layout


def render_rig(actuators: Sequence[ActuatorSpec], intensities: np.ndarray, t_s: float | None = None) -> Any:
    """A rich renderable: per surface a grid with each actuator's id and a shaded bar of its intensity."""
    from rich.columns import Columns
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    surfaces: dict[str, list[int]] = {}
    for index, actuator in enumerate(actuators):
        surfaces.setdefault(actuator.surface, []).append(index)
    panels = []
    for surface, members in surfaces.items():
        cells: dict[tuple[int, int], list[int]] = {}
        for index in members:
            x, y = actuators[index].position
            cell = (min(GRID_ROWS - 1, int((1.0 - y) * GRID_ROWS)), min(GRID_COLUMNS - 1, int(x * GRID_COLUMNS)))
            cells.setdefault(cell, []).append(index)
        table = Table.grid(padding=(0, 1))
        for _ in range(GRID_COLUMNS):
            table.add_column(width=7, justify="center")
        used_rows = sorted({row for row, _ in cells})
        for row in used_rows:
            rendered = []
            for column in range(GRID_COLUMNS):
                text = Text()
                for index in cells.get((row, column), []):
                    value = float(intensities[index])
                    shade = SHADES[min(len(SHADES) - 1, int(np.ceil(value * (len(SHADES) - 1))))]
                    text.append(f"{actuators[index].id[:4]:>4} ", style="bold")
                    text.append(shade * 2, style=_cell_colour(value))
                rendered.append(text)
            table.add_row(*rendered)
        panels.append(Panel(table, title=surface, expand=False))
    title = f"t = {t_s:7.2f} s" if t_s is not None else ""
    return Panel(Columns(panels), title=f"SENSE rig {title}", expand=False)


class TerminalView:
    """Shows the latest intensities in a rich ``Live`` display, refreshed at most ``refresh_hz`` times a second."""

    def __init__(self, n_channels: int, refresh_hz: float = REFRESH_HZ, console: Any = None) -> None:
        self.n_channels = n_channels
        self.layout: list[ActuatorSpec] = _default_layout(n_channels)
        self.min_interval_s = 1.0 / refresh_hz
        self._console = console
        self._live: Any = None
        self._last_draw = -np.inf
        self.n_draws = 0

    def set_layout(self, actuators: Sequence[ActuatorSpec]) -> None:
        """Draw ``actuators`` (one per channel, in channel order) at their body positions."""
        if len(actuators) == self.n_channels:
            self.layout = list(actuators)

    def update(self, intensities: np.ndarray, t_s: float, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < self.min_interval_s:
            return
        self._last_draw = now
        renderable = render_rig(self.layout, intensities, t_s)
        if self._live is None:
            from rich.live import Live

            self._live = Live(renderable, console=self._console, auto_refresh=False, transient=False)
            self._live.start()
        self._live.update(renderable, refresh=True)
        self.n_draws += 1

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live.console.line()
            self._live = None
