"""The ``sense`` command line: a thin typer layer over library functions (STYLE.md #15).

Each command group lives in its own module with a ``register(app)`` function, listed in ``COMMAND_MODULES``.
The ``export`` commands attach when the ``export`` package is present; without torch (a device install) only
its torch-free ones (``sense export verify``). Every :class:`SenseError`
becomes a red one-line message and exit code 1 here, in one place.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Annotated

import typer

import edge
from edge.errors import SenseError

COMMAND_MODULES = [
    "edge.cli.devices_command",
    "edge.cli.run_command",
    "edge.cli.pack_command",
    "edge.cli.bench_command",
    "edge.cli.flash_command",
    "edge.cli.ble_command",
    "edge.cli.render_command",
    "edge.cli.play_command",
    "edge.cli.sounds_command",
    "edge.cli.service_command",
    "edge.cli.serve_command",
]

TORCH_FREE_EXPORT_COMMANDS = ("verify",)
"""``sense export`` commands that need only the runtime, attached on a device install (a board can check a pack)."""

app = typer.Typer(
    name="sense",
    help="SENSE: turn sound into touch on small hardware. Separate, tag, render and drive actuators.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"sense {edge.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version_callback, is_eager=True)
    ] = False,
) -> None:
    """SENSE: turn sound into touch on small hardware."""


def _register_commands() -> None:
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(app)
    if not _importable("export"):
        return
    export_cli = importlib.import_module("export.cli")  # imports only typer at the top; torch lazily per command
    if _importable("torch"):
        export_cli.register(app)
        return
    runtime_only = typer.Typer(
        help="Check model packs (the other export commands need the export extra).", no_args_is_help=True
    )
    for name in TORCH_FREE_EXPORT_COMMANDS:
        runtime_only.command(name)(getattr(export_cli, f"{name}_command"))
    app.add_typer(runtime_only, name="export")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module blocked in sys.modules
        return False


_register_commands()


def main() -> None:
    """Console-script entry point. Usage errors get typer's message and exit code 2; a SenseError a red
    one-line message and exit code 1; Ctrl-C or SIGTERM during a command ends it with exit code 1 ("Aborted!")
    after every output was zeroed on the way out (``sense run`` itself prints its summary and exits 0 on Ctrl-C,
    143 on SIGTERM)."""
    from rich.console import Console

    try:
        app(standalone_mode=True)
    except SenseError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]stopped[/]")
        sys.exit(130)
