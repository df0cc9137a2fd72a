"""``sense render``: a haptogram (waveform, stems, per-actuator intensities with onsets) of a sound on a rig."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def render_command(
    input: Annotated[
        Optional[str],
        typer.Argument(
            help="Sound file (any rate/format; resampled to 16 kHz mono). Default: the bundled example sound."
        ),
    ] = None,
    rig: Annotated[
        Optional[str], typer.Option(help="Rig file (TOML) or bundled rig name. Default: the simulated vest.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Picture to write (.png, .svg or .pdf).")] = Path("haptogram.png"),
    pack: Annotated[
        Optional[str], typer.Option(help="Model pack directory or .zip. Default: the bundled pack.")
    ] = None,
    no_models: Annotated[bool, typer.Option("--no-models", help="DSP-only rendering, no model pack.")] = False,
    seconds: Annotated[Optional[float], typer.Option(min=0.1, help="Only the first this many seconds.")] = None,
    format: Annotated[
        Optional[str],
        typer.Option(
            help="Write a haptic file instead of a picture: haptic (Meta), ahap (Apple), android, csv or wav. "
            "Default: from the --out suffix (.haptic, .ahap, .json, .csv, .wav; else a picture)."
        ),
    ] = None,
    channels: Annotated[
        Optional[str],
        typer.Option(
            help="Haptic file channels: actuators, groups (one file per group for one-channel formats) or mix. "
            "Default: actuators for csv/wav, mix otherwise."
        ),
    ] = None,
    tolerance: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Breakpoint formats: largest intensity error per frame.")
    ] = 0.01,
) -> None:
    """Draw what the rig would feel for a sound (waveform, stems, per-actuator intensity heatmap, drum onsets), or
    write it as a haptic file other platforms play (--format)."""
    from rich.console import Console

    from edge.stream import DEVICE_STREAM
    from edge.audio_source import read_audio_file
    from edge.haptogram import compute_haptogram, plot_haptogram
    from edge.pack import load_pack
    from edge.rig import default_rig, load_rig
    from edge.errors import ConfigError
    from edge.run import EXAMPLE_SOUND

    file_format = haptic_format_of(out, format)
    if not out.parent.is_dir():
        raise ConfigError(
            f"--out {out}: the folder {out.parent} does not exist; expected an existing folder to write into"
        )

    source = Path(input) if input is not None else EXAMPLE_SOUND
    audio = read_audio_file(source)
    if seconds is not None:
        audio = audio[: int(seconds * DEVICE_STREAM.sample_rate_hz)]
    loaded_rig = load_rig(rig) if rig is not None else default_rig()
    loaded_pack = None if no_models else load_pack(pack)
    console = Console(stderr=True)
    with console.status("rendering"):
        haptogram = compute_haptogram(audio, loaded_rig, loaded_pack, source.name)
        if file_format is not None:
            from edge.haptic_files.export import default_layout, track_from_rendering, write_rendering

            track = track_from_rendering(
                haptogram.intensities,
                DEVICE_STREAM.sample_rate_hz / DEVICE_STREAM.hop,
                haptogram.onsets_s,
                loaded_rig,
                channels or default_layout(file_format),
                source.name,
            )
            paths = write_rendering(track, out, file_format, tolerance)
            console.print(
                f"wrote {', '.join(str(p) for p in paths)}: {file_format}, {track.duration_s:.1f} s, "
                f"channels {', '.join(track.channel_names)} of {loaded_rig.name}, "
                f"{sum(len(f) for f in track.transient_frames)} transients",
                highlight=False,
            )
            return
        path = plot_haptogram(haptogram, out)
    console.print(
        f"wrote {path}: {len(audio) / DEVICE_STREAM.sample_rate_hz:.1f} s, {loaded_rig.n_actuators} actuators of {loaded_rig.name}, "
        f"{len(haptogram.onsets_s)} drum onsets, peak intensity {float(haptogram.intensities.max(initial=0.0)):.2f}",
        highlight=False,
    )


def haptic_format_of(out: Path, format_name: str | None) -> str | None:
    """The haptic file format to write, or None for a picture."""
    from edge.haptic_files import FORMATS, format_of

    if format_name is None and out.suffix.lower() not in FORMATS.values():
        return None
    return format_of(out, format_name)


def register(app: typer.Typer) -> None:
    app.command("render")(render_command)
