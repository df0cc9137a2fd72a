"""``sense bench``: how this board runs the pipeline, per runtime, precision and thread count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer


def _print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from edge.bench import machine_line, precision_notes, stage_rows, summary_rows

    console = Console()
    for title, (header, rows) in (
        ("sense bench — " + report["settings"]["pack"], summary_rows(report)),
        ("per stage, ms per hop", stage_rows(report)),
    ):
        table = Table(title=title, title_justify="left")
        for column in header:
            table.add_column(column, justify="left" if column in ("runtime", "precision") else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for note in precision_notes(report):
        console.print(note, highlight=False)
    for missing in report["unavailable"]:
        console.print(
            f"[yellow]not measured:[/] {missing['runtime']} {missing['precision']} × "
            f"{missing['n_threads']} threads: {missing['reason']}",
            highlight=False,
        )
    throttling = report["results"][-1]["throttling_after"] if report["results"] else report["throttling_before"]
    console.print(
        f"machine: {machine_line(report['machine'])}\nthrottling: {throttling.get('raw', throttling.get('note'))}",
        highlight=False,
    )


def bench_command(
    pack: Annotated[
        Optional[str], typer.Option(help="Model pack directory or .zip. Default: the bundled pack.")
    ] = None,
    runtime: Annotated[str, typer.Option(help="Comma-separated runtimes to measure: onnx, litert.")] = "onnx,litert",
    precision: Annotated[str, typer.Option(help="Comma-separated precisions: fp32, int8.")] = "fp32,int8",
    threads: Annotated[str, typer.Option(help="Comma-separated inference thread counts, e.g. 1,2,4.")] = "1",
    seconds: Annotated[float, typer.Option(min=0.1, help="Seconds of audio per configuration.")] = 10.0,
    input: Annotated[
        Optional[Path], typer.Option(help="Sound file to feed (tiled to --seconds). Default: the bundled example.")
    ] = None,
    rig: Annotated[
        Optional[str], typer.Option(help="Rig file whose renderer is measured. Default: the simulated vest.")
    ] = None,
    report: Annotated[
        Optional[list[Path]],
        typer.Option(help="Write the report here: .json (for fleets) or .md (for people). Repeat for both."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report instead of tables.")] = False,
) -> None:
    """Measure per-stage latency (p50/p95/p99), real-time factor, CPU, memory, dropped hops and thermals."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from edge.bench import parse_list, parse_thread_counts, run_bench, write_report
    from edge.pack import PRECISIONS, RUNTIMES

    runtimes = parse_list(runtime, RUNTIMES, "--runtime")
    precisions = parse_list(precision, PRECISIONS, "--precision")
    thread_counts = parse_thread_counts(threads)
    for path in report or []:
        if path.suffix not in (".json", ".md"):
            raise typer.BadParameter(f"{path}: expected a file name ending in .json or .md", param_hint="--report")
    n_configs = len(runtimes) * len(precisions) * len(thread_counts)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("benchmark", total=None)

        def on_start(config: Any, n_hops: int) -> None:
            if progress.tasks[task].total is None:
                progress.update(task, total=n_hops * n_configs)
            progress.update(task, description=f"{config.runtime} {config.precision} × {config.n_threads} threads")

        result = run_bench(
            pack,
            runtimes,
            precisions,
            thread_counts,
            seconds,
            input,
            rig,
            on_start,
            lambda n_hops: progress.advance(task, n_hops),
        )
    for path in report or []:
        write_report(result, path)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        _print_report(result)
        for path in report or []:
            typer.echo(f"report written to {path}")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_command)
