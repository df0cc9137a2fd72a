"""Library behind ``sense run``: open the source, the pack, the rig/outputs and run the pipeline with failsafe."""

from __future__ import annotations

import signal
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge import audio_source
from edge.errors import ConfigError, OutputError
from edge.pack import Pack, load_pack
from edge.sdnotify import SystemdNotifier
from edge.session import OutputChoice, Session, SessionHealth, SessionParams, open_session
from edge.stream import DEVICE_STREAM

EXAMPLE_SOUND = Path(__file__).parent / "data" / "example.flac"
SOURCE_BLOCK_SAMPLES = DEVICE_STREAM.hop
"""The source delivers one 8 ms block at a time, as a sound card would on the device."""


@dataclass
class RunResult:
    """What a run did: telemetry summary, the pack and outputs used, the peak intensity each actuator reached, and
    (only when asked for, e.g. by tests of short files) every hop's intensities."""

    summary: dict[str, Any]
    peak_intensities: np.ndarray
    """(n_actuators,) the highest intensity each actuator was driven to."""
    pack_name: str
    source: str
    output_urls: list[str]
    intensities: np.ndarray | None = None
    """(n_hops, n_actuators) with ``keep_intensities=True``, else None (a long run keeps no history)."""
    pace: str = "fast"
    """``realtime`` when the input was released at the audio's pace (see :data:`PACES`)."""
    stopped_by_signal: int | None = None
    """SIGINT or SIGTERM when a signal ended the run (outputs zeroed, summary complete up to then), else None."""
    health: SessionHealth | None = None
    """Link health of every output over the whole run (:meth:`edge.session.Session.health`)."""


PACES = ("realtime", "fast")
"""``realtime``: a file or stdin is released at the audio's pace (what hardware and audio-out need); ``fast``: as
fast as the pipeline goes (simulation, rendering, tests)."""


def choose_pace(pace: str | None, source_name: str, output_urls: list[str]) -> str:
    """The pace of a run: ``pace`` if given; else realtime when any output is not ``sim://``. A live source (the
    microphone) is paced by its sound card: always realtime, never held back here."""
    if is_live(source_name):
        return "realtime"
    if pace is not None:
        return pace
    return "realtime" if any(not url.startswith("sim://") for url in output_urls) else "fast"


def is_live(source_spec: str) -> bool:
    """A microphone: ``mic`` or ``mic:DEVICE``."""
    return source_spec == "mic" or source_spec.startswith("mic:")


def open_source(
    spec: str | None,
    stdin_rate_hz: int = DEVICE_STREAM.sample_rate_hz,
    stdin_channels: int = 1,
    stdin_format: str = "s16le",
    seconds: float | None = None,
) -> tuple[str, Iterator[np.ndarray]]:
    """``None``: the bundled example; ``-``: raw PCM on stdin; ``mic`` / ``mic:DEVICE``: a microphone; else a file."""
    if spec is None:
        return str(EXAMPLE_SOUND), audio_source.file_source(EXAMPLE_SOUND, SOURCE_BLOCK_SAMPLES)
    if spec == "-":
        return "stdin", audio_source.stdin_source(stdin_rate_hz, stdin_channels, stdin_format, SOURCE_BLOCK_SAMPLES)
    if is_live(spec):
        device: str | int | None = spec[4:] or None
        if isinstance(device, str) and device.isdigit():
            device = int(device)
        return spec, audio_source.microphone_source(device, SOURCE_BLOCK_SAMPLES, seconds)
    return spec, audio_source.file_source(spec, SOURCE_BLOCK_SAMPLES)


@dataclass
class StopRecord:
    """Filled by :func:`run_until_signal`: the signal that ended the run, or None when the input ended."""

    signum: int | None = None


class _StopOnSignal:
    """SIGINT/SIGTERM stop the run: the handler raises KeyboardInterrupt at once (a blocked read returns), and the
    block loop raises it again in case it was swallowed where Python ignores exceptions (a ``__del__``)."""

    def __init__(self, notifier: SystemdNotifier, record: StopRecord) -> None:
        self.record = record
        self.notifier = notifier

    def __call__(self, signum: int, frame: Any) -> None:
        self.record.signum = signum
        raise KeyboardInterrupt(f"signal {signum}")

    def blocks(self, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for block in blocks:
            if self.record.signum is not None:
                raise KeyboardInterrupt(f"signal {self.record.signum}")
            self.notifier.alive()  # the previous hop went through: systemd's watchdog (edge.service)
            yield block


def run_until_signal(
    session: Session, blocks: Iterator[np.ndarray], stopped: StopRecord | None = None
) -> Generator[np.ndarray, None, None]:
    """``session.run(blocks)`` with SIGINT/SIGTERM stopping it: yields each block's intensities; the session is
    closed (every output zeroed) and the signal handlers restored however the loop ends.

    With ``stopped``, a stop by SIGINT/SIGTERM ends the loop normally and is recorded there (the caller prints its
    summary); without it, it propagates as KeyboardInterrupt."""
    notifier = SystemdNotifier.from_environment()  # under `sense service`: READY=1, WATCHDOG=1 per hop, STOPPING=1
    stop = _StopOnSignal(notifier, stopped if stopped is not None else StopRecord())
    in_main_thread = threading.current_thread() is threading.main_thread()  # signals can only be set there
    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM) if in_main_thread}
    notifier.ready()
    try:
        yield from session.run(stop.blocks(blocks))
    except KeyboardInterrupt:
        if stopped is None or stopped.signum is None:
            raise
    finally:
        notifier.stopping()
        session.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass(frozen=True)
