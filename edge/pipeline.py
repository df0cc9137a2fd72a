"""The streaming pipeline: samples -> framer -> STFT -> separator -> tagger -> renderer -> outputs.

Rules it keeps (DESIGN.md):
- streaming equals offline: ``process`` may be fed any block sizes;
- no backlog: when the model stages use more than ``realtime_budget`` of the audio time they cover, the
  overrun is paid back by rendering the following hops DSP-only (no models), counted as dropped hops;
- failsafe: any exception inside ``process`` zeroes every output before it propagates; ``close`` zeroes and
  closes every output (also on Ctrl-C, through the context manager);
- haptic offset: touch can be shifted against sound in whole hops (``haptic_offset_ms`` > 0: the intensities
  pass through a delay line, < 0: the frames' audio does).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from edge.analysis import Analysis
from edge.errors import ConfigError
from edge.haptics.base import Renderer
from edge.model_stages import OnsetStage, SeparatorStage, TaggerStage
from edge.outputs.base import RoutedOutput
from edge.pack import Pack
from edge.runners import open_runner
from edge.stft import BlockFramer, StreamingSTFT
from edge.stream import DEVICE_STREAM, MAX_HAPTIC_OFFSET_MS, StreamParams, check_haptic_offset_ms, stream_of

STAGES = ("stft", "separator", "tagger", "render", "output")
STFT, SEPARATOR, TAGGER, RENDER, OUTPUT = range(len(STAGES))


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
        self._total_s = [0.0] * len(STAGES)  # Python floats: one hop's update is cheaper than a numpy call

    def record(self, stage_seconds: Sequence[float] | dict[str, float], n_hops: int) -> None:
        """Add one process call that completed ``n_hops`` hops, with each stage's wall time in seconds (in
        :data:`STAGES` order, or by stage name)."""
        if isinstance(stage_seconds, dict):
            stage_seconds = [stage_seconds[stage] for stage in STAGES]
        row = self.n_calls % self.window_calls
        self._seconds[row] = stage_seconds
        self._total_s = [total_s + seconds for total_s, seconds in zip(self._total_s, stage_seconds)]
        self._hops[row] = n_hops
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
        total_s = float(sum(self._total_s))
        return {
            "audio_seconds": self.audio_seconds,
            "compute_seconds": total_s,
            "real_time_factor": total_s / self.audio_seconds if self.audio_seconds else 0.0,
            "n_hops": self.n_hops,
            "n_dropped_hops": self.n_dropped_hops,
            "hop_ms": self.hop_s * 1e3,
            "latency_window_calls": int(min(self.n_calls, self.window_calls)),
            "runtime": self.runtime,
            "precision": self.precision,
            "n_threads": self.n_threads,
            "stages": stages,
        }


class Pipeline:
    """process((n_samples,) float32 at the stream's rate) -> (n_hops_completed, n_actuators) intensities, also
    written out. Built only by :func:`edge.session.open_session` (the one assembly point)."""

    def __init__(
        self,
        pack: Pack | None,
        renderer: Renderer,
        outputs: Iterable[RoutedOutput] = (),
        runtime: str | None = None,
        precision: str = "fp32",
        n_threads: int = 1,
        realtime_budget: float | None = None,
        use_tagger: bool = True,
    ) -> None:
        self.pack = pack
        self.renderer = renderer
        self.outputs = list(outputs)
        self.realtime_budget = realtime_budget
        self.use_models = True
        """False renders every hop DSP-only (no model calls, not counted as dropped); may change between blocks."""
        self.separator: SeparatorStage | None = None
        self.onsets: OnsetStage | None = None
        self.tagger: TaggerStage | None = None
        stream = DEVICE_STREAM
        runtime_used = "none"
        if pack is not None:
            if pack.separator is not None:
                self.separator = SeparatorStage(open_runner(pack, pack.separator, runtime, precision, n_threads))
                runtime_used = self.separator.runner.runtime
                if pack.onsets is not None:
                    self.onsets = OnsetStage(open_runner(pack, pack.onsets, runtime, precision, n_threads))
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
        self.telemetry = Telemetry(hop_s=stream.hop_s, runtime=runtime_used, precision=precision, n_threads=n_threads)
        self._hop_numbers = np.arange(
            1, 65, dtype=np.float64
        )  # 1, 2, ... for the hops of a block (no per-block arange)
        self._onset_classes = self.onsets.runner.model.names if self.onsets else ()
        self._max_offset_hops = int(np.ceil(MAX_HAPTIC_OFFSET_MS / 1e3 / stream.hop_s))
        self.haptic_offset_ms = 0.0
        self.reset()

    @property
    def haptic_offset_ms(self) -> float:
        """Touch against sound at the outputs, ms: > 0 delays the intensities, < 0 delays the frames' audio; applied
        in whole hops (rounded), within ±:data:`~edge.stream.MAX_HAPTIC_OFFSET_MS`. May change between blocks: the
        delayed stream then starts again from silence."""
        return self._haptic_offset_ms

    @haptic_offset_ms.setter
    def haptic_offset_ms(self, value: float) -> None:
        self._haptic_offset_ms = check_haptic_offset_ms(value)
        self.haptic_offset_hops = int(round(value / 1e3 / self.stream.hop_s))
        self._delay_history: np.ndarray | None = None  # the last hops of the delayed stream, made at its first block

    def attach_outputs(self, outputs: Iterable[RoutedOutput]) -> None:
        """Drive ``outputs`` from now on (the session opens them only after the models loaded and checked)."""
        outputs = list(outputs)
        for routed in outputs:
            if routed.actuator_indices.size and int(routed.actuator_indices.max()) >= self.renderer.n_channels:
                raise ConfigError(
                    f"output {routed.output.url!r} is routed to actuator "
                    f"{int(routed.actuator_indices.max())}, but the renderer drives {self.renderer.n_channels}"
                )
        for routed in outputs:
            routed.reset()
        self.outputs = outputs

    @property
    def n_actuators(self) -> int:
        return self.renderer.n_channels

    def reset(self) -> None:
        """Forget all audio history (stages, renderer, output drives) and the backlog debt; telemetry is kept."""
        for stage in (self.framer, self.stft, self.separator, self.onsets, self.tagger, self.renderer):
            if stage is not None:
                stage.reset()
        for routed in self.outputs:
            routed.reset()
        self._debt_s = 0.0
        self._delay_history = None

    def process(self, samples: np.ndarray) -> np.ndarray:
        try:
            return self._process(samples)
        except BaseException:
            with suppress(Exception):  # every output that can be zeroed is; the error that got us here propagates
                self.zero_outputs()
            raise

    def _process(self, samples: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        hops = self.framer.process(samples)
        n_hops = hops.shape[0]
        if n_hops == 0:
            return np.zeros((0, self.n_actuators), dtype=np.float32)
        seconds = [0.0] * len(STAGES)  # wall time per stage, in STAGES order
        mixture_mag = self.magnitude(hops)
        now = time.perf_counter()
        seconds[STFT] = now - started
        # No backlog: while model stages owe time, render hops without them (DSP-only) to pay it back.
        n_dsp = 0
        if (
            self.use_models
            and self.realtime_budget is not None
            and self._debt_s > 0.0
            and (self.separator or self.tagger)
        ):
            n_dsp = min(n_hops, int(np.ceil(self._debt_s / self.telemetry.hop_s)))
            self._debt_s = max(0.0, self._debt_s - n_dsp * self.telemetry.hop_s)
            self.telemetry.n_dropped_hops += n_dsp
        if n_dsp == 0:
            intensities = self._render_block(hops, mixture_mag, self.use_models, 0, seconds)
        elif n_dsp == n_hops:
            intensities = self._render_block(hops, mixture_mag, False, 0, seconds)
        else:
            intensities = np.concatenate(
                [
                    self._render_block(hops[:n_dsp], mixture_mag[:n_dsp], False, 0, seconds),
                    self._render_block(hops[n_dsp:], mixture_mag[n_dsp:], self.use_models, n_dsp, seconds),
                ]
            )
        self.telemetry.record(seconds, n_hops)
        return intensities

    # The stages of one block, each callable on its own (benchmarks/stage_instructions.py counts them one by one).
    def magnitude(self, hops: np.ndarray) -> np.ndarray:
        """(n_hops, hop) samples -> (n_hops, n_bins) float32 magnitude of the causal STFT."""
        return np.abs(self.stft.process(hops))

    def separate(self, mixture_mag: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Stem name -> (n_hops, n_bins) magnitude, and the drum-onset probabilities (or None when the pack has no
        onset graph); needs a separator."""
        assert self.separator is not None
        masks = self.separator.process(mixture_mag)
        drum_onsets = self.onsets.process(mixture_mag) if self.onsets is not None else None
        stem_mag = masks * mixture_mag[:, None, :]
        return {stem: stem_mag[:, i] for i, stem in enumerate(self.stems)}, drum_onsets

    def analysis(
        self,
        hops: np.ndarray,
        mixture_mag: np.ndarray,
        first_hop: int,
        stem_mag: dict[str, np.ndarray] | None = None,
        tag_probs: np.ndarray | None = None,
        drum_onsets: np.ndarray | None = None,
    ) -> Analysis:
        """What the renderer reads about ``hops``, the block's hops from ``first_hop`` on."""
        n_hops = hops.shape[0]
        if n_hops == 1:  # the device's one-hop call: the same double, without three array operations
            t_end_s = np.empty(1)  # (an array from a list costs ~10 k instructions on the Pi profile)
            t_end_s[0] = (self.telemetry.n_hops + first_hop + 1) * self.telemetry.hop_s
        elif n_hops <= len(self._hop_numbers):
            t_end_s = (self.telemetry.n_hops + first_hop + self._hop_numbers[:n_hops]) * self.telemetry.hop_s
        else:
            t_end_s = (self.telemetry.n_hops + first_hop + np.arange(1, n_hops + 1)) * self.telemetry.hop_s
        return Analysis(
            t_end_s,
            mixture_mag,
            stem_mag,
            tag_probs,
            self.labels,
            hops.reshape(-1),
            self.stream.sample_rate_hz,
            self.n_fft,
            self.hop,
            drum_onsets,
            self._onset_classes,
        )

    def write(self, t_end_s: np.ndarray, intensities: np.ndarray, hops: np.ndarray) -> None:
        """Send each hop's (n_actuators,) intensities to every output, with its audio (shifted by the haptic
        offset)."""
        if self.haptic_offset_hops > 0:
            intensities = self._delayed(intensities, self.haptic_offset_hops)
        elif self.haptic_offset_hops < 0:
            hops = self._delayed(hops, -self.haptic_offset_hops)
        for t_s, hop_intensities, hop in zip(t_end_s.tolist(), intensities, hops):
            for routed in self.outputs:
                routed.write(t_s, hop_intensities, hop)

    def _delayed(self, block: np.ndarray, n_hops: int) -> np.ndarray:
        """``block`` (one row per hop) ``n_hops`` hops later: the rows from before it come from the history."""
        if self._delay_history is None or self._delay_history.shape[1:] != block.shape[1:]:
            self._delay_history = np.zeros((self._max_offset_hops, *block.shape[1:]), dtype=block.dtype)
        joined = np.concatenate([self._delay_history, block])
        self._delay_history = joined[-self._max_offset_hops :]
        return joined[len(joined) - n_hops - len(block) : len(joined) - n_hops]

    def _render_block(
        self, hops: np.ndarray, mixture_mag: np.ndarray, use_models: bool, first_hop: int, seconds: list[float]
    ) -> np.ndarray:
        started = time.perf_counter()
        stem_mag = tag_probs = drum_onsets = None
        model_s = 0.0
        if use_models and self.separator is not None:
            stem_mag, drum_onsets = self.separate(mixture_mag)
            now = time.perf_counter()
            seconds[SEPARATOR] += now - started
            model_s += now - started
            started = now
        if use_models and self.tagger is not None:
            tag_probs = self.tagger.process(mixture_mag)
            now = time.perf_counter()
            seconds[TAGGER] += now - started
            model_s += now - started
            started = now
        if use_models and self.realtime_budget is not None:
            self._debt_s += max(0.0, model_s - self.realtime_budget * hops.shape[0] * self.telemetry.hop_s)
        analysis = self.analysis(hops, mixture_mag, first_hop, stem_mag, tag_probs, drum_onsets)
        intensities = np.asarray(self.renderer.process(analysis), dtype=np.float32)
        now = time.perf_counter()
        seconds[RENDER] += now - started
        self.write(analysis.t_s, intensities, hops)
        seconds[OUTPUT] += time.perf_counter() - now
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

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
