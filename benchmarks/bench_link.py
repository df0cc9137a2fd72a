"""Link benchmark: PING/PONG round trip and sustained SET_INTENSITIES frames/s, Python <-> our real firmware.

    .venv/bin/python benchmarks/bench_link.py [--pings 200] [--seconds 2] [--markdown]

Links measured (all with the production codec/session and real pyserial on a pty):
- host: the firmware core built for the PC (firmware/boards/host) behind a pty; with --baud it consumes bytes no
  faster than a UART at that line rate (8N1, 10 bits per byte) would deliver them; "pty" = unpaced.
- avr-sim: the ATmega328P firmware built with avr-gcc, running in simavr (16 MHz, paced to real time) with the
  simulated USART at the given baud rate. The AVR drives 6 channels (6 hardware PWM pins; 40 channels of state
  would not fit in its 2 KB of RAM), so 16/40 channels run on the host board only.

Throughput: the host floods SET_INTENSITIES frames (random values) for --seconds; the rate is the firmware's own
count of accepted frames over its own clock (TELEMETRY before and after), next to the wire limit
baud / 10 / bytes-per-frame. Lost frames (CRC/framing errors, sequence gaps) are reported. Single-threaded host;
the machine is printed with the table. Timings are not asserted anywhere (tests assert behaviour only).
"""

from __future__ import annotations

from typing import Annotated

import os
import platform
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import typer

from edge.errors import ProtocolError
from edge.link import codec
from edge.link.session import LinkSession
from edge.link.transports import SerialTransport
from edge.sim.firmware import HostFirmware, SimulatedAVR, build_avr, build_host, build_sim

BAUDS = (115200, 500000)
CHANNEL_COUNTS = (6, 16, 40)
AVR_CHANNELS = 6
UART_BITS_PER_BYTE = 10
BURST_BYTES = 120  # frames per burst: as many as fit; a PING follows each burst
PONG_TIMEOUT_S = 0.3  # a PING lost with a dropped byte: count the burst, resynchronise, go on
BURSTS_IN_FLIGHT = 2  # <= ~420 bytes pending: simavr 1.6's uart_pty stalls with more than 511 (README)


@dataclass
class Row:
    link: str
    baud: str
    n_channels: int
    bytes_per_frame: float
    wire_limit_fps: float | None
    measured_fps: float | None
    lost: int
    note: str = ""


def frames_for(n_channels: int, n_frames: int, seed: int = 0) -> list[bytes]:
    """SET_INTENSITIES frames with random values; sequence numbers continue across calls' wrap-around."""
    rng = random.Random(seed)
    return [
        codec.encode_message(
            codec.SetIntensities(i & 0xFFFF, i * 16, [rng.randrange(65536) for _ in range(n_channels)])
        )
        for i in range(n_frames)
    ]


def ping_stats(session: LinkSession, n_pings: int) -> tuple[float, float, float]:
    for _ in range(5):  # warm-up
        session.ping()
    rtts_ms = sorted(session.ping() * 1000.0 for _ in range(n_pings))
    return statistics.median(rtts_ms), rtts_ms[int(0.95 * (len(rtts_ms) - 1))], rtts_ms[-1]


