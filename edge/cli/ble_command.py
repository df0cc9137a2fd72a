"""``sense ble-scan``: list the Bluetooth LE devices in range, SENSE vests first (thin layer over edge.link.ble)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer


def ble_scan_command(
    seconds: Annotated[float, typer.Option(min=0.1, help="How long to scan, in seconds.")] = 5.0,
    adapter: Annotated[Optional[str], typer.Option(help="Bluetooth adapter, e.g. hci1. Default: the system's.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also list devices that are not SENSE vests.")] = False,
) -> None:
    """Scan for SENSE vests (and with --all every BLE device) and print the ble:// URL of each vest."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from edge.link.ble import scan_devices

    console = Console()
    with console.status(f"scanning for {seconds:g} s"):
        devices = scan_devices(seconds, adapter)
    shown = [device for device in devices if show_all or device.is_sense]
    if not shown:
        hidden = f" ({len(devices)} other BLE devices; --all lists them)" if devices else ""
        console.print(f"[yellow]no SENSE vest found[/] in {seconds:g} s{hidden}. See docs/ble.md, troubleshooting.")
        return
    table = Table(title="BLE devices in range", title_justify="left")
    for column in ("name", "address", "RSSI dBm", "SENSE", "URL"):
        table.add_column(column)
    for device in shown:
        target = device.name if device.name and device.is_sense else device.address
        table.add_row(
            escape(device.name or "?"),
            device.address,
            "" if device.rssi_dbm is None else str(device.rssi_dbm),
            "yes" if device.is_sense else "",
            escape(f"ble://{target}?key=PATH") if device.is_sense else "",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("ble-scan")(ble_scan_command)
