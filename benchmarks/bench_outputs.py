"""Updates per second each board output sustains for 4/16/40 actuators, I2C at 100/400 kHz.

    .venv/bin/python benchmarks/bench_outputs.py [--updates 300] [--markdown]

Runs the production outputs against the register-level fakes with bus timing modelled (edge/sim/chips/i2c_wire.py:
START + address + data bytes, 9 bits per byte with ACK, STOP; a virtual clock, nothing sleeps) and against
gpiozero's mock PWM pins. Every update changes every channel (the worst case: unchanged channels cost nothing).

Columns: bytes and transactions per update on the bus; modelled bus time per update; host CPU time per update
of our Python (measured here; a Pi 4 core is roughly 3-5x slower); updates/s the bus allows (1 / bus time) and
updates/s overall (1 / (bus + host CPU)). The pipeline needs one update per hop: 125/s at the 8 ms hop.
Single-threaded; the machine is printed with the table.
"""

from __future__ import annotations

from typing import Annotated

import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import typer

from edge.buses.i2c import I2CBus
from edge.outputs import ActuatorOutput, HapticFrame
from edge.outputs.audio import ArraySink, AudioOutput
from edge.outputs.drv2605 import DRV2605Output
from edge.outputs.gpio import GpioOutput
from edge.outputs.pca9685 import PCA9685Output
from edge.stream import DEVICE_STREAM
from edge.sim.chips.drv2605 import FakeDRV2605L
from edge.sim.chips.i2c_wire import FakeI2CWire
from edge.sim.chips.pca9685 import FakePCA9685
from edge.sim.chips.tca9548a import FakeTCA9548A

ACTUATOR_COUNTS = (4, 16, 40)
CLOCKS_HZ = (100_000, 400_000)
PCA9685_CHANNELS = 16
MUX_CHANNELS = 8
GPIO_PINS = list(range(2, 28))  # BCM 2..27 on the 40-pin header
HOP_S = DEVICE_STREAM.hop_s
HOP_SAMPLES = DEVICE_STREAM.hop
REQUIRED_UPDATES_PER_S = 1.0 / HOP_S


@dataclass
class Row:
    output: str
    n_actuators: int
    clock: str
    bytes_per_update: float | None = None
    transactions_per_update: float | None = None
    bus_ms: float | None = None
    cpu_ms: float | None = None
    note: str = ""

    @property
    def bus_limit_per_s(self) -> float | None:
        return 1000.0 / self.bus_ms if self.bus_ms else None

    @property
    def overall_per_s(self) -> float | None:
        if self.cpu_ms is None:
            return None
        return 1000.0 / ((self.bus_ms or 0.0) + self.cpu_ms)


