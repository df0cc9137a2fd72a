"""``sense run``: sound in, touch out, with a readable summary (or --json)."""

from __future__ import annotations

import json
import signal
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from edge.runners import Runtime
from edge.stream import DEVICE_STREAM

if TYPE_CHECKING:
    from edge.run import RunResult

EXIT_SIGTERM = 128 + signal.SIGTERM
"""Exit status of a run stopped by SIGTERM (a service manager's stop), after the summary; Ctrl-C exits 0."""


def _print_summary(result: RunResult, command: str = "run") -> None:
    from rich.console import Console
    from rich.table import Table

    summary = result.summary
    console = Console()
    table = Table(title=f"sense {command} — {result.source}", title_justify="left")
    for column in ("stage", "p50 ms/hop", "p95 ms/hop", "max ms/hop", "total s"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    for stage, stats in summary["stages"].items():
        table.add_row(
            stage,
            f"{stats['p50_ms']:.3f}",
            f"{stats['p95_ms']:.3f}",
            f"{stats['max_ms']:.3f}",
            f"{stats['total_s']:.3f}",
        )
    console.print(table)
    dropped = summary["n_dropped_hops"]
    console.print(
        f"pack: {result.pack_name} ({summary['runtime']} {summary['precision']}, {summary['n_threads']} thread"
        f"{'s' if summary['n_threads'] != 1 else ''})\n"
        f"audio: {summary['audio_seconds']:.2f} s in {summary['n_hops']} hops of {summary['hop_ms']:.1f} ms "
        f"({'paced in real time' if result.pace == 'realtime' else 'as fast as it goes'}); "
        f"compute {summary['compute_seconds']:.3f} s; real-time factor [bold]{summary['real_time_factor']:.4f}[/]\n"
        f"dropped hops (rendered DSP-only to avoid a backlog): "
        + (f"[yellow]{dropped}[/]" if dropped else "0")
        + f"\noutputs: {', '.join(result.output_urls)}; peak intensity {float(result.peak_intensities.max(initial=0.0)):.2f}, "
        f"all outputs zeroed at exit",
        highlight=False,
    )
    for output in result.health.outputs if result.health else ():
        console.print(f"output {output.line()}", highlight=False, soft_wrap=True)
        for message in output.messages:
            console.print(f"  [yellow]{message}[/]", highlight=False, soft_wrap=True)


InputArg = Annotated[
    Optional[str],
    typer.Argument(
        help="Sound file (any rate/format; resampled to 16 kHz mono), '-' for raw PCM on stdin, or 'mic[:DEVICE]'. "
        "Default: the bundled example sound."
    ),
]
PackOpt = Annotated[Optional[str], typer.Option(help="Model pack directory or .zip. Default: the bundled pack.")]
RigOpt = Annotated[Optional[str], typer.Option(help="Rig file (TOML) with actuators, outputs and routes.")]
OutputOpt = Annotated[
    Optional[str],
    typer.Option(
        help="Output URL for all actuators, e.g. sim://, serial:///dev/ttyACM0, pca9685://1/0x40. Default: sim://"
    ),
]
RuntimeOpt = Annotated[
    Optional[Runtime],
    typer.Option(
        help="Inference runtime. Default: the cheapest measured on this kind of board (edge/runners/cost.py: LiteRT, then "
        "ONNX) that is installed and that the pack ships."
    ),
]
PrecisionOpt = Annotated[str, typer.Option(help="Model precision: fp32 or int8.")]
ThreadsOpt = Annotated[int, typer.Option(min=1, help="Inference threads (a Pi core: 1).")]
NoModelsOpt = Annotated[bool, typer.Option("--no-models", help="DSP-only rendering, no model pack.")]
NoDropOpt = Annotated[
    bool, typer.Option("--no-drop", help="Never fall back to DSP-only when inference is slower than real time.")
]
SecondsOpt = Annotated[Optional[float], typer.Option(help="Stop a microphone run after this many seconds.")]
StdinRateOpt = Annotated[int, typer.Option(help="Sample rate of raw PCM on stdin (Hz).")]
StdinChannelsOpt = Annotated[int, typer.Option(help="Channels of raw PCM on stdin.")]
StdinFormatOpt = Annotated[str, typer.Option(help="Sample format of raw PCM on stdin: s16le, s32le or f32le.")]
UserSoundsOpt = Annotated[
    bool, typer.Option("--user-sounds", help="Also alert on the sounds learned with 'sense learn'.")
]
SoundsDirOpt = Annotated[
    Optional[str],
    typer.Option(
        "--sounds-dir", help="Where user sounds live. Default: $SENSE_SOUNDS_DIR or ~/.local/share/sense/sounds."
    ),
]
HapticOffsetOpt = Annotated[
    Optional[float],
    typer.Option(
        "--haptic-offset-ms",
        help="Shift touch against sound in ms (> 0: touch later, < 0: sound later; within "
        "±250, in whole 8 ms hops). Default: the rig's haptic_offset_ms (0).",
    ),
]
"""The options ``sense run`` and ``sense serve`` share."""


def run_command(
    input: InputArg = None,
    pack: PackOpt = None,
    rig: RigOpt = None,
    output: OutputOpt = None,
    runtime: RuntimeOpt = None,
    precision: PrecisionOpt = "fp32",
    threads: ThreadsOpt = 1,
    no_models: NoModelsOpt = False,
    no_drop: NoDropOpt = False,
    seconds: SecondsOpt = None,
    stdin_rate: StdinRateOpt = DEVICE_STREAM.sample_rate_hz,
    stdin_channels: StdinChannelsOpt = 1,
    stdin_format: StdinFormatOpt = "s16le",
    pace: Annotated[
        Optional[str],
        typer.Option(
            help="realtime: release a file or stdin at the audio's pace; fast: as fast as it goes. "
            "Default: realtime for hardware and audio outputs, fast for sim://."
        ),
    ] = None,
    haptic_offset_ms: HapticOffsetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    user_sounds: UserSoundsOpt = False,
    sounds_dir: SoundsDirOpt = None,
) -> None:
    """Listen, separate, tag and drive the actuators; print per-stage latency, real-time factor and dropped hops."""
    from edge.run import run

    result = run(
        input,
        pack,
        rig,
        output,
        runtime.value if runtime else None,
        precision,
        threads,
        realtime_budget=None if no_drop else 1.0,
        use_models=not no_models,
        stdin_rate_hz=stdin_rate,
        stdin_channels=stdin_channels,
        stdin_format=stdin_format,
        seconds=seconds,
        user_sounds=user_sounds,
        sounds_dir=sounds_dir,
        pace=pace,
        haptic_offset_ms=haptic_offset_ms,
    )
    report(result, as_json)


def report(result: RunResult, as_json: bool, command: str = "run") -> None:
    """Print a run's summary (or JSON) and exit 143 if SIGTERM stopped it (``sense run`` and ``sense serve``)."""
    stopped_by = signal.Signals(result.stopped_by_signal).name if result.stopped_by_signal else None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "source": result.source,
                    "pack": result.pack_name,
                    "outputs": result.output_urls,
                    "pace": result.pace,
                    "stopped_by": stopped_by,
                    "health": result.health.as_dicts() if result.health else [],
                    "peak_intensities": [round(float(x), 4) for x in result.peak_intensities],
                    **result.summary,
                },
                indent=2,
            )
        )
    else:
        _print_summary(result, command)
        if stopped_by:
            typer.echo(f"stopped by {stopped_by}; every output zeroed")
    if result.stopped_by_signal == signal.SIGTERM:
        raise typer.Exit(EXIT_SIGTERM)  # a service manager's stop: the conventional 128 + 15


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
