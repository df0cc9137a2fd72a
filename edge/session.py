"""The one assembly point (STYLE.md #16): pack + rig + outputs -> a running :class:`Session`.

Every caller — ``sense run``, ``sense bench``, ``sense render``, the benchmarks and the tests — gets its running
system from :func:`open_session`; nobody wires the stages by hand. The session owns what it opened: ``close()``
(idempotent, also through ``with`` and on Ctrl-C) drives every output to zero and closes it.

Data path of one block: samples -> framer -> STFT -> separator -> tagger -> renderer -> outputs
(:class:`edge.pipeline.Pipeline`); per-hop intensities come back to the caller, the session keeps no history
(telemetry is a bounded ring).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Union

import numpy as np

from edge.controls import CONTROL_NAMES, ControlledRenderer, LiveControls, fit_controls
from edge.errors import ConfigError
from edge.haptics.base import Renderer
from edge.outputs.base import ActuatorOutput, OutputHealth, RoutedOutput
from edge.pack import Pack, load_pack
from edge.pipeline import Pipeline, Telemetry
from edge.rig import Rig, default_rig, load_rig
from edge.stream import StreamParams, check_haptic_offset_ms

OutputChoice = Union[str, ActuatorOutput, Sequence[RoutedOutput], None]
"""Where the intensities go: None = the rig's own outputs; a URL or an open output = one output carrying every
actuator; a sequence of routed outputs = exactly those (empty: render only, nothing driven)."""


@dataclass(frozen=True)
class SessionParams:
    """How the session runs. ``runtime``: 'onnx' / 'litert' / None (the first installed that the pack ships);
    ``realtime_budget``: fraction of the audio time the model stages may use before hops are rendered DSP-only
    (None: never drop); ``use_models``: False renders DSP-only even with a pack (changeable while running)."""

    runtime: str | None = None
    precision: str = "fp32"
    n_threads: int = 1
    realtime_budget: float | None = 1.0
    use_tagger: bool = True
    use_models: bool = True
    haptic_offset_ms: float | None = None
    """Touch against sound at the outputs, ms (> 0: touch later, < 0: sound later; within
    ±:data:`~edge.stream.MAX_HAPTIC_OFFSET_MS`, in whole hops); None: the rig's ``haptic_offset_ms``."""


LIVE_PARAMS = ("realtime_budget", "use_models", "haptic_offset_ms", *CONTROL_NAMES)
"""Parameters :meth:`Session.set_param` may change while running: three :class:`SessionParams` fields and the live
controls (:mod:`edge.controls`: mode, master, group_gains, preset_lock, muted)."""
_KEEP: Any = object()
"""``Session.reload``'s default: keep what the session has."""


@dataclass(frozen=True)
class SessionHealth:
    """Link health of every output of a session (:class:`~edge.outputs.base.OutputHealth`), in output order."""

    outputs: tuple[OutputHealth, ...]

    @property
    def ok(self) -> bool:
        """Every output's device still answers."""
        return all(output.link_up for output in self.outputs)

    def as_dicts(self) -> list[dict[str, object]]:
        return [output.as_dict() for output in self.outputs]


