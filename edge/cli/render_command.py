"""``sense render``: a haptogram (waveform, stems, per-actuator intensities with onsets) of a sound on a rig."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def render_command(
    input: Annotated[Optional[str], typer.Argument(
        help="Sound file (any rate/format; resampled to 16 kHz mono). Default: the bundled example sound.")] = None,
    rig: Annotated[Optional[str], typer.Option(help="Rig file (TOML) or bundled rig name. Default: the simulated vest.")] = None,
    out: Annotated[Path, typer.Option(help="Picture to write (.png, .svg or .pdf).")] = Path("haptogram.png"),
    pack: Annotated[Optional[str], typer.Option(help="Model pack directory or .zip. Default: the bundled pack.")] = None,
    no_models: Annotated[bool, typer.Option("--no-models", help="DSP-only rendering, no model pack.")] = False,
    seconds: Annotated[Optional[float], typer.Option(min=0.1, help="Only the first this many seconds.")] = None,
) -> None:
    """Draw what the rig would feel for a sound: waveform, stems, per-actuator intensity heatmap, drum onsets."""
    from rich.console import Console

    from edge import DEVICE_SAMPLE_RATE_HZ
    from edge.audio_source import read_audio_file
    from edge.haptics.haptogram import compute_haptogram, plot_haptogram
    from edge.pack import load_pack
    from edge.rig import default_rig, load_rig
    from edge.run import EXAMPLE_SOUND

    source = Path(input) if input is not None else EXAMPLE_SOUND
    audio = read_audio_file(source)
    if seconds is not None:
        audio = audio[: int(seconds * DEVICE_SAMPLE_RATE_HZ)]
    loaded_rig = load_rig(rig) if rig is not None else default_rig()
    loaded_pack = None if no_models else load_pack(pack)
    console = Console(stderr=True)
    with console.status("rendering"):
        haptogram = compute_haptogram(audio, loaded_rig, loaded_pack, source.name)
        path = plot_haptogram(haptogram, out)
    console.print(
        f"wrote {path}: {len(audio) / DEVICE_SAMPLE_RATE_HZ:.1f} s, {loaded_rig.n_actuators} actuators of {loaded_rig.name}, "
        f"{len(haptogram.onsets_s)} drum onsets, peak intensity {float(haptogram.intensities.max(initial=0.0)):.2f}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("render")(render_command)