class SessionOptions:
    """What ``sense run`` and ``sense serve`` open a session from: the pack (None: the bundled one), the rig, the
    outputs, how the session runs (:class:`~edge.session.SessionParams`: runtime, precision, threads, real-time
    budget, haptic offset), whether to load the pack at all (``use_models=False``: DSP only, no pack), and the
    sounds learned with ``sense learn`` (``user_sounds``, from ``sounds_dir``)."""

    pack_path: str | None = None
    rig_path: str | None = None
    output: OutputChoice = None
    params: SessionParams = field(default_factory=SessionParams)
    use_models: bool = True
    user_sounds: bool = False
    sounds_dir: str | None = None


def open_run_session(options: SessionOptions) -> Session:
    """The session of ``sense run`` (and ``sense serve``) from its options."""
    pack: Pack | None = load_pack(options.pack_path) if options.use_models else None
    user = None
    if options.user_sounds and pack is not None and pack.tagger is not None:
        from edge.user_sounds.live import open_user_sounds

        user = open_user_sounds(pack, options.sounds_dir)
    return open_session(pack, options.rig_path, options.output, options.params, user_sounds=user)


def run(
    input_spec: str | None = None,
    pack_path: str | None = None,
    rig_path: str | None = None,
    output_url: str | None = None,
    runtime: str | None = None,
    precision: str = "fp32",
    n_threads: int = 1,
    realtime_budget: float | None = 1.0,
    use_models: bool = True,
    keep_intensities: bool = False,
    user_sounds: bool = False,
    sounds_dir: str | None = None,
    pace: str | None = None,
    haptic_offset_ms: float | None = None,
    **source_options: Any,
) -> RunResult:
    """Run the whole pipeline on one source; every output is zeroed and closed however it ends. SIGINT/SIGTERM end
    it normally (``RunResult.stopped_by_signal``) so the caller can print the summary.

    The loop keeps no history: only the peak per actuator (and, with ``keep_intensities``, every hop's intensities).
    ``user_sounds``: also listen for the sounds learned with ``sense learn`` (in ``sounds_dir``). ``pace``:
    ``realtime`` / ``fast`` / None (realtime unless every output is ``sim://``, see :func:`choose_pace`).
    ``haptic_offset_ms``: touch against sound (None: the rig's; see :class:`edge.session.SessionParams`).
    """
    if pace is not None and pace not in PACES:
        raise ConfigError(f"--pace {pace}: unknown; expected one of {', '.join(PACES)}")
    source_name, blocks = open_source(input_spec, **source_options)
    params = SessionParams(
        runtime=runtime,
        precision=precision,
        n_threads=n_threads,
        realtime_budget=realtime_budget,
        haptic_offset_ms=haptic_offset_ms,
    )
    session = open_run_session(
        SessionOptions(pack_path, rig_path, output_url, params, use_models, user_sounds, sounds_dir)
    )
    pack = session.pack
    chosen_pace = choose_pace(pace, source_name, session.output_urls)
    if chosen_pace == "realtime" and not is_live(source_name):
        blocks = audio_source.paced(blocks, session.stream.sample_rate_hz)
    peak = np.zeros(session.n_actuators, dtype=np.float32)
    kept: list[np.ndarray] = []
    stopped = StopRecord()
    loop = run_until_signal(session, blocks, stopped)
    try:
        for intensities in loop:
            if len(intensities):
                peak = np.maximum(peak, intensities.max(axis=0))
            if keep_intensities:
                kept.append(intensities)
    except KeyboardInterrupt:  # the signal arrived between two hops, outside the loop's generator
        if stopped.signum is None:
            raise
    finally:
        loop.close()
    health = session.health()
    for lost in (output for output in health.outputs if not output.link_up):
        raise OutputError(
            f"output {lost.url}: the device was lost and did not come back before the run ended"
            + (f" ({lost.messages[0]})" if lost.messages else "")
        )
    all_intensities = None
    if keep_intensities:
        all_intensities = np.concatenate(kept) if kept else np.zeros((0, session.n_actuators), dtype=np.float32)
    return RunResult(
        summary=session.telemetry.summary(),
        peak_intensities=peak,
        pack_name=f"{pack.name} {pack.version}" if pack else "none (DSP only)",
        source=source_name,
        output_urls=session.output_urls,
        intensities=all_intensities,
        pace=chosen_pace,
        stopped_by_signal=stopped.signum,
        health=health,
    )
