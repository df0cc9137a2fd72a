"""``sense pack inspect``: what a model pack holds, its cost and metrics; fails if the pack is invalid."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

pack_app = typer.Typer(help="Inspect model packs.", no_args_is_help=True)


@pack_app.command("inspect")
def inspect_command(
    path: Annotated[Optional[str], typer.Argument(help="Pack directory or .zip. Default: the bundled pack.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Validate a pack (schema, shapes, sha256 of every artifact; every artifact a runtime here can open is opened
    and its tensors checked against the manifest) and show its models, cost and metrics."""
    from rich.console import Console
    from rich.table import Table

    from edge.pack import NAMES_KEY, load_pack

    from edge.runners import check_artifacts

    pack = load_pack(path)
    opened = check_artifacts(pack)
    if as_json:
        typer.echo(json.dumps(pack.manifest, indent=2))
        return
    console = Console()
    console.print(
        f"[bold]{pack.name} {pack.version}[/] — {pack.source} (schema {pack.manifest['schema_version']}, "
        f"all sha256 verified)",
        highlight=False,
    )
    unchecked = [f"{file} ({problem})" for file, problem in opened if problem is not None]
    console.print(
        f"{len(opened) - len(unchecked)} of {len(opened)} artifacts opened and their inputs, outputs and "
        "states checked against the manifest" + (f"; not opened: {', '.join(unchecked)}" if unchecked else ""),
        highlight=False,
    )
    table = Table(title="models", title_justify="left")
    for column in ("model", "role", "params", "GMAC/s", "latency ms", "n_fft/hop", "outputs"):
        table.add_column(column)
    artifact_table = Table(title="artifacts", title_justify="left")
    for column in ("file", "runtime", "precision", "KiB", "frames/step"):
        artifact_table.add_column(column)
    for model in pack.models.values():
        table.add_row(
            model.key,
            model.role,
            f"{model.n_parameters:,}",
            f"{model.macs_per_second / 1e9:.4f}",
            f"{model.algorithmic_latency_ms:.1f}",
            f"{model.n_fft}/{model.hop}",
            f"{len(model.names)} {NAMES_KEY[model.role]}"
            + (f" every {model.every_n_hops} hops" if model.every_n_hops > 1 else ""),
        )
        for a in model.artifacts:
            artifact_table.add_row(
                a.file,
                a.runtime,
                a.precision,
                f"{(pack.root / a.file).stat().st_size / 1024:.0f}",
                "any" if a.frames_per_step is None else str(a.frames_per_step),
            )
    console.print(table)
    console.print(artifact_table)
    if any(a.precision == "int8" for model in pack.models.values() for a in model.artifacts):
        from edge.runners.cost import int8_note

        console.print(int8_note() + ".", highlight=False)
    metrics = pack.manifest.get("metrics", [])
    if metrics:
        metric_table = Table(title="measured metrics", title_justify="left")
        metric_table.add_column("metric")
        metric_table.add_column("value", justify="right")
        for metric in metrics:
            metric_table.add_row(metric["name"], f"{metric['value']:.6g}")
        console.print(metric_table)


def register(app: typer.Typer) -> None:
    app.add_typer(pack_app, name="pack")
