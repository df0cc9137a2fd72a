"""``sense devices`` and ``sense doctor``: what this board has, and what to fix (thin layer over edge.devices)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from edge.devices import Survey

STATUS_MARKS = {"ok": "[green]  ok[/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]"}


def _survey(i2c_bus: Optional[list[int]]) -> Survey:
    from edge.devices import survey

    return survey(i2c_buses=i2c_bus or None)


I2CBusOption = Annotated[
    Optional[list[int]],
    typer.Option("--i2c-bus", help="Scan this I2C bus number (repeatable). Default: every /dev/i2c-N."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def devices_command(i2c_bus: I2CBusOption = None, as_json: JsonOption = False) -> None:
    """List I2C buses and the chips that answer, GPIO/PWM chips, sound cards, Bluetooth, runtimes and libraries."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    result = _survey(i2c_bus)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    console = Console()
    chips = Table(title="I2C devices", title_justify="left")
    for column in ("bus", "address", "chip"):
        chips.add_column(column)
    for scan in result.i2c_scans:
        for chip in scan.chips:
            chips.add_row(f"/dev/i2c-{scan.bus_number}", f"0x{chip.address:02x}", escape(chip.describe()))
    if chips.row_count:
        console.print(chips)
    table = Table(title="This board", title_justify="left")
    for column in ("area", "what", "status", "found"):
        table.add_column(column)
    for finding in result.findings:
        table.add_row(finding.area, finding.name, STATUS_MARKS[finding.status.value], escape(finding.detail))
    console.print(table)


def doctor_command(i2c_bus: I2CBusOption = None, as_json: JsonOption = False) -> None:
    """Check this board for SENSE and say how to fix what is missing. Exit code 1 if something needed fails."""
    from rich.console import Console
    from rich.markup import escape

    result = _survey(i2c_bus)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        console = Console()
        for finding in result.findings:
            console.print(
                f"{STATUS_MARKS[finding.status.value]} {finding.area}/{finding.name}: {escape(finding.detail)}",
                highlight=False,
                soft_wrap=True,
            )
            if finding.fix and finding.status.value != "ok":
                console.print(f"       fix: {escape(finding.fix)}", highlight=False, soft_wrap=True)
        console.print("[green]ready[/]" if result.ok else "[bold red]not ready: fix the FAIL lines above[/]")
    if not result.ok:
        raise typer.Exit(1)


def calibrate_command(
    url: Annotated[
        str, typer.Argument(help="A drv2605:// output URL, e.g. 'drv2605://1/0x5a?mux=0x70&channels=0,1,2,3'.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Auto-calibrate the DRV2605L motors of an output (each buzzes ~1 s) and print the results to store."""
    from rich.console import Console

    from edge.outputs.drv2605 import calibrate_output

    report = calibrate_output(url)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    for channel, result in zip(report["channels"], report["results"]):
        console.print(f"channel {channel}: {result}", highlight=False)
    console.print(
        "store this URL in the rig (the results are applied at every start, no recalibration):", highlight=False
    )
    typer.echo(report["url"])


def register(app: typer.Typer) -> None:
    app.command("devices")(devices_command)
    app.command("doctor")(doctor_command)
    app.command("calibrate")(calibrate_command)
