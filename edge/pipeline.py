"""The streaming pipeline: samples -> framer -> STFT -> separator -> tagger -> renderer -> outputs.

Rules it keeps (DESIGN.md):
- streaming equals offline: ``process`` may be fed any block sizes;
- no backlog: when the model stages use more than ``realtime_budget`` of the audio time they cover, the
  overrun is paid back by rendering the following hops DSP-only (no models), counted as dropped hops;
- failsafe: any exception inside ``process`` zeroes every output before it propagates; ``close`` zeroes and
  closes every output (also on Ctrl-C, through the context manager).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from edge.analysis import Analysis
from edge.errors import ConfigError
from edge.haptics.base import Renderer
from edge.model_stages import SeparatorStage, TaggerStage
from edge.outputs.base import RoutedOutput
from edge.pack import Pack
from edge.runners import open_runner
from edge.stft import BlockFramer, StreamingSTFT
from edge.stream import DEVICE_STREAM, StreamParams, stream_of

STAGES = ("stft", "separator", "tagger", "render", "output")


TELEMETRY_WINDOW_CALLS = 1 << 16
"""Latency percentiles cover the most recent 65 536 process calls (about 9 minutes of 8 ms hops); totals and
counters cover the whole run. Memory stays constant however long the device runs."""


@dataclass
class Telemetry:
    """Per-stage wall time of the recent ``process`` calls that completed at least one hop, and run totals."""

    hop_s: float
    runtime: str = "none"
    precision: str = "fp32"
    n_threads: int = 1
    window_calls: int = TELEMETRY_WINDOW_CALLS
    n_hops: int = 0
    n_dropped_hops: int = 0
    n_calls: int = 0

    def __post_init__(self) -> None:
        self._seconds = np.zeros((self.window_calls, len(STAGES)), dtype=np.float64)
        self._hops = np.zeros(self.window_calls, dtype=np.int64)
        self._total_s = np.zeros(len(STAGES), dtype=np.float64)

    def record(self, stage_seconds: dict[str, float], n_hops: int) -> None:
        """Add one process call that completed ``n_hops`` hops, with each stage's wall time in seconds."""
        row = self.n_calls % self.window_calls
        self._seconds[row] = [stage_seconds[stage] for stage in STAGES]
        self._hops[row] = n_hops
        self._total_s += self._seconds[row]
        self.n_calls += 1
        self.n_hops += n_hops

    def _recent_rows(self) -> np.ndarray:
        """Row indices of the retained calls, oldest first."""
        if self.n_calls <= self.window_calls:
            return np.arange(self.n_calls)
        return (np.arange(self.window_calls) + self.n_calls) % self.window_calls

    @property
    def stage_seconds(self) -> dict[str, np.ndarray]:
        """Stage -> (n_recent_calls,) seconds of each retained call, oldest first."""
        rows = self._recent_rows()
        return {stage: self._seconds[rows, i] for i, stage in enumerate(STAGES)}

    @property
    def hops_per_call(self) -> np.ndarray:
        """(n_recent_calls,) hops completed by each retained call, oldest first."""
        return self._hops[self._recent_rows()]

    @property
    def audio_seconds(self) -> float:
        return self.n_hops * self.hop_s

    def summary(self) -> dict[str, Any]:
        """Per-stage latency per hop (p50/p95/p99/max in ms, recent window), run totals, real-time factor, drops."""
        hops = np.maximum(self.hops_per_call.astype(np.float64), 1.0)
        stages = {}
        for i, (stage, seconds) in enumerate(self.stage_seconds.items()):
            per_hop_ms = seconds / hops * 1e3
            stages[stage] = {
                "p50_ms": float(np.percentile(per_hop_ms, 50)) if per_hop_ms.size else 0.0,
                "p95_ms": float(np.percentile(per_hop_ms, 95)) if per_hop_ms.size else 0.0,
                "p99_ms": float(np.percentile(per_hop_ms, 99)) if per_hop_ms.size else 0.0,
                "max_ms": float(per_hop_ms.max()) if per_hop_ms.size else 0.0,
                "total_s": float(self._total_s[i]),
            }
        total_s = float(self._total_s.sum())
        return {
            "audio_seconds": self.audio_seconds, "compute_seconds": total_s,
            "real_time_factor": total_s / self.audio_seconds if self.audio_seconds else 0.0,
            "n_hops": self.n_hops, "n_dropped_hops": self.n_dropped_hops, "hop_ms": self.hop_s * 1e3,
            "latency_window_calls": int(min(self.n_calls, self.window_calls)),
            "runtime": self.runtime, "precision": self.precision, "n_threads": self.n_threads, "stages": stages,
        }


