"""``sense play``: feel a haptic file (.haptic, .ahap, Android .json, .csv, .wav) on a rig."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer


def play_command(
    file: Annotated[
        str, typer.Argument(help="Haptic file: .haptic (Meta), .ahap (Apple), .json (Android arrays), .csv or .wav.")
    ],
    rig: Annotated[
        Optional[str], typer.Option(help="Rig file (TOML) or bundled rig name. Default: the simulated vest.")
    ] = None,
    output: Annotated[
        Optional[str], typer.Option(help="Output URL for all actuators, e.g. sim://, serial:///dev/ttyACM0.")
    ] = None,
    group: Annotated[
        Optional[str], typer.Option(help="Play a one-channel file on this actuator group only. Default: all.")
    ] = None,
    format: Annotated[
        Optional[str], typer.Option(help="haptic, ahap, android, csv or wav. Default: from the suffix.")
    ] = None,
    no_pace: Annotated[
        bool, typer.Option("--no-pace", help="Send frames as fast as possible instead of in real time.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Play a haptic file through the rig's outputs in real time; every output is zeroed when it ends or fails."""
    from edge.haptic_files.play import play_file

    result = play_file(file, rig, output, group, format, pace=not no_pace)
    summary: dict[str, Any] = {
        "file": file,
        "rig": result.rig_name,
        "outputs": result.output_urls,
        "channels": list(result.track.channel_names),
        "seconds": result.track.duration_s,
        "n_frames": int(result.intensities.shape[0]),
        "peak_intensity": float(result.intensities.max(initial=0.0)),
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(
            f"played {file} ({', '.join(summary['channels'])}, {summary['seconds']:.2f} s) on {result.rig_name} "
            f"through {', '.join(result.output_urls)}; peak intensity {summary['peak_intensity']:.2f}, "
            "all outputs zeroed at exit"
        )


def register(app: typer.Typer) -> None:
    app.command("play")(play_command)
