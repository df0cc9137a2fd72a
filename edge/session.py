"""The one assembly point (STYLE.md #16): pack + rig + outputs -> a running :class:`Session`.

Every caller — ``sense run``, ``sense bench``, ``sense render``, the benchmarks and the tests — gets its running
system from :func:`open_session`; nobody wires the stages by hand. The session owns what it opened: ``close()``
(idempotent, also through ``with`` and on Ctrl-C) drives every output to zero and closes it.

Data path of one block: samples -> framer -> STFT -> separator -> tagger -> renderer -> outputs
(:class:`edge.pipeline.Pipeline`); per-hop intensities come back to the caller, the session keeps no history
(telemetry is a bounded ring).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Union

import numpy as np

from edge.errors import ConfigError
from edge.haptics.base import Renderer
from edge.outputs.base import ActuatorOutput, RoutedOutput
from edge.pack import Pack, load_pack
from edge.pipeline import Pipeline, Telemetry
from edge.rig import Rig, default_rig, load_rig
from edge.stream import StreamParams

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


LIVE_PARAMS = ("realtime_budget", "use_models")
"""Session parameters :meth:`Session.set_param` may change while running."""


class Session:
    """A running system: ``process(block)`` -> (n_hops_completed, n_actuators) intensities, also written out."""

    def __init__(self, pipeline: Pipeline, rig: Rig, params: SessionParams) -> None:
        self.pipeline = pipeline
        self.rig = rig
        self.params = params
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

    # ------------------------------------------------------------------------------------------ running
    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed ``block`` ((n_samples,) float32 at ``stream.sample_rate_hz``, any length); return the intensities of
        the hops it completed. Any exception zeroes every output before it propagates."""
        if self._closed:
            raise ConfigError("session is closed")
        return self.pipeline.process(block)

    def run(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Process every block, yielding each one's intensities; the session is closed (outputs zeroed) however
        the loop ends — exhausted, an error, Ctrl-C, or the consumer stopping early."""
        try:
            for block in blocks:
                yield self.process(block)
        finally:
            self.close()

    def reset(self) -> None:
        """Forget all audio history in every stage (STFT, models, renderer, output drives); telemetry is kept."""
        self.pipeline.reset()

    def set_param(self, name: str, value: Any) -> None:
        """Change one of :data:`LIVE_PARAMS` while running; it applies from the next block."""
        if name not in LIVE_PARAMS:
            raise ConfigError(f"session parameter {name!r} cannot change while running; live: {', '.join(LIVE_PARAMS)}")
        if name == "realtime_budget":
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ConfigError(f"session parameter realtime_budget: expected a positive number or None, got {value!r}")
            self.pipeline.realtime_budget = None if value is None else float(value)
        elif name == "use_models":
            if not isinstance(value, bool):
                raise ConfigError(f"session parameter use_models: expected true or false, got {value!r}")
            self.pipeline.use_models = value
        self.params = replace(self.params, **{name: value})

    def zero_outputs(self) -> None:
        self.pipeline.zero_outputs()

    def close(self) -> None:
        """Zero and close every output (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.pipeline.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
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


def open_session(pack: Pack | str | Path | None, rig: Rig | str | Path | None = None, output: OutputChoice = None,
                 params: SessionParams | None = None,
                 wrap_renderer: Callable[[Renderer], Renderer] | None = None, user_sounds: Any = None,
                 **param_values: Any) -> Session:
    """Assemble a running system.

    ``pack``: a loaded pack, a pack path, or None for DSP-only rendering; ``rig``: a rig, a rig path or bundled
    name, or None for the bundled simulated vest; ``output``: see :data:`OutputChoice`; ``params`` (or the same
    fields as keywords, e.g. ``runtime="onnx"``): :class:`SessionParams`; ``wrap_renderer``: wraps the rig's
    renderer (a recorder for pictures, a fault injector in tests); ``user_sounds``: a
    :class:`~edge.user_sounds.live.UserSoundTagger` that runs the pack's tagger in place of the pipeline's own
    and adds a tag and a rig preset per learned sound. If anything fails, what was opened is closed.
    """
    known = {f.name for f in fields(SessionParams)}
    unknown = sorted(set(param_values) - known)
    if unknown:
        raise ConfigError(f"open_session: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    params = replace(params or SessionParams(), **param_values)
    loaded_pack = _as_pack(pack)
    loaded_rig = _as_rig(rig)
    stems = loaded_pack.separator.names if loaded_pack and loaded_pack.separator else ()
    labels = loaded_pack.tagger.names if loaded_pack and loaded_pack.tagger and params.use_tagger else ()
    if user_sounds is not None:
        from edge.user_sounds.live import with_presets

        loaded_rig, labels = with_presets(loaded_rig, user_sounds.presets), user_sounds.names
    renderer: Renderer = loaded_rig.make_renderer(stems, labels)
    if wrap_renderer is not None:
        renderer = wrap_renderer(renderer)
    # the models load (and their artifacts are checked against the manifest) before any output opens
    pipeline = Pipeline(loaded_pack, renderer, (), params.runtime, params.precision, params.n_threads,
                        params.realtime_budget, params.use_tagger and user_sounds is None)
    if user_sounds is not None:  # it runs the pack's tagger itself and adds a tag per learned sound
        pipeline.tagger, pipeline.labels = user_sounds, user_sounds.names
    outputs = _open_outputs(loaded_rig, output)
    try:
        pipeline.attach_outputs(outputs)
    except BaseException:
        for routed in outputs:
            routed.output.close()
        raise
    pipeline.use_models = params.use_models
    return Session(pipeline, loaded_rig, params)
