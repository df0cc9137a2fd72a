"""Library behind ``sense run``: open the source, the pack, the rig/outputs and run the pipeline with failsafe."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge import audio_source
from edge.haptics.base import Renderer
from edge.outputs import RoutedOutput
from edge.pack import Pack, load_pack
from edge.pipeline import Pipeline, run_blocks
from edge.rig import default_rig, load_rig
from edge.sdnotify import SystemdNotifier
from edge.stream import DEVICE_STREAM

EXAMPLE_SOUND = Path(__file__).parent / "data" / "example.flac"
SOURCE_BLOCK_SAMPLES = DEVICE_STREAM.hop
"""The source delivers one 8 ms block at a time, as a sound card would on the device."""


@dataclass
class RunResult:
    """What a run did: telemetry summary, the pack and outputs used, the intensities it rendered."""

    summary: dict[str, Any]
    intensities: np.ndarray
    pack_name: str
    source: str
    output_urls: list[str]


def open_source(spec: str | None, stdin_rate_hz: int = DEVICE_STREAM.sample_rate_hz, stdin_channels: int = 1, stdin_format: str = "s16le",
                seconds: float | None = None) -> tuple[str, Iterator[np.ndarray]]:
    """``None``: the bundled example; ``-``: raw PCM on stdin; ``mic`` / ``mic:DEVICE``: a microphone; else a file."""
    if spec is None:
        return str(EXAMPLE_SOUND), audio_source.file_source(EXAMPLE_SOUND, SOURCE_BLOCK_SAMPLES)
    if spec == "-":
        return "stdin", audio_source.stdin_source(stdin_rate_hz, stdin_channels, stdin_format, SOURCE_BLOCK_SAMPLES)
    if spec == "mic" or spec.startswith("mic:"):
        device: str | int | None = spec[4:] or None
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        return spec, audio_source.microphone_source(device, SOURCE_BLOCK_SAMPLES, seconds)
    return spec, audio_source.file_source(spec, SOURCE_BLOCK_SAMPLES)


def build_rendering(rig_path: str | None, output_url: str | None, stems: tuple[str, ...],
                    labels: tuple[str, ...]) -> tuple[Renderer, list[RoutedOutput]]:
    """The renderer and routed outputs of a rig file, or of the bundled simulated vest; ``output_url`` replaces
    every output of the rig with one output carrying all actuators."""
    rig = load_rig(rig_path) if rig_path is not None else default_rig()
    return rig.make_renderer(stems, labels), rig.open_outputs(output_url)


class _StopOnSignal:
    """SIGINT/SIGTERM stop the run: the handler raises KeyboardInterrupt at once (a blocked read returns), and the
    block loop raises it again in case it was swallowed where Python ignores exceptions (a ``__del__``)."""

    def __init__(self, notifier: SystemdNotifier) -> None:
        self.signum: int | None = None
        self.notifier = notifier

    def __call__(self, signum: int, frame: Any) -> None:
        self.signum = signum
        raise KeyboardInterrupt(f"signal {signum}")

    def blocks(self, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for block in blocks:
            if self.signum is not None:
                raise KeyboardInterrupt(f"signal {self.signum}")
            self.notifier.alive()  # the previous hop went through: systemd's watchdog (edge.service)
            yield block


def run_blocks_until_signal(pipeline: Pipeline, blocks: Iterator[np.ndarray]) -> np.ndarray:
    """:func:`~edge.pipeline.run_blocks` with SIGINT/SIGTERM stopping it (every output zeroed and closed)."""
    notifier = SystemdNotifier.from_environment()  # under `sense service`: READY=1, WATCHDOG=1 per hop, STOPPING=1
    stop = _StopOnSignal(notifier)
    in_main_thread = threading.current_thread() is threading.main_thread()  # signals can only be set there
    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM) if in_main_thread}
    notifier.ready()
    try:
        return run_blocks(pipeline, stop.blocks(blocks))
    finally:
        notifier.stopping()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run(input_spec: str | None = None, pack_path: str | None = None, rig_path: str | None = None,
        output_url: str | None = None, runtime: str | None = None, precision: str = "fp32", n_threads: int = 1,
        realtime_budget: float | None = 1.0, use_models: bool = True, **source_options: Any) -> RunResult:
    """Run the whole pipeline on one source; every output is zeroed and closed however it ends (SIGTERM too)."""
    pack: Pack | None = load_pack(pack_path) if use_models else None
    source_name, blocks = open_source(input_spec, **source_options)
    stems = pack.separator.names if pack and pack.separator else ()
    labels = pack.tagger.names if pack and pack.tagger else ()
    renderer, outputs = build_rendering(rig_path, output_url, stems, labels)
    try:
        pipeline = Pipeline(pack, renderer, outputs, runtime, precision, n_threads, realtime_budget)
    except BaseException:
        for routed in outputs:
            routed.output.close()
        raise
    intensities = run_blocks_until_signal(pipeline, blocks)
    return RunResult(summary=pipeline.telemetry.summary(), intensities=intensities,
                     pack_name=f"{pack.name} {pack.version}" if pack else "none (DSP only)", source=source_name,
                     output_urls=[routed.output.url for routed in outputs])
