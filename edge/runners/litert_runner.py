"""LiteRT runner: ``ai_edge_litert`` (falling back to ``tflite_runtime``), fed by the model's signature's tensor names."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import InferenceError, MissingExtraError, RuntimeUnavailableError
from edge.pack import ArtifactSpec, ModelSpec
from edge.runners.base import FrameStepper, ModelRunner, Signature


LITERT_MODULES = ("ai_edge_litert", "tflite_runtime")
"""Where a TFLite ``Interpreter`` comes from, in order of preference. ``tflite_runtime`` is the deprecated fallback:
its last wheels (2.14, up to Python 3.11) are built for NumPy 1.x and cost ~5.7x the instructions of LiteRT."""


def _load_problem(module: str, error: BaseException) -> str:
    problem = f"{module} is installed but cannot load ({type(error).__name__}: {str(error).strip() or 'no message'})"
    if module == "tflite_runtime" and int(np.__version__.split(".")[0]) >= 2:
        problem += f"; its wheels are built for NumPy 1.x and this is NumPy {np.__version__}"
    return problem


def interpreter_class(module: str | None = None) -> Any:
    """The ``Interpreter`` class of ``module``, else of the first of :data:`LITERT_MODULES` that loads.

    Loading is tried for real (a module that is present but cannot load - tflite_runtime under NumPy 2 - is not a
    runtime). Raises :class:`MissingExtraError` when none is installed, :class:`RuntimeUnavailableError` with
    each module's problem and the fix when one is installed but none loads."""
    problems = []
    for name in (module,) if module else LITERT_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # NumPy prints a page about the 1.x ABI, then raises
                return importlib.import_module(f"{name}.interpreter").Interpreter
        except Exception as error:  # an extension built for another NumPy raises ImportError or AttributeError
            problems.append(_load_problem(name, error))
    if not problems:
        raise MissingExtraError(module or "ai_edge_litert", "litert", "running TFLite models")
    raise RuntimeUnavailableError(
        "LiteRT cannot run: "
        + "; ".join(problems)
        + ". Fix: pip install 'sense-edge[litert]' (ai-edge-litert; NumPy 1 and 2)"
    )


def _integer_quantization(details: dict[str, dict[str, Any]]) -> dict[str, tuple[float, int, type]]:
    """Tensors the model takes or gives as integers: name -> (scale, zero_point, dtype) to (de)quantize with."""
    return {
        name: (float(d["quantization"][0]), int(d["quantization"][1]), d["dtype"])
        for name, d in details.items()
        if np.issubdtype(d["dtype"], np.integer) and d["quantization"][0] > 0
    }


