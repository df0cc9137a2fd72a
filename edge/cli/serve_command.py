"""``sense serve`` (the pipeline with a control page) and its command-line clients ``sense status`` / ``sense set``."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from edge.cli.run_command import (
    HapticOffsetOpt,
    InputArg,
    NoDropOpt,
    NoModelsOpt,
    OutputOpt,
    PackOpt,
    PrecisionOpt,
    RigOpt,
    RuntimeOpt,
    SecondsOpt,
    SoundsDirOpt,
    StdinChannelsOpt,
    StdinFormatOpt,
    StdinRateOpt,
    ThreadsOpt,
    UserSoundsOpt,
    report,
)
from edge.stream import DEVICE_STREAM

UrlOpt = Annotated[
    Optional[str], typer.Option(help="The server, e.g. http://127.0.0.1:8765. Default: the running one.")
]
TokenOpt = Annotated[Optional[str], typer.Option(help="Its pairing token. Default: the running server's.")]


def serve_command(
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
    user_sounds: UserSoundsOpt = False,
    sounds_dir: SoundsDirOpt = None,
    haptic_offset_ms: HapticOffsetOpt = None,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. 127.0.0.1: this machine only; 0.0.0.0: the local network (a phone), with the "
            "pairing token printed as a URL and QR code."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free one).")] = 8765,
    loop: Annotated[bool, typer.Option("--loop", help="Start a file again when it ends.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary at the end as JSON.")] = False,
) -> None:
    """Run the pipeline as `sense run` does and serve a control page for a phone: the rig's live intensities, the
    preset, tags, latency; mode, intensity, group gains, preset lock, mute, source, reload, save to the rig."""
    from edge.run import SessionOptions
    from edge.serve.server import announce, open_server
    from edge.session import SessionParams

    params = SessionParams(
        runtime=runtime.value if runtime else None,
        precision=precision,
        n_threads=threads,
        realtime_budget=None if no_drop else 1.0,
        haptic_offset_ms=haptic_offset_ms,
    )
    server = open_server(
        input,
        SessionOptions(
            pack, rig, output, params, use_models=not no_models, user_sounds=user_sounds, sounds_dir=sounds_dir
        ),
        host=host,
        port=port,
        loop=loop,
        stdin_rate_hz=stdin_rate,
        stdin_channels=stdin_channels,
        stdin_format=stdin_format,
        seconds=seconds,
    )
    announce(server)
    report(server.run(), as_json, "serve")


def status_command(
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Everything the page sees, as JSON.")] = False,
) -> None:
    """What a running `sense serve` is doing: source, preset, tags, controls, latency, dropped hops."""
    from edge.serve.client import call, find_server

    base, key = find_server(url, token)
    status = call(base, key, "/api/status")
    if as_json:
        typer.echo(json.dumps(status, indent=2))
        return
    params = status["live_params"]
    hop = status["latency_ms"]["hop"]
    tags = ", ".join(f"{label} {p:.2f}" for label, p in status["tags"]) or "-"
    gains = ", ".join(f"{g} {v:g}" for g, v in params["group_gains"].items()) or "-"
    typer.echo(
        f"server: {base}\nrig: {status['rig']['name']} ({len(status['rig']['actuators'])} actuators); "
        f"pack: {status['pack'] or 'none (DSP only)'}\n"
        f"source: {status['source']['name']} ({status['source']['state']}); audio {status['audio_s']:.1f} s\n"
        f"preset: {status['preset']}; tags: {tags}\n"
        f"mode: {params['mode']}; master: {params['master']:g}; group gains: {gains}; "
        f"preset lock: {params['preset_lock'] or 'off'}; muted: {'yes' if params['muted'] else 'no'}\n"
        f"hop ms p50/p95: {hop['p50_ms']:.2f}/{hop['p95_ms']:.2f}; dropped hops: {status['n_dropped_hops']}\n"
        f"outputs: {', '.join(status['outputs'])}"
    )


def set_command(
    assignments: Annotated[
        list[str],
        typer.Argument(
            help="NAME=VALUE ...: mode=beat, master=0.6, group_gains.kick=0.5, preset_lock=music (null: off), "
            "muted=true; source=mic switches the source."
        ),
    ],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Change a running `sense serve`'s controls from another terminal (the page's API): all or nothing."""
    from edge.serve.client import call, find_server, parse_assignments

    base, key = find_server(url, token)
    values = parse_assignments(assignments)
    source = values.pop("source", None)
    if values:
        params = call(base, key, "/api/set", values)["live_params"]
        typer.echo(", ".join(f"{name}={json.dumps(params[name])}" for name in values))
    if source is not None:
        typer.echo(f"source: {call(base, key, '/api/source', {'source': source})['source']}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.command("status")(status_command)
    app.command("set")(set_command)
