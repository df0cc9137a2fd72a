"""BLE link benchmark: what the host side of ``ble://`` costs — bleak + D-Bus + our transport — per frame.

    .venv/bin/python benchmarks/bench_ble_link.py [--pings 100] [--frames 300] [--markdown]

Set-up (the same as tests/ble): real bleak -> a private dbus-daemon -> python-dbusmock's bluez5 template with the
vest's GATT characteristic -> the real host firmware (BLE mode, key provisioned) behind a pty. There is NO radio:
a real BLE link adds its connection interval (7.5-50 ms, chosen by the central) to every round trip and limits
writes per interval. So these numbers are the host software stack's own share, the part this project controls.

Measured for ATT MTU 23 (the default: 20 bytes per write) and 247 (a negotiated MTU), 6/16/40 channels:
- ``write()`` of one HapticFrame through FirmwareOutput (SET_INTENSITIES, chunked into GATT writes): median/p95 ms;
- GATT writes per frame (from the mocked BlueZ's record);
- PING/PONG round trip (write + notification back): median/p95 ms.
Single-threaded host; the machine is printed with the table. Nothing here is asserted by tests.
"""

from __future__ import annotations

from typing import Annotated

import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import typer

from edge.link.ble import SENSE_LINK_CHAR_UUID, SENSE_SERVICE_UUID
from edge.link.keys import generate_key, save_key
from edge.outputs import HapticFrame, open_output
from edge.outputs.firmware import FirmwareOutput
from edge.sim.bluez_vest import MockVest, PrivateSystemBus, PtyPeer
from edge.sim.firmware import HostFirmware, build_host

MTUS = (23, 247)
CHANNEL_COUNTS = (6, 16, 40)
VEST_NAME = "SENSE-BENCH"
VEST_ADDRESS = "C0:FF:EE:00:BE:01"
P95 = 0.95


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(bus: PrivateSystemBus, binary: Path, mtu: int, n_channels: int, n_pings: int, n_frames: int) -> dict:
    with tempfile.TemporaryDirectory() as workdir:
        key = generate_key()
        key_file = save_key(Path(workdir) / "host.key", key)
        firmware = HostFirmware(binary, Path(workdir), ["--channels", str(n_channels), "--untrusted"])
        save_key(firmware.key_path, key)
        firmware.start()
        peer = PtyPeer(firmware.port)
        vest = MockVest(
            bus,
            peer,
            name=VEST_NAME,
            address=VEST_ADDRESS,
            service_uuid=SENSE_SERVICE_UUID,
            char_uuid=SENSE_LINK_CHAR_UUID,
            mtu=mtu,
        )
        try:
            output = open_output(f"ble://{VEST_NAME}?key={key_file}&scan_s=5", n_channels=n_channels)
            assert isinstance(output, FirmwareOutput)
            rng = np.random.default_rng(0)
            write_ms = []
            writes_before = len(vest.record.writes)
            for index in range(n_frames):
                frame = HapticFrame(t_s=index * 0.016, intensities=rng.random(n_channels).astype(np.float32))
                start = time.perf_counter()
                output.write(frame)
                write_ms.append((time.perf_counter() - start) * 1e3)
            gatt_writes_per_frame = (len(vest.record.writes) - writes_before) / n_frames
            ping_ms = [output.ping() * 1e3 for _ in range(n_pings)]
            output.close()
        finally:
            vest.close()
            peer.close()
            firmware.stop()
    return {
        "mtu": mtu,
        "n_channels": n_channels,
        "gatt_writes_per_frame": gatt_writes_per_frame,
        "write_median_ms": statistics.median(write_ms),
        "write_p95_ms": percentile(write_ms, P95),
        "ping_median_ms": statistics.median(ping_ms),
        "ping_p95_ms": percentile(ping_ms, P95),
    }


def main(
    pings: Annotated[int, typer.Option(help="PING round trips per configuration.")] = 100,
    frames: Annotated[int, typer.Option(help="SET_INTENSITIES frames per configuration.")] = 300,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
) -> None:
    """The ble:// link on a mocked BlueZ vest: round trips and frame rates per MTU and channel count."""

    binary = build_host()
    bus = PrivateSystemBus()
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
    try:
        rows = [measure(bus, binary, mtu, n, pings, frames) for mtu in MTUS for n in CHANNEL_COUNTS]
    finally:
        bus.close()
    print(
        f"# BLE link, host stack only (mocked BlueZ, no radio); {platform.machine()} {platform.processor() or ''}, "
        f"{os.cpu_count()} CPUs, python {platform.python_version()}, 1 host thread"
    )
    header = [
        "ATT MTU",
        "channels",
        "GATT writes/frame",
        "write() median ms",
        "write() p95 ms",
        "ping median ms",
        "ping p95 ms",
    ]
    keys = [
        "mtu",
        "n_channels",
        "gatt_writes_per_frame",
        "write_median_ms",
        "write_p95_ms",
        "ping_median_ms",
        "ping_p95_ms",
    ]
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
    for row in rows:
        cells = [f"{row[key]:.2f}" if isinstance(row[key], float) else str(row[key]) for key in keys]
        print(("| " + " | ".join(cells) + " |") if markdown else "  ".join(f"{h}={c}" for h, c in zip(header, cells)))


if __name__ == "__main__":
    typer.run(main)