class LiteRtRunner(ModelRunner):
    runtime = "litert"

    def __init__(
        self, model: ModelSpec, artifact: ArtifactSpec, path: Path, n_threads: int, module: str | None = None
    ) -> None:
        """``module``: one of :data:`LITERT_MODULES` (default: the first that loads)."""
        super().__init__(model, artifact, path, n_threads)
        interpreter = interpreter_class(module)
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # NumPy's page about the 1.x ABI, before it raises
                self._interpreter = interpreter(model_path=str(path), num_threads=n_threads)
        except (ImportError, AttributeError) as error:  # tflite_runtime under NumPy 2 imports, then fails here
            name = interpreter.__module__.split(".")[0]
            raise RuntimeUnavailableError(
                f"LiteRT cannot run {path.name}: {_load_problem(name, error)}. "
                "Fix: pip install 'sense-edge[litert]' (ai-edge-litert; NumPy 1 and 2)"
            ) from None
        except (ValueError, RuntimeError) as error:
            raise InferenceError(f"{path}: LiteRT cannot load this model: {error}") from None
        try:
            signature = self._interpreter.get_signature_runner()
        except (ValueError, RuntimeError) as error:
            raise InferenceError(f"{path}: LiteRT cannot load this model: {error}") from None
        self._input_details = signature.get_input_details()
        self._output_details = signature.get_output_details()
        del signature  # it holds the interpreter's internals, which LiteRT refuses to re-plan while referenced
        self._to_logical = {
            self.artifact_name(name): name
            for name in [t.name for t in model.outputs] + [s.output for s in model.states]
        }
        self._input_quantization = _integer_quantization(self._input_details)
        self._output_quantization = _integer_quantization(self._output_details)
        # Run through the interpreter's own tensors (the signature's subgraph is the model's only one): the
        # signature runner resizes every input and re-plans memory on every call, which costs more per 8 ms hop
        # than the model's smaller layers; here that happens only when an input's shape changes.
        self._input_index = {name: int(d["index"]) for name, d in self._input_details.items()}
        self._output_index = {name: int(d["index"]) for name, d in self._output_details.items()}
        self._planned_shapes: dict[str, tuple[int, ...]] = {}
        # The hot path (one hop per call): a float artifact fed inputs of the shapes last planned goes straight to
        # set_tensor / invoke / get_tensor, by the model's own tensor names; anything else takes the checked path.
        # On the Pi 4 profile that is 6.2 M fewer instructions per audio second of the whole pipeline (3 %; the
        # separator and the onset graph are called every hop; docs/hot_path.md).
        self._float_only = not self._input_quantization and not self._output_quantization
        self._fast_inputs: list[tuple[str, int]] = []
        self._fast_outputs = [(self._to_logical.get(name, name), index) for name, index in self._output_index.items()]
        self._stepper: LiteRtFrameStepper | None = None

    def signature(self) -> tuple[Signature, Signature]:
        def of(details: dict[str, dict[str, Any]], quantized: dict[str, Any]) -> Signature:
            return {
                name: (
                    tuple(None if d < 0 else int(d) for d in detail.get("shape_signature", detail["shape"])),
                    "float32" if name in quantized else np.dtype(detail["dtype"]).name,
                )
                for name, detail in details.items()
            }

        return (
            of(self._input_details, self._input_quantization),
            of(self._output_details, self._output_quantization),
        )

    def frame_stepper(self) -> FrameStepper | None:
        """For a float one-frame stateful artifact, when the interpreter exposes its raw wrapper (ai_edge_litert and
        tflite_runtime do): :class:`LiteRtFrameStepper`. One per runner."""
        if not (self._float_only and self.frames_per_step == 1 and self.model.states):
            return None
        if not hasattr(self._interpreter, "_interpreter"):  # an interpreter without the raw wrapper
            return None
        if self._stepper is None:
            zeros = {t.name: np.zeros([1 if d == -1 else d for d in t.shape], t.dtype) for t in self.model.inputs}
            zeros.update((s.input, np.zeros(s.shape, s.dtype)) for s in self.model.states)
            self._checked_run(zeros)  # plans the one-frame shapes, where the stepper's views then stay
            self._stepper = LiteRtFrameStepper(self)
        return self._stepper

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._stepper is not None:
            self._stepper.release()  # its views must not outlive a re-plan, and invoke() refuses to run beside them
        fast = self._fast_inputs
        if fast and len(inputs) == len(fast):
            interpreter = self._interpreter
            try:  # LiteRT refuses a value of another dtype or shape than the tensor's (ValueError)
                for name, index in fast:
                    interpreter.set_tensor(index, inputs[name])
                interpreter.invoke()
                return {name: interpreter.get_tensor(index) for name, index in self._fast_outputs}
            except (KeyError, AttributeError, ValueError, RuntimeError):
                pass  # the checked path below names what is wrong
        return self._checked_run(inputs)

    def _checked_run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {}
        for name, value in inputs.items():
            artifact_name = self.artifact_name(name)
            if artifact_name in self._input_quantization:
                scale, zero_point, dtype = self._input_quantization[artifact_name]
                info = np.iinfo(dtype)
                value = np.clip(np.round(value / scale) + zero_point, info.min, info.max).astype(dtype)
            feed[artifact_name] = np.ascontiguousarray(value)
        if feed.keys() != self._input_index.keys():
            raise InferenceError(
                f"{self.path}: LiteRT run given inputs {sorted(feed)}; the model takes {sorted(self._input_index)}"
            )
        interpreter = self._interpreter
        try:
            replan = False
            for name, value in feed.items():
                if self._planned_shapes.get(name) != value.shape:
                    interpreter.resize_tensor_input(self._input_index[name], value.shape, strict=False)
                    self._planned_shapes[name] = value.shape
                    replan = True
            if replan:
                interpreter.allocate_tensors()
            for name, value in feed.items():
                interpreter.set_tensor(self._input_index[name], value)
            interpreter.invoke()
            results = {name: interpreter.get_tensor(index) for name, index in self._output_index.items()}
        except (ValueError, RuntimeError) as error:
            self._planned_shapes.clear()
            self._fast_inputs = []
            raise InferenceError(f"{self.path}: LiteRT run failed: {error}") from None
        outputs = {}
        for name, value in results.items():
            if name in self._output_quantization:
                scale, zero_point, _ = self._output_quantization[name]
                value = (value.astype(np.float32) - zero_point) * np.float32(scale)
            outputs[self._to_logical.get(name, name)] = np.asarray(value)
        checked = self._check_outputs(outputs, list(self._to_logical.values()))
        if self._float_only:  # the shapes are planned now: the next call like this one takes the hot path
            logical = {self.artifact_name(name): name for name in inputs}
            self._fast_inputs = [(logical[name], self._input_index[name]) for name in feed]
        return checked


