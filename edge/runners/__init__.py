"""Inference runners and the one resolver that picks the runtime (STYLE.md #4).

``resolve_runtime`` decides from what the pack ships and what is importable; ``open_runner`` builds the
matching :class:`ModelRunner`. Runtimes are imported lazily, with an error naming the extra to install.
"""

from __future__ import annotations

import enum
import importlib.util

from edge.errors import MissingExtraError, RuntimeUnavailableError
from edge.pack import ArtifactSpec, ModelSpec, Pack
from edge.runners.base import ModelRunner
from edge.runners.cost import runtimes_by_cost


class Runtime(str, enum.Enum):
    ONNX = "onnx"
    LITERT = "litert"


_RUNTIME_EXTRA = {Runtime.ONNX: "onnx", Runtime.LITERT: "litert"}


def _runtime_problem(runtime: Runtime) -> str | None:
    """None when ``runtime`` can load here, else why not (with the fix)."""
    if runtime is Runtime.ONNX:
        if importlib.util.find_spec("onnxruntime") is None:
            return f"onnx is not installed (pip install 'sense-edge[{_RUNTIME_EXTRA[runtime]}]')"
        return None
    from edge.runners.litert_runner import interpreter_class

    try:
        interpreter_class()
    except MissingExtraError:
        return f"litert is not installed (pip install 'sense-edge[{_RUNTIME_EXTRA[runtime]}]')"
    except RuntimeUnavailableError as error:
        return str(error)
    return None


def preferred_runtimes(precision: str = "fp32") -> list[Runtime]:
    """Every runtime, cheapest first at ``precision`` as measured on this kind of board (:mod:`edge.runners.cost`)."""
    return [Runtime(name) for name in runtimes_by_cost(precision)]


def importable_runtimes() -> list[Runtime]:
    """Runtimes that can load here, in order of preference (LiteRT's interpreter is imported to prove it)."""
    return [runtime for runtime in preferred_runtimes() if _runtime_problem(runtime) is None]


def resolve_runtime(model: ModelSpec, requested: Runtime | str | None, precision: str) -> tuple[Runtime, ArtifactSpec]:
    """Pick the runtime and artifact for ``model``: the requested runtime, or the cheapest measured one (on this kind
    of board) that is importable and that the pack ships."""
    candidates = [Runtime(requested)] if requested is not None else preferred_runtimes(precision)
    problems = []
    for runtime in candidates:
        artifact = model.artifact(runtime.value, precision)
        if artifact is None:
            problems.append(f"the pack ships no {runtime.value} {precision} artifact for '{model.key}'")
        elif (problem := _runtime_problem(runtime)) is not None:
            problems.append(problem)
        else:
            return runtime, artifact
    raise RuntimeUnavailableError(f"no runtime can run model '{model.key}' at {precision}: " + "; ".join(problems))


def open_runner(
    pack: Pack, model: ModelSpec, runtime: Runtime | str | None = None, precision: str = "fp32", n_threads: int = 1
) -> ModelRunner:
    """Resolve the runtime and load the model's artifact with ``n_threads`` intra-op threads; its tensors are checked
    against the manifest (:class:`PackError` naming the field) before it is used."""
    chosen, artifact = resolve_runtime(model, runtime, precision)
    path = pack.artifact_path(artifact)
    runner: ModelRunner
    if chosen is Runtime.ONNX:
        from edge.runners.onnx_runner import OnnxRunner

        runner = OnnxRunner(model, artifact, path, n_threads)
    else:
        from edge.runners.litert_runner import LiteRtRunner

        runner = LiteRtRunner(model, artifact, path, n_threads)
    runner.check_signature(pack.source)
    return runner


def check_artifacts(pack: Pack) -> list[tuple[str, str | None]]:
    """Open every artifact of ``pack`` whose runtime loads here and check it against the manifest (raises
    :class:`PackError` naming the field); returns (file, None when checked, else why it could not be opened)."""
    results: list[tuple[str, str | None]] = []
    for model in pack.models.values():
        for artifact in model.artifacts:
            problem = _runtime_problem(Runtime(artifact.runtime))
            if problem is None:
                open_runner(pack, model, artifact.runtime, artifact.precision)
            results.append((artifact.file, problem))
    return results


__all__ = [
    "ModelRunner",
    "Runtime",
    "check_artifacts",
    "importable_runtimes",
    "open_runner",
    "preferred_runtimes",
    "resolve_runtime",
]