def sustained_fps(session: LinkSession, n_channels: int, seconds: float) -> tuple[float, int, float]:
    """(accepted frames per device second, frames lost, mean wire bytes per frame).

    Flow control by PING: frames go out in bursts of about BURST_BYTES, each followed by a PING; at most
    BURSTS_IN_FLIGHT bursts are unanswered, so the firmware always has work queued but the OS buffers never
    hold seconds of backlog (a pty lets a writer run far ahead of a slow reader).
    """
    frames = frames_for(n_channels, 4096)
    burst_frames = max(1, BURST_BYTES // len(frames[0]))
    before = session.telemetry()
    start = time.monotonic()
    sent = 0
    tokens_in_flight: list[int] = []
    token = 1 << 20
    n_timeouts = 0
    session.reply_timeout_s = PONG_TIMEOUT_S
    while time.monotonic() - start < seconds or tokens_in_flight:
        if len(tokens_in_flight) < BURSTS_IN_FLIGHT and time.monotonic() - start < seconds:
            burst = b"".join(frames[(sent + i) % len(frames)] for i in range(burst_frames))
            token += 1
            session.transport.write(burst + codec.encode_message(codec.Ping(token)))
            tokens_in_flight.append(token)
            sent += burst_frames
            continue
        try:
            pong = session.wait_for(codec.Pong)
        except ProtocolError:
            n_timeouts += 1
            tokens_in_flight.clear()
            session.transport.write(b"\x00")  # close any half frame on the device
            continue
        if pong.token in tokens_in_flight:
            tokens_in_flight.remove(pong.token)
    session.reply_timeout_s = 2.0
    after = session.telemetry()
    n_pings = sent // burst_frames - n_timeouts  # a lost PING was not counted by the firmware either
    accepted = after.frames_ok - before.frames_ok - 1 - n_pings  # minus GET_TELEMETRY and the PINGs
    device_s = (after.uptime_ms - before.uptime_ms) / 1000.0
    lost = (
        (after.crc_errors - before.crc_errors)
        + (after.framing_errors - before.framing_errors)
        + max(0, sent - accepted)
    )
    mean_bytes = sum(len(f) for f in frames) / len(frames)
    return accepted / device_s, lost, mean_bytes


def open_session(port: str, baud: int) -> LinkSession:
    session = LinkSession(SerialTransport(port, baud))
    session.handshake()
    return session


def main(
    pings: Annotated[int, typer.Option(help="PING round trips per configuration.")] = 200,
    seconds: Annotated[float, typer.Option(help="Length of each sustained SET_INTENSITIES flood.")] = 2.0,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print Markdown tables.")] = False,
) -> None:
    """The serial link to the host firmware and the AVR firmware in simavr: round trips and sustained frame rates."""

    host_binary = build_host()
    harness = build_sim()
    avr_elves = {baud: build_avr(baud) for baud in BAUDS}
    rtt_rows: list[tuple[str, str, float, float, float]] = []
    rows: list[Row] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench_link_"))

    # ---- host board behind a pty
    for baud in (None, *BAUDS):
        for n_channels in CHANNEL_COUNTS:
            extra = ["--channels", str(n_channels)] + (["--baud", str(baud)] if baud else [])
            firmware = HostFirmware(host_binary, workdir, extra).start()
            try:
                session = open_session(firmware.port, baud or 115200)
                if n_channels == CHANNEL_COUNTS[0]:
                    rtt_rows.append(("host", str(baud) if baud else "pty", *ping_stats(session, pings)))
                fps, lost, size = sustained_fps(session, n_channels, seconds)
                limit = baud / UART_BITS_PER_BYTE / size if baud else None
                rows.append(Row("host", str(baud) if baud else "pty", n_channels, size, limit, fps, lost))
                session.close()
            finally:
                firmware.stop()

    # ---- AVR firmware in simavr
    for baud in BAUDS:
        avr = SimulatedAVR(harness, [str(avr_elves[baud])], str(workdir / f"ttyAVR{baud}")).start()
        try:
            session = open_session(avr.port, baud)
            rtt_rows.append(("avr-sim", str(baud), *ping_stats(session, pings)))
            fps, lost, size = sustained_fps(session, AVR_CHANNELS, seconds)
            rows.append(Row("avr-sim", str(baud), AVR_CHANNELS, size, baud / UART_BITS_PER_BYTE / size, fps, lost))
            session.close()
        finally:
            avr.stop()
        for n_channels in CHANNEL_COUNTS[1:]:
            size = sum(len(f) for f in frames_for(n_channels, 256)) / 256
            rows.append(
                Row(
                    "avr-sim",
                    str(baud),
                    n_channels,
                    size,
                    baud / UART_BITS_PER_BYTE / size,
                    None,
                    0,
                    "n/a: ATmega328P has 6 PWM pins, 2 KB RAM",
                )
            )

    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, host side single-threaded"
    )
    separator = " | " if markdown else "  "
    print()
    print("PING/PONG round trip (ms)")
    header = ["link", "baud", "p50", "p95", "max"]
    print(separator.join(f"{h:>8}" for h in header))
    if markdown:
        print(separator.join(["---:"] * len(header)))
    for link, baud, p50, p95, worst in rtt_rows:
        print(separator.join([f"{link:>8}", f"{baud:>8}", f"{p50:8.3f}", f"{p95:8.3f}", f"{worst:8.3f}"]))
    print()
    print(f"SET_INTENSITIES sustained, {seconds:.1f} s flood (frames/s accepted by the firmware)")
    header = ["link", "baud", "channels", "bytes/frame", "wire limit", "measured", "lost", "note"]
    print(separator.join(f"{h:>11}" for h in header))
    if markdown:
        print(separator.join(["---:"] * len(header)))
    for row in rows:
        print(
            separator.join(
                [
                    f"{row.link:>11}",
                    f"{row.baud:>11}",
                    f"{row.n_channels:>11}",
                    f"{row.bytes_per_frame:11.1f}",
                    f"{row.wire_limit_fps:11.0f}" if row.wire_limit_fps else f"{'-':>11}",
                    f"{row.measured_fps:11.0f}" if row.measured_fps is not None else f"{'-':>11}",
                    f"{row.lost:>11}" if row.measured_fps is not None else f"{'-':>11}",
                    row.note,
                ]
            )
        )


if __name__ == "__main__":
    typer.run(main)