class LiteRtFrameStepper(FrameStepper):
    """One frame per call through numpy views of the interpreter's own tensors: the frame is copied into the input
    tensor, the graph runs, each state output is copied onto its state input inside the interpreter, and a copy of
    the first output is returned. Per hop that is one copy per tensor instead of a ``set_tensor`` and a
    ``get_tensor`` (each a checked call and, for ``get_tensor``, a new array) per state (docs/hot_path.md).

    The views are taken on the first step and kept between steps, so the graph runs through the raw wrapper's
    ``Invoke`` (the public ``invoke`` refuses to run while views exist, as they would dangle if the tensors were
    re-planned). A one-frame artifact's tensors are planned once and never re-planned here; the runner's own
    :meth:`LiteRtRunner.run`, which may re-plan, releases the views first, and the next step takes them again (the
    states are then whatever that run was given)."""

    def __init__(self, runner: LiteRtRunner) -> None:
        self._interpreter = runner._interpreter  # never its raw wrapper: a reference to that blocks invoke() too
        self._model = runner.model.key
        inputs, outputs = runner._input_index, runner._output_index
        model = runner.model
        self._indices = (
            inputs[runner.artifact_name(model.inputs[0].name)],
            outputs[runner.artifact_name(model.outputs[0].name)],
            [(inputs[runner.artifact_name(s.input)], outputs[runner.artifact_name(s.output)]) for s in model.states],
        )
        self._views: tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]] | None = None

    def _view(self, index: int) -> np.ndarray:
        raw = self._interpreter._interpreter
        return raw.tensor(raw, index)

    def _take_views(self) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        frame, output, states = self._indices
        self._views = (self._view(frame), self._view(output), [(self._view(i), self._view(o)) for i, o in states])
        return self._views

    def release(self) -> None:
        self._views = None

    def reset(self) -> None:
        for state_in, _ in (self._views or self._take_views())[2]:
            state_in.fill(0.0)

    def step(self, frame: np.ndarray) -> np.ndarray:
        frame_in, output, states = self._views or self._take_views()
        try:
            np.copyto(frame_in, frame)  # (1, n_bins) into (1, 1, n_bins)
        except ValueError:
            raise InferenceError(
                f"model '{self._model}': a step got frames of shape {frame.shape}; expected (1, {frame_in.shape[-1]})"
            ) from None
        try:
            self._interpreter._interpreter.Invoke()
        except (ValueError, RuntimeError) as error:
            raise InferenceError(f"model '{self._model}': LiteRT run failed: {error}") from None
        for state_in, state_out in states:
            np.copyto(state_in, state_out)
        return output[0].copy()