class Pipeline:
    """process((n_samples,) float32 at the stream's rate) -> (n_hops_completed, n_actuators) intensities, also
    written out. Built only by :func:`edge.session.open_session` (the one assembly point)."""

    def __init__(self, pack: Pack | None, renderer: Renderer, outputs: Iterable[RoutedOutput] = (),
                 runtime: str | None = None, precision: str = "fp32", n_threads: int = 1,
                 realtime_budget: float | None = None, use_tagger: bool = True) -> None:
        self.pack = pack
        self.renderer = renderer
        self.outputs = list(outputs)
        self.realtime_budget = realtime_budget
        self.use_models = True
        """False renders every hop DSP-only (no model calls, not counted as dropped); may change between blocks."""
        self.separator: SeparatorStage | None = None
        self.tagger: TaggerStage | None = None
        stream = DEVICE_STREAM
        runtime_used = "none"
        if pack is not None:
            if pack.separator is not None:
                self.separator = SeparatorStage(open_runner(pack, pack.separator, runtime, precision, n_threads))
                runtime_used = self.separator.runner.runtime
            if pack.tagger is not None and use_tagger:
                self.tagger = TaggerStage(open_runner(pack, pack.tagger, runtime, precision, n_threads))
                runtime_used = self.tagger.runner.runtime
            stream = stream_of(pack)
        self.attach_outputs(self.outputs)
        self.stems: tuple[str, ...] = self.separator.runner.model.names if self.separator else ()
        self.labels: tuple[str, ...] = self.tagger.runner.model.names if self.tagger else ()
        self.stream: StreamParams = stream
        self.n_fft, self.hop = stream.n_fft, stream.hop
        self.framer = BlockFramer(stream.hop)
        self.stft = StreamingSTFT(stream.n_fft, stream.hop, stream.window)
        self.telemetry = Telemetry(hop_s=stream.hop_s, runtime=runtime_used, precision=precision,
                                   n_threads=n_threads)
        self.reset()

    def attach_outputs(self, outputs: Iterable[RoutedOutput]) -> None:
        """Drive ``outputs`` from now on (the session opens them only after the models loaded and checked)."""
        outputs = list(outputs)
        for routed in outputs:
            if routed.actuator_indices.size and int(routed.actuator_indices.max()) >= self.renderer.n_channels:
                raise ConfigError(f"output {routed.output.url!r} is routed to actuator "
                                  f"{int(routed.actuator_indices.max())}, but the renderer drives {self.renderer.n_channels}")
        for routed in outputs:
            routed.reset()
        self.outputs = outputs

    @property
    def n_actuators(self) -> int:
        return self.renderer.n_channels

    def reset(self) -> None:
        """Forget all audio history (stages, renderer, output drives) and the backlog debt; telemetry is kept."""
        for stage in (self.framer, self.stft, self.separator, self.tagger, self.renderer):
            if stage is not None:
                stage.reset()
        for routed in self.outputs:
            routed.reset()
        self._debt_s = 0.0

    def process(self, samples: np.ndarray) -> np.ndarray:
        try:
            return self._process(samples)
        except BaseException:
            self.zero_outputs()
            raise

    def _timed(self, stage: str, started: float) -> float:
        now = time.perf_counter()
        self._stage_times[stage] = now - started
        return now

    def _process(self, samples: np.ndarray) -> np.ndarray:
        self._stage_times = {stage: 0.0 for stage in STAGES}
        started = time.perf_counter()
        hops = self.framer.process(samples)
        n_hops = hops.shape[0]
        if n_hops == 0:
            return np.zeros((0, self.n_actuators), dtype=np.float32)
        mixture_mag = np.abs(self.stft.process(hops))
        started = self._timed("stft", started)
        # No backlog: while model stages owe time, render hops without them (DSP-only) to pay it back.
        n_dsp = 0
        if self.use_models and self.realtime_budget is not None and self._debt_s > 0.0 and (self.separator or self.tagger):
            n_dsp = min(n_hops, int(np.ceil(self._debt_s / self.telemetry.hop_s)))
            self._debt_s = max(0.0, self._debt_s - n_dsp * self.telemetry.hop_s)
            self.telemetry.n_dropped_hops += n_dsp
        blocks = []
        if n_dsp:
            blocks.append(self._render_block(hops[:n_dsp], mixture_mag[:n_dsp], use_models=False, first_hop=0))
        if n_dsp < n_hops:
            blocks.append(self._render_block(hops[n_dsp:], mixture_mag[n_dsp:], use_models=self.use_models,
                                             first_hop=n_dsp))
        intensities = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
        self.telemetry.record(self._stage_times, n_hops)
        return intensities

    def _render_block(self, hops: np.ndarray, mixture_mag: np.ndarray, use_models: bool, first_hop: int) -> np.ndarray:
        n_hops = hops.shape[0]
        started = time.perf_counter()
        stem_mag = None
        tag_probs = None
        drum_onsets = None
        if use_models and self.separator is not None:
            masks, drum_onsets = self.separator.process_with_onsets(mixture_mag)
            stem_mag = {stem: masks[:, i, :] * mixture_mag for i, stem in enumerate(self.stems)}
            started = self._timed("separator", started)
        if use_models and self.tagger is not None:
            tag_probs = self.tagger.process(mixture_mag)
            started = self._timed("tagger", started)
        model_s = self._stage_times["separator"] + self._stage_times["tagger"]
        if use_models and self.realtime_budget is not None:
            self._debt_s += max(0.0, model_s - self.realtime_budget * n_hops * self.telemetry.hop_s)
        t_end_s = (self.telemetry.n_hops + first_hop + np.arange(1, n_hops + 1)) * self.telemetry.hop_s
        analysis = Analysis(t_s=t_end_s, mixture_mag=mixture_mag, stem_mag=stem_mag, tag_probs=tag_probs,
                            labels=self.labels, audio=hops.reshape(-1), sample_rate_hz=self.stream.sample_rate_hz,
                            n_fft=self.n_fft, hop=self.hop, drum_onsets=drum_onsets,
                            onset_classes=self.separator.runner.model.onset_classes if self.separator else ())
        intensities = np.asarray(self.renderer.process(analysis), dtype=np.float32)
        started = self._timed("render", started)
        for i in range(n_hops):
            for routed in self.outputs:
                routed.write(float(t_end_s[i]), intensities[i], hops[i])
        self._stage_times["output"] += time.perf_counter() - started
        return intensities

    def _each_output(self, action: str) -> None:
        """Call ``action`` ('zero' or 'close') on every output, going on past failures; re-raise the first one."""
        first_error: BaseException | None = None
        for routed in self.outputs:
            try:
                getattr(routed.output, action)()
            except Exception as error:  # one broken output must not keep the others running
                first_error = first_error or error
        if first_error is not None:
            raise first_error

    def zero_outputs(self) -> None:
        """Drive every output to zero."""
        self._each_output("zero")

    def close(self) -> None:
        """Zero and close every output (idempotent)."""
        self._each_output("close")

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

