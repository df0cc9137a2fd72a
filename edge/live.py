"""A session that runs on while it is watched and controlled (``sense serve``), without any web code.

:class:`LiveRun` feeds a :class:`~edge.session.Session` from a source that can be switched while it plays (the
file(s) given at start, the bundled example, the microphone), in the calling thread, with ``sense run``'s
failsafe (:func:`edge.run.run_until_signal`: SIGINT/SIGTERM stop it, every output zeroed however it ends). Other
threads read :meth:`LiveRun.snapshot` (the last hop: intensities, preset, tags) and :meth:`LiveRun.status`, and
change controls, the source, the pack or the rig through it; every change goes through the session.

It keeps no history: one row of intensities and the session's bounded telemetry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from edge import audio_source
from edge.controls import MODES, mode_mask
from edge.errors import AudioInputError, ConfigError
from edge.pack import bundled_pack_path, load_pack
from edge.pipeline import STAGES
from edge.rig import RIGS_DIR
from edge.run import StopRecord, is_live, open_source, run_until_signal
from edge.session import Session

EXAMPLE_SOURCE = "example"
"""The bundled example sound, as a source choice."""
MIC_SOURCE = "mic"
IDLE_POLL_S = 0.1
"""While no source plays (the file ended, no loop), the loop wakes this often to see a switch or a stop."""
RECENT_CALLS = 250
"""Live latency covers the last 250 process calls (2 s of 8 ms hops)."""
N_TAGS_SHOWN = 8
MIN_TAG_SHOWN = 0.02
CURRENT = "current"
"""Reload choice: the file the session was started with, read again."""
NO_PACK = "none"
"""Pack choice: DSP-only rendering."""


@dataclass
class _Source:
    spec: str
    name: str
    blocks: Iterator[np.ndarray]


def recent_latency_ms(session: Session, n_calls: int = RECENT_CALLS) -> dict[str, dict[str, float]]:
    """Per stage and for the whole hop, p50/p95/max milliseconds per hop over the last ``n_calls`` process calls.
    Safe to call while the pipeline runs in another thread (the two reads are cut to the calls both saw)."""
    telemetry = session.telemetry
    seconds = telemetry.stage_seconds
    hops = telemetry.hops_per_call
    n_seen = min(len(hops), *(len(column) for column in seconds.values()))
    start = max(0, n_seen - n_calls)
    hop_counts = np.maximum(hops[start:n_seen].astype(np.float64), 1.0)
    per_hop_ms = {stage: column[start:n_seen] / hop_counts * 1e3 for stage, column in seconds.items()}
    per_hop_ms["hop"] = np.sum([per_hop_ms[stage] for stage in STAGES], axis=0)
    return {
        stage: {
            "p50_ms": float(np.percentile(ms, 50)) if ms.size else 0.0,
            "p95_ms": float(np.percentile(ms, 95)) if ms.size else 0.0,
            "max_ms": float(ms.max()) if ms.size else 0.0,
        }
        for stage, ms in per_hop_ms.items()
    }


def link_health(session: Session) -> list[dict[str, Any]]:
    """Per output: its URL and the link counters it reports (frames acknowledged / lost / late, reconnects, … —
    ``session.health()`` when the session keeps them, else each output's ``health()``); plain outputs report
    only their URL."""
    report = getattr(session, "health", None)
    if callable(report):
        health = report()
        if hasattr(health, "as_dicts"):
            return [_plain(entry) for entry in health.as_dicts()]
    links = []
    for routed in session.outputs:
        output_report = getattr(routed.output, "health", None)
        output_health = output_report() if callable(output_report) else None
        entry = {"url": routed.output.url}
        if output_health is not None:
            entry.update(output_health.as_dict() if hasattr(output_health, "as_dict") else dict(output_health))
        links.append(_plain(entry))
    return links


def _plain(entry: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready: tuples as lists."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in entry.items()}


class LiveRun:
    """Runs ``session`` on a switchable source until stopped (see the module docstring).

    ``input_spec``: the source to start with (a file, ``-`` for stdin, ``mic[:DEVICE]``, None for the example);
    ``loop``: start a file again when it ends (else the outputs are zeroed and the loop idles until a switch);
    ``pack_spec``/``rig_spec``: the paths given at start, None for the defaults (what "reload current" reads
    again); ``use_models``: False when started DSP-only."""

    def __init__(
        self,
        session: Session,
        input_spec: str | None = None,
        loop: bool = False,
        pack_spec: str | None = None,
        rig_spec: str | None = None,
        use_models: bool = True,
        **source_options: Any,
    ) -> None:
        self.session = session
        self.loop = loop
        self.pack_spec = pack_spec
        self.rig_spec = rig_spec
        self.use_models = use_models
        self.source_options = source_options
        start_spec = EXAMPLE_SOURCE if input_spec is None else input_spec
        choices = [start_spec] if start_spec != "-" else []
        self.source_choices = [*choices, *(c for c in (EXAMPLE_SOURCE, MIC_SOURCE) if c not in choices)]
        """What the source can be switched to (stdin cannot be opened again, so it is not offered)."""
        self._source = self._open(start_spec)
        self._pending: _Source | None = None
        self._ended = False
        self._stop = threading.Event()
        self._switched = threading.Event()
        self._lock = threading.Lock()
        self.latest = np.zeros(session.n_actuators, dtype=np.float32)
        """The last hop's intensities (what the outputs were sent)."""
        self.peak = np.zeros(session.n_actuators, dtype=np.float32)
        """The highest intensity each actuator reached (for the run summary)."""
        self.stopped = StopRecord()
        self.started_s = time.monotonic()

    # ---------------------------------------------------------------------------------------------- sources
    def _open(self, spec: str) -> _Source:
        name, blocks = open_source(None if spec == EXAMPLE_SOURCE else spec, **self.source_options)
        if not is_live(spec):
            blocks = audio_source.paced(blocks, self.session.stream.sample_rate_hz)
        return _Source(spec, name, blocks)

    def switch_source(self, spec: str) -> str:
        """Play ``spec`` (one of :attr:`source_choices`) from the next block. It is opened (and its first block
        read) here, so a file that does not decode or a microphone that is absent raises and nothing changes."""
        if spec not in self.source_choices:
            raise ConfigError(f"source {spec!r}: not offered; sources: {', '.join(self.source_choices)}")
        source = self._open(spec)
        try:
            first = next(source.blocks)
        except StopIteration:
            raise AudioInputError(f"source {spec!r}: holds no audio") from None
        rest = source.blocks

        def chained() -> Iterator[np.ndarray]:
            yield first
            yield from rest

        with self._lock:
            self._pending = _Source(spec, source.name, chained())
        self._switched.set()
        return source.name

    def _blocks(self) -> Iterator[np.ndarray]:
        """The session's input: the current source's blocks; a pending switch is taken between two blocks (the old
        source is closed here, in the thread that reads it); when a source ends, the outputs are zeroed and empty
        blocks keep the loop (and its stop checks) alive until a switch or a stop."""
        empty = np.zeros(0, dtype=np.float32)
        while not self._stop.is_set():
            with self._lock:
                pending, self._pending = self._pending, None
            if pending is not None:
                close = getattr(self._source.blocks, "close", None)
                if callable(close):
                    close()
                self._source, self._ended = pending, False
                self._switched.clear()
            if self._ended:
                self._switched.wait(IDLE_POLL_S)
                yield empty
                continue
            try:
                yield next(self._source.blocks)
            except StopIteration:
                if self.loop and not is_live(self._source.spec) and self._source.spec != "-":
                    self._source = self._open(self._source.spec)
                    continue
                self._ended = True
                self.latest = np.zeros_like(self.latest)
                self.session.zero_outputs()

    # ---------------------------------------------------------------------------------------------- running
    def run(self) -> StopRecord:
        """Feed the session until :meth:`stop`, SIGINT or SIGTERM (from the main thread); the session is closed
        (every output zeroed) on the way out, however it ends. Returns which signal stopped it, if one did."""
        loop = run_until_signal(self.session, self._blocks(), self.stopped)
        try:
            for intensities in loop:
                if len(intensities):
                    self.latest = intensities[-1]
                    if intensities.shape[1] == self.peak.shape[0]:
                        self.peak = np.maximum(self.peak, intensities.max(axis=0))
        except KeyboardInterrupt:  # the signal arrived between two hops, outside the loop's generator
            if self.stopped.signum is None:
                raise
        finally:
            loop.close()
            self.latest = np.zeros_like(self.latest)
        return self.stopped

    def stop(self) -> None:
        self._stop.set()
        self._switched.set()

    # ---------------------------------------------------------------------------------------------- control
    def set(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Change live parameters (all checked first; a ConfigError changes nothing); returns them all."""
        if not isinstance(values, Mapping) or not values:
            raise ConfigError(f"set: expected an object of parameter -> value, got {values!r}")
        self.session.set_params(values)
        if self.session.controls.muted:
            self.latest = np.zeros_like(self.latest)
        return self.session.live_params()

    def reload(self, pack: str | None = None, rig: str | None = None) -> None:
        """Load the pack and/or rig again: ``current`` (the files given at start, read again), a bundled name, or
        for the pack ``none`` (DSP-only). Everything is checked before anything changes (an error names the file
        and field)."""
        changes: dict[str, Any] = {}
        if pack is not None:
            self._offered("pack", pack, self.pack_choices())
            if pack == NO_PACK or pack == CURRENT and not self.use_models:
                changes["pack"] = None
            else:
                changes["pack"] = load_pack(self.pack_spec if pack == CURRENT else bundled_pack_path(pack))
        if rig is not None:
            self._offered("rig", rig, self.rig_choices())
            changes["rig"] = self.rig_spec if rig == CURRENT else rig
        if not changes:
            raise ConfigError("reload: name a pack and/or a rig ('current' reads the files given at start again)")
        self.session.reload(**changes)
        self.latest = np.zeros(self.session.n_actuators, dtype=np.float32)
        self.peak = np.zeros(self.session.n_actuators, dtype=np.float32)

    @staticmethod
    def _offered(kind: str, value: Any, choices: list[str]) -> None:
        if value not in choices:
            raise ConfigError(f"reload {kind} {value!r}: not offered; {kind}s: {', '.join(choices)}")

    def pack_choices(self) -> list[str]:
        bundled = sorted(p.name for p in bundled_pack_path().parent.iterdir() if (p / "manifest.json").exists())
        return [CURRENT, NO_PACK, *bundled]

    def rig_choices(self) -> list[str]:
        return [CURRENT, *sorted(p.stem for p in RIGS_DIR.glob("*.toml"))]

    def save(self) -> str:
        """Save the live controls into the rig file (validated, atomic); returns its path."""
        from edge.rig_save import save_controls

        rig_path = self.session.rig.path
        if rig_path is None:
            raise ConfigError("save: this rig was not loaded from a file; start with --rig FILE")
        return str(save_controls(rig_path, self.session.controls))

    # ---------------------------------------------------------------------------------------------- views
    def snapshot(self) -> dict[str, Any]:
        """What a live view shows every frame: the last hop's intensities, the active preset, the strongest tags,
        run counters and the source's state. Small, JSON-ready."""
        session = self.session
        controlled = session.controlled
        tags: list[tuple[str, float]] = []
        if controlled.last_tags is not None:
            order = np.argsort(controlled.last_tags)[::-1][:N_TAGS_SHOWN]
            tags = [
                (controlled.labels[i], round(float(controlled.last_tags[i]), 3))
                for i in order
                if controlled.last_tags[i] >= MIN_TAG_SHOWN
            ]
        telemetry = session.telemetry
        return {
            "intensities": [round(float(v), 3) for v in self.latest],
            "preset": controlled.last_preset,
            "tags": tags,
            "n_hops": telemetry.n_hops,
            "n_dropped_hops": telemetry.n_dropped_hops,
            "audio_s": round(telemetry.audio_seconds, 3),
            "muted": session.controls.muted,
            "source": {
                "spec": self._source.spec,
                "name": self._source.name,
                "state": "ended" if self._ended else "playing",
            },
        }

    def status(self) -> dict[str, Any]:
        """Everything a control page or ``sense status`` shows: the snapshot, the rig (actuators with body
        positions, groups, presets), the live parameters, what can be chosen, recent latency and link health."""
        session = self.session
        spec = session.rig.spec
        pack = session.pack
        return {
            **self.snapshot(),
            "rig": {
                "name": spec.name,
                "path": str(session.rig.path) if session.rig.path else None,
                "actuators": [
                    {"id": a.id, "surface": a.surface, "position": list(a.position), "kind": a.kind}
                    for a in spec.actuators
                ],
                "groups": {name: [spec.actuators[i].id for i in members] for name, members in spec.groups.items()},
                "presets": [p.name for p in sorted(spec.presets, key=lambda p: p.priority)],
            },
            "pack": f"{pack.name} {pack.version}" if pack else None,
            "runtime": session.telemetry.runtime,
            "n_threads": session.telemetry.n_threads,
            "live_params": session.live_params(),
            "modes": {mode: bool(mode_mask(spec, mode).any()) for mode in MODES},
            "choices": {"sources": self.source_choices, "packs": self.pack_choices(), "rigs": self.rig_choices()},
            "latency_ms": recent_latency_ms(session),
            "links": link_health(session),
            "outputs": session.output_urls,
            "uptime_s": round(time.monotonic() - self.started_s, 1),
        }
