"""The live terminal view of a rig behind ``sim://?view=live``."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from edge.errors import ConfigError
from edge.outputs.terminal_view import SHADES, TerminalView, render_rig
from edge.outputs import open_output
from edge.rig import default_rig


def _text(renderable) -> str:
    console = Console(record=True, width=120, color_system="truecolor")
    console.print(renderable)
    return console.export_text()


def test_render_rig_draws_each_surface_and_actuator_by_intensity() -> None:
    rig = default_rig()
    intensities = np.zeros(rig.n_actuators)
    intensities[rig.actuator_ids.index("B4R")] = 1.0
    text = _text(render_rig(rig.spec.actuators, intensities, 1.5))
    assert "front" in text and "back" in text and "t =    1.50 s" in text
    for actuator_id in rig.actuator_ids:
        assert actuator_id in text
    assert text.count(SHADES[-1] * 2) == 1  # only B4R is full
    back_lines = text[text.index("back") :].splitlines()
    assert "B4R" in back_lines[1]  # top row of the back panel: y = 0.8 is drawn first


def test_sim_live_view_gets_the_rig_layout_and_draws() -> None:
    console = Console(record=True, width=120)
    routed = default_rig().open_outputs("sim://?view=live")
    output = routed[0].output
    output.view._console = console
    output.view.min_interval_s = 0.0
    try:
        assert [a.id for a in output.view.layout] == list(default_rig().actuator_ids)
        routed[0].write(0.008, np.linspace(0, 1, 16, dtype=np.float32))
        assert output.view.n_draws == 1
    finally:
        output.close()
    assert output.view.n_draws == 2  # the zeroing at close is drawn too
    assert "F1L" in console.export_text()


def test_view_without_a_rig_uses_a_grid_and_throttles() -> None:
    view = TerminalView(5, refresh_hz=1.0, console=Console(record=True, width=80))
    assert len(view.layout) == 5
    view.update(np.ones(5), 0.0)
    view.update(np.zeros(5), 0.008)  # within 1 s of the last draw: skipped
    view.close()
    assert view.n_draws == 1


def test_unknown_view_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="view='3d'"):
        open_output("sim://?view=3d", 4)
