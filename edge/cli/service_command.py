"""``sense service install|uninstall|status``: make this board start SENSE at power-on (thin layer over edge.service)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from edge.service import DEFAULT_NAME, WATCHDOG_S

service_app = typer.Typer(
    help="Start SENSE at power-on as a systemd service that restarts itself (a box or a vest).", no_args_is_help=True
)

NameOption = Annotated[str, typer.Option("--name", help="Service name (the unit is NAME.service).")]
RootOption = Annotated[
    Path,
    typer.Option(
        "--root", help="Install into this root filesystem (an image being prepared); systemctl is only called for '/'."
    ),
]


def _absolute_if_path(argument: str) -> str:
    """The service runs in its own directory: a relative path to an existing file (rig, pack, input) becomes absolute."""
    if argument.startswith("-") or "://" in argument or not Path(argument).exists():
        return argument
    return str(Path(argument).resolve())


@service_app.command("install", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def install_command(
    context: typer.Context,
    user: Annotated[Optional[str], typer.Option(help="Run as this user. Default: the user who ran sudo.")] = None,
    group: Annotated[
        Optional[list[str]],
        typer.Option(
            "--group",
            help="Supplementary group (repeatable). Default: those of gpio, i2c, spi, audio, dialout, bluetooth "
            "that exist.",
        ),
    ] = None,
    name: NameOption = DEFAULT_NAME,
    root: RootOption = Path("/"),
    watchdog: Annotated[
        int, typer.Option(min=0, help="Restart when no hop went through for this many seconds (0: no watchdog).")
    ] = WATCHDOG_S,
    start: Annotated[bool, typer.Option(help="Start it now as well as at every boot.")] = True,
) -> None:
    """Install a unit that runs 'sense ARGS...' at boot, e.g.: sense service install run mic --rig box.toml
    --output audio://default. Default ARGS: run mic."""
    from edge.service import ServiceSpec, default_user, existing_groups, install

    command = [_absolute_if_path(argument) for argument in context.args] or ["run", "mic"]
    spec = ServiceSpec(
        command=command,
        user=user or default_user(),
        groups=group if group is not None else existing_groups(root),
        name=name,
        watchdog_s=watchdog,
    )
    path = install(spec, root, start=start)
    typer.echo(f"wrote {path}")
    if root == Path("/"):
        typer.echo(f"enabled{' and started' if start else ''}: {name}.service (logs: journalctl -u {name} -f)")


@service_app.command("uninstall")
def uninstall_command(name: NameOption = DEFAULT_NAME, root: RootOption = Path("/")) -> None:
    """Stop and disable the service and delete its unit file."""
    from edge.service import uninstall

    typer.echo(f"removed {uninstall(name, root)}")


@service_app.command("status")
def status_command(
    name: NameOption = DEFAULT_NAME,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Whether the service is enabled and running, and how often it restarted."""
    from edge.service import status

    result = status(name)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        typer.echo(f"{key}: {value}")


def register(app: typer.Typer) -> None:
    app.add_typer(service_app, name="service")