def frames(n_channels: int, n_updates: int, seed: int = 0) -> list[HapticFrame]:
    """Alternating intensity vectors that differ in every channel (every channel changes every update)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.1, 0.45, n_channels).astype(np.float32)
    b = rng.uniform(0.55, 0.9, n_channels).astype(np.float32)
    audio = np.sin(np.linspace(0, 2 * np.pi, HOP_SAMPLES, dtype=np.float32)) * 0.5
    return [HapticFrame(t_s=(k + 1) * HOP_S, intensities=a if k % 2 else b, audio=audio) for k in range(n_updates)]


def drive(outputs: list[ActuatorOutput], n_actuators: int, n_updates: int) -> float:
    """Write ``n_updates`` frames across ``outputs``; return host seconds per update."""
    sequence = frames(n_actuators, n_updates)
    splits = np.cumsum([0] + [output.n_channels for output in outputs])
    start = time.perf_counter()
    for frame in sequence:
        for index, output in enumerate(outputs):
            output.write(HapticFrame(frame.t_s, frame.intensities[splits[index] : splits[index + 1]], frame.audio))
    return (time.perf_counter() - start) / n_updates


def bench_i2c(
    name: str,
    n_actuators: int,
    clock_hz: int,
    n_updates: int,
    build: Callable[[FakeI2CWire, I2CBus, int], list[ActuatorOutput]],
) -> Row:
    wire = FakeI2CWire(clock_hz=clock_hz, record=False)
    bus = I2CBus(wire.open(1), 1)
    outputs = build(wire, bus, n_actuators)
    drive(outputs, n_actuators, 2)  # settle: modes, mux, first values
    wire.reset_counters()
    cpu_s = drive(outputs, n_actuators, n_updates)
    row = Row(
        name,
        n_actuators,
        f"{clock_hz // 1000} kHz",
        wire.n_bytes / n_updates,
        wire.n_transactions / n_updates,
        1000.0 * wire.bus_time_s / n_updates,
        1000.0 * cpu_s,
    )
    for output in outputs:
        output.close()
    bus.close()
    return row


def build_pca9685(wire: FakeI2CWire, bus: I2CBus, n_actuators: int) -> list[ActuatorOutput]:
    outputs: list[ActuatorOutput] = []
    for chip_index in range(math.ceil(n_actuators / PCA9685_CHANNELS)):
        address = 0x40 + chip_index
        wire.add(FakePCA9685(address))
        n_channels = min(PCA9685_CHANNELS, n_actuators - chip_index * PCA9685_CHANNELS)
        outputs.append(PCA9685Output(bus.acquire(), address, n_channels=n_channels))
    return outputs


def build_drv2605(wire: FakeI2CWire, bus: I2CBus, n_actuators: int) -> list[ActuatorOutput]:
    outputs: list[ActuatorOutput] = []
    for mux_index in range(math.ceil(n_actuators / MUX_CHANNELS)):
        mux = wire.add(FakeTCA9548A(0x70 + mux_index))
        n_channels = min(MUX_CHANNELS, n_actuators - mux_index * MUX_CHANNELS)
        for channel in range(n_channels):
            mux.channels[channel].add(FakeDRV2605L())
        outputs.append(DRV2605Output(bus.acquire(), mux_address=0x70 + mux_index, mux_channels=range(n_channels)))
    return outputs


def bench_gpio(n_actuators: int, n_updates: int) -> Row:
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    if n_actuators > len(GPIO_PINS):
        return Row("gpio (software PWM)", n_actuators, "-", note=f"a Pi has {len(GPIO_PINS)} free GPIO pins")
    factory = MockFactory(pin_class=MockPWMPin)
    output = GpioOutput(GPIO_PINS[:n_actuators], pin_factory=factory)
    cpu_s = drive([output], n_actuators, n_updates)
    output.close()
    factory.close()
    return Row("gpio (software PWM)", n_actuators, "-", cpu_ms=1000.0 * cpu_s, note="gpiozero mock pins: CPU only")


def bench_audio(n_actuators: int, n_updates: int) -> Row:
    output = AudioOutput(ArraySink(n_actuators), n_actuators, out_rate_hz=48_000, url="audio://array?out_rate=48000")
    cpu_s = drive([output], n_actuators, n_updates)
    output.close()
    note = f"{HOP_SAMPLES}-sample hop resampled to 48 kHz" + (
        "; a sound card has <= 8 channels" if n_actuators > 8 else ""
    )
    return Row("audio (16 -> 48 kHz)", n_actuators, "-", cpu_ms=1000.0 * cpu_s, note=note)


def run(n_updates: int) -> list[Row]:
    rows = []
    for n_actuators in ACTUATOR_COUNTS:
        for clock_hz in CLOCKS_HZ:
            rows.append(bench_i2c("pca9685", n_actuators, clock_hz, n_updates, build_pca9685))
        for clock_hz in CLOCKS_HZ:
            rows.append(bench_i2c("drv2605 + tca9548a", n_actuators, clock_hz, n_updates, build_drv2605))
        rows.append(bench_gpio(n_actuators, n_updates))
        rows.append(bench_audio(n_actuators, n_updates))
    return rows


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(rows: list[Row]) -> str:
    header = (
        "| output | actuators | I2C clock | bytes/update | transactions/update | bus ms/update | host CPU ms/update "
        "| updates/s (bus limit) | updates/s (bus + host CPU) | note |"
    )
    lines = [header, "|" + "---|" * 10]
    for row in rows:
        lines.append(
            f"| {row.output} | {row.n_actuators} | {row.clock} | {_fmt(row.bytes_per_update)} | "
            f"{_fmt(row.transactions_per_update)} | {_fmt(row.bus_ms, 2)} | {_fmt(row.cpu_ms, 3)} | "
            f"{_fmt(row.bus_limit_per_s)} | {_fmt(row.overall_per_s)} | {row.note} |"
        )
    return "\n".join(lines)


def main(updates: Annotated[int, typer.Option(help="Updates per configuration.")] = 300) -> None:
    """Update rates of the I2C, GPIO and audio outputs on register-level fakes of the chips."""
    rows = run(updates)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}, "
        f"1 thread, {os.cpu_count()} CPUs visible; {updates} updates per row, every channel changing; "
        f"needed: {REQUIRED_UPDATES_PER_S:.0f} updates/s (8 ms hop)"
    )
    print(table(rows))


if __name__ == "__main__":
    typer.run(main)