class Session:
    """A running system: ``process(block)`` -> (n_hops_completed, n_actuators) intensities, also written out.

    Thread-safe for one feeding thread and any number of controlling ones (a web server): ``process``, control
    changes, ``reload`` and ``close`` take :attr:`lock`, so a change lands between two blocks, never inside one."""

    def __init__(self, pipeline: Pipeline, rig: Rig, params: SessionParams, assembly: _Assembly) -> None:
        self.pipeline = pipeline
        self.rig = rig
        self.params = params
        self.lock = threading.RLock()
        self._assembly = assembly
        self._closed = False

    # ------------------------------------------------------------------------------------------ what it is
    @property
    def pack(self) -> Pack | None:
        return self.pipeline.pack

    @property
    def stream(self) -> StreamParams:
        return self.pipeline.stream

    @property
    def n_actuators(self) -> int:
        return self.pipeline.n_actuators

    @property
    def stems(self) -> tuple[str, ...]:
        return self.pipeline.stems

    @property
    def labels(self) -> tuple[str, ...]:
        return self.pipeline.labels

    @property
    def outputs(self) -> list[RoutedOutput]:
        return self.pipeline.outputs

    @property
    def output_urls(self) -> list[str]:
        return [routed.output.url for routed in self.pipeline.outputs]

    @property
    def telemetry(self) -> Telemetry:
        return self.pipeline.telemetry

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def controlled(self) -> ControlledRenderer:
        """The renderer with the live controls (it also holds the last frame's tags and active preset)."""
        return self._assembly.controlled

    @property
    def controls(self) -> LiveControls:
        return self.controlled.controls

    def live_params(self) -> dict[str, Any]:
        """Every live parameter's current value (:data:`LIVE_PARAMS`), as JSON can carry it."""
        values = {name: getattr(self.params, name) for name in LIVE_PARAMS if name not in CONTROL_NAMES}
        values["haptic_offset_ms"] = self.pipeline.haptic_offset_ms  # the rig's when the session did not set one
        return {**values, **self.controls.as_dict()}

    def health(self) -> SessionHealth:
        """Frames sent / acknowledged / lost / late, reconnects and failsafe messages per output (also after
        ``close()``: then it covers the whole run)."""
        return SessionHealth(tuple(routed.output.health() for routed in self.pipeline.outputs))

    # ------------------------------------------------------------------------------------------ running
    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed ``block`` ((n_samples,) float32 at ``stream.sample_rate_hz``, any length); return the intensities of
        the hops it completed. Any exception zeroes every output before it propagates."""
        with self.lock:
            if self._closed:
                raise ConfigError("session is closed")
            return self.pipeline.process(block)

    def run(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Process every block, yielding each one's intensities; the session is closed (outputs zeroed) however
        the loop ends — exhausted, an error, Ctrl-C, or the consumer stopping early."""
        try:
            for block in blocks:
                yield self.process(block)
        except BaseException:
            with suppress(Exception):  # an output that cannot be zeroed must not hide the error that stopped the run
                self.close()
            raise
        self.close()

    def reset(self) -> None:
        """Forget all audio history in every stage (STFT, models, renderer, output drives); telemetry is kept."""
        self.pipeline.reset()

    def set_param(self, name: str, value: Any) -> None:
        """Change one of :data:`LIVE_PARAMS` while running; it applies from the next block."""
        self.set_params({name: value})

    def set_params(self, values: Mapping[str, Any]) -> None:
        """Change several :data:`LIVE_PARAMS` at once: all are checked first, and if any is invalid (a ConfigError
        naming it) nothing changes. Setting ``muted`` to true also zeroes every output at once."""
        session_values: dict[str, Any] = {}
        for name, value in values.items():
            if name not in LIVE_PARAMS:
                raise ConfigError(
                    f"session parameter {name!r} cannot change while running; live: {', '.join(LIVE_PARAMS)}"
                )
            if (
                name == "realtime_budget"
                and value is not None
                and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0)
            ):
                raise ConfigError(
                    f"session parameter realtime_budget: expected a positive number or None, got {value!r}"
                )
            if name == "use_models" and not isinstance(value, bool):
                raise ConfigError(f"session parameter use_models: expected true or false, got {value!r}")
            if name == "haptic_offset_ms":
                try:
                    check_haptic_offset_ms(value)
                except ConfigError as error:
                    raise ConfigError(f"session parameter {error}") from None
            if name not in CONTROL_NAMES:
                session_values[name] = value
        with self.lock:
            controls = self.controlled.check({name: value for name, value in values.items() if name in CONTROL_NAMES})
            if "realtime_budget" in session_values:
                budget = session_values["realtime_budget"]
                self.pipeline.realtime_budget = None if budget is None else float(budget)
            if "use_models" in session_values:
                self.pipeline.use_models = session_values["use_models"]
            if "haptic_offset_ms" in session_values:
                self.pipeline.haptic_offset_ms = session_values["haptic_offset_ms"]
            self.params = replace(self.params, **session_values)
            self.controlled.set_controls(controls)
            if controls.muted and not self._closed:
                # the haptic offset's delay line restarts from silence: nothing delayed plays after a mute
                self.pipeline.haptic_offset_ms = self.pipeline.haptic_offset_ms
                self.pipeline.zero_outputs()

    def reload(self, pack: Pack | str | Path | None = _KEEP, rig: Rig | str | Path | None = _KEEP) -> None:
        """Load another pack and/or rig (or the same files again) through the same assembly as :func:`open_session`
        and run on with them from the next block. Everything is loaded and checked before anything changes: a bad
        pack or rig raises (PackError / ConfigError) and the session runs on as it was. Outputs stay open when the
        new rig drives the same ones; otherwise the old ones are zeroed and closed and the new ones opened. A new
        rig brings its own ``[controls]``; mute carries over either way."""
        assembly = self._assembly
        new_pack = assembly.pack_spec if pack is _KEEP else pack
        new_rig = assembly.rig_spec if rig is _KEEP else rig
        loaded_pack = _as_pack(new_pack)
        loaded_rig = _as_rig(new_rig)
        controls = self.controls if rig is _KEEP else replace(loaded_rig.controls, muted=self.controls.muted)
        pipeline, controlled, rendered_rig = _assemble(
            loaded_pack, loaded_rig, self.params, assembly.wrap_renderer, assembly.user_sounds, controls
        )
        plan = _output_plan(loaded_rig, assembly.output)
        if plan != assembly.plan and not (assembly.output is None or isinstance(assembly.output, str)):
            raise ConfigError(
                f"reload: the outputs this session was given drive {self.n_actuators} actuators; "
                f"rig {loaded_rig.name!r} has {loaded_rig.n_actuators}"
            )
        with self.lock:
            if self._closed:
                raise ConfigError("session is closed")
            old = self.pipeline
            if plan == assembly.plan:
                pipeline.attach_outputs(old.outputs)
            else:
                old.close()  # zeroed and released first: the new rig may open the same devices
                try:
                    pipeline.attach_outputs(_open_outputs(loaded_rig, assembly.output))
                except BaseException:
                    self._reopen(old)
                    raise
            pipeline.telemetry = old.telemetry  # one run, one telemetry
            self.pipeline, self.rig = pipeline, rendered_rig
            self._assembly = replace(assembly, pack_spec=new_pack, rig_spec=new_rig, controlled=controlled, plan=plan)

    def _reopen(self, pipeline: Pipeline) -> None:
        """After a reload failed to open the new rig's outputs: the old ones again, or a closed session."""
        try:
            pipeline.attach_outputs(_open_outputs(self.rig, self._assembly.output))
        except BaseException:
            self._closed = True
            raise

    def zero_outputs(self) -> None:
        with self.lock:
            self.pipeline.zero_outputs()

    def close(self) -> None:
        """Zero and close every output (idempotent)."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            self.pipeline.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _as_pack(pack: Pack | str | Path | None) -> Pack | None:
    return load_pack(pack) if isinstance(pack, (str, Path)) else pack


def _as_rig(rig: Rig | str | Path | None) -> Rig:
    if rig is None:
        return default_rig()
    return load_rig(rig) if isinstance(rig, (str, Path)) else rig


def _open_outputs(rig: Rig, output: OutputChoice) -> list[RoutedOutput]:
    if output is None or isinstance(output, str):
        return rig.open_outputs(output)
    if isinstance(output, ActuatorOutput):
        return [RoutedOutput(output, np.arange(rig.n_actuators))]
    return list(output)


def _output_plan(rig: Rig, output: OutputChoice) -> tuple[Any, ...]:
    """What outputs ``rig`` with ``output`` opens: equal plans can keep the same open outputs."""
    if output is None:
        return tuple(
            (o.url, tuple((a.channel, i) for i, a in enumerate(rig.spec.actuators) if a.output == o.id))
            for o in rig.spec.outputs
        )
    if isinstance(output, str):
        return (output, rig.n_actuators)
    return (id(output), rig.n_actuators)


@dataclass(frozen=True)
class _Assembly:
    """How a session was assembled, so that :meth:`Session.reload` assembles the same way."""

    pack_spec: Pack | str | Path | None
    rig_spec: Rig | str | Path | None
    output: OutputChoice
    wrap_renderer: Callable[[Renderer], Renderer] | None
    user_sounds: Any
    controlled: ControlledRenderer
    plan: tuple[Any, ...]


def _assemble(
    pack: Pack | None,
    rig: Rig,
    params: SessionParams,
    wrap_renderer: Callable[[Renderer], Renderer] | None,
    user_sounds: Any,
    controls: LiveControls,
) -> tuple[Pipeline, ControlledRenderer, Rig]:
    """The pipeline (models loaded and checked, no outputs yet), its controlled renderer and the rig it renders
    (with the user sounds' presets)."""
    stems = pack.separator.names if pack and pack.separator else ()
    labels = pack.tagger.names if pack and pack.tagger and params.use_tagger else ()
    if user_sounds is not None:
        from edge.user_sounds.live import with_presets

        rig, labels = with_presets(rig, user_sounds.presets), user_sounds.names
    renderer: Renderer = rig.make_renderer(stems, labels)
    if wrap_renderer is not None:
        renderer = wrap_renderer(renderer)
    controlled = ControlledRenderer(renderer, rig.spec, labels, fit_controls(rig.spec, labels, controls))
    pipeline = Pipeline(
        pack,
        controlled,
        (),
        params.runtime,
        params.precision,
        params.n_threads,
        params.realtime_budget,
        params.use_tagger and user_sounds is None,
    )
    if user_sounds is not None:  # it runs the pack's tagger itself and adds a tag per learned sound
        pipeline.tagger, pipeline.labels = user_sounds, user_sounds.names
    pipeline.use_models = params.use_models
    pipeline.haptic_offset_ms = (
        rig.spec.haptic_offset_ms if params.haptic_offset_ms is None else params.haptic_offset_ms
    )
    return pipeline, controlled, rig


def open_session(
    pack: Pack | str | Path | None,
    rig: Rig | str | Path | None = None,
    output: OutputChoice = None,
    params: SessionParams | None = None,
    wrap_renderer: Callable[[Renderer], Renderer] | None = None,
    user_sounds: Any = None,
    **param_values: Any,
) -> Session:
    """Assemble a running system.

    ``pack``: a loaded pack, a pack path, or None for DSP-only rendering; ``rig``: a rig, a rig path or bundled
    name, or None for the bundled simulated vest; ``output``: see :data:`OutputChoice`; ``params`` (or the same
    fields as keywords, e.g. ``runtime="onnx"``): :class:`SessionParams`; ``wrap_renderer``: wraps the rig's
    renderer (a recorder for pictures, a fault injector in tests); ``user_sounds``: a
    :class:`~edge.user_sounds.live.UserSoundTagger` that runs the pack's tagger in place of the pipeline's own
    and adds a tag and a rig preset per learned sound. The live controls start as the rig's ``[controls]``
    (:mod:`edge.controls`). If anything fails, what was opened is closed.
    """
    known = {f.name for f in fields(SessionParams)}
    unknown = sorted(set(param_values) - known)
    if unknown:
        raise ConfigError(f"open_session: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    params = replace(params or SessionParams(), **param_values)
    loaded_pack = _as_pack(pack)
    loaded_rig = _as_rig(rig)
    # the models load (and their artifacts are checked against the manifest) before any output opens
    pipeline, controlled, rendered_rig = _assemble(
        loaded_pack, loaded_rig, params, wrap_renderer, user_sounds, loaded_rig.controls
    )
    outputs = _open_outputs(loaded_rig, output)
    try:
        pipeline.attach_outputs(outputs)
    except BaseException:
        for routed in outputs:
            routed.output.close()
        raise
    assembly = _Assembly(pack, rig, output, wrap_renderer, user_sounds, controlled, _output_plan(loaded_rig, output))
    return Session(pipeline, rendered_rig, params, assembly)
