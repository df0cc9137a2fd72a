"""``sense flash``: flash SENSE firmware (avrdude / esptool / UF2) with a progress bar, verify it with a
protocol handshake, optionally provision the device key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def flash_command(
    board: Annotated[str, typer.Argument(help="Board: avr (Arduino Nano/Uno), esp32, rp2040.")],
    image: Annotated[Path, typer.Argument(help="Firmware image: .hex (avr), .bin (esp32), .uf2 (rp2040).")],
    port: Annotated[str, typer.Option(help="Serial port of the board (rp2040: the BOOTSEL drive's folder).")],
    baud: Annotated[
        Optional[int], typer.Option(help="Baud rate of the SENSE link after flashing. Default: the board's.")
    ] = None,
    key: Annotated[
        Optional[Path],
        typer.Option(
            help="Provision this device key file after flashing (a new random key is written there if it does not exist)."
        ),
    ] = None,
    channels: Annotated[
        Optional[int], typer.Option(help="Channel count the firmware must report. Default: the board's.")
    ] = None,
    expect_version: Annotated[
        Optional[str],
        typer.Option(
            help="Firmware version the handshake must report; 'any' accepts every version. Default: the version this "
            "release of sense was built with."
        ),
    ] = None,
    link_port: Annotated[
        Optional[str],
        typer.Option(
            help="Serial port for the handshake after flashing. Default: --port (rp2040: required, the drive is not it)."
        ),
    ] = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip the handshake after flashing.")] = False,
) -> None:
    """Flash the firmware, then handshake with it to check protocol, version and channel count."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from edge import flash
    from edge.link.codec import FLAG_KEY_PROVISIONED

    spec = flash.board(board)
    console = Console()
    with Progress(
        TextColumn("{task.description:<8}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(phase: str, fraction: float) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=1.0)
            progress.update(tasks[phase], completed=fraction)

        flash.flash_board(board, image, port, on_progress)
    console.print(f"[green]flashed[/] {image} to {board} on {port}")
    if spec.flasher == "uf2" and link_port is None and not no_verify:
        console.print("[yellow]not verified[/]: give --link-port (the board re-enumerates as a serial port)")
        return
    if no_verify:
        return
    port = link_port or port
    link_baud = baud or spec.link_baud
    expected_version = None if expect_version == "any" else (expect_version or flash.FIRMWARE_VERSION)
    info = flash.verify_firmware(port, link_baud, channels or spec.n_channels, expected_version)
    console.print(
        f"[green]verified[/]: {info.name} firmware {info.fw_version}, protocol {info.proto_version}, "
        f"{info.n_channels} channels, {info.update_rate_hz} Hz update, watchdog {info.watchdog_ms} ms"
        + ("; it has a device key" if info.flags & FLAG_KEY_PROVISIONED else "")
    )
    if key is not None:
        flash.provision_key(port, key, link_baud)
        console.print(f"[green]key provisioned[/] from {key.expanduser()}; the device now requires it")


def register(app: typer.Typer) -> None:
    app.command("flash")(flash_command)
