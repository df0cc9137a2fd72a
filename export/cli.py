"""``sense export …``: workstation commands (attached only when the export extra is installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

export_app = typer.Typer(help="Build, export, quantize and pack models (needs the export extra).", no_args_is_help=True)


@export_app.command("tiny-pack")
def tiny_pack_command(
    out: Annotated[Path, typer.Argument(help="Directory to write the pack into (replaced if it exists).")],
    seed: Annotated[int, typer.Option(help="Random seed of the untrained weights.")] = 0,
    no_tflite: Annotated[bool, typer.Option("--no-tflite", help="Skip the TFLite artifacts.")] = False,
) -> None:
    """Build the tiny untrained test pack (ONNX + TFLite, fp32 + int8) with a full manifest and parity metrics."""
    from rich.console import Console

    from export.tiny_pack import build_tiny_pack

    console = Console()
    with console.status("building tiny pack") as status:
        pack = build_tiny_pack(out, seed=seed, with_tflite=not no_tflite, progress=lambda step: status.update(step))
    console.print(f"wrote {pack.name} {pack.version} to {out}")
    for metric in pack.manifest["metrics"]:
        console.print(f"  {metric['name']}: {metric['value']:.3g}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
