"""Inference runners and the one resolver that picks the runtime (STYLE.md #4).

``resolve_runtime`` decides from what the pack ships and what is importable; ``open_runner`` builds the
matching :class:`ModelRunner`. Runtimes are imported lazily, with an error naming the extra to install.
"""

from __future__ import annotations

import enum
import importlib.util

from edge.errors import RuntimeUnavailableError
from edge.pack import ArtifactSpec, ModelSpec, Pack
from edge.runners.base import ModelRunner


class Runtime(str, enum.Enum):
    ONNX = "onnx"
    LITERT = "litert"


_RUNTIME_MODULES = {Runtime.ONNX: ("onnxruntime",), Runtime.LITERT: ("ai_edge_litert", "tflite_runtime")}
_RUNTIME_EXTRA = {Runtime.ONNX: "onnx", Runtime.LITERT: "litert"}


def importable_runtimes() -> list[Runtime]:
    """Runtimes whose Python module can be imported here, in order of preference."""
    return [runtime for runtime, modules in _RUNTIME_MODULES.items()
            if any(importlib.util.find_spec(module) is not None for module in modules)]


def resolve_runtime(model: ModelSpec, requested: Runtime | str | None, precision: str) -> tuple[Runtime, ArtifactSpec]:
    """Pick the runtime and artifact for ``model``: the requested runtime, or the first importable one the pack ships."""
    candidates = [Runtime(requested)] if requested is not None else list(Runtime)
    available = importable_runtimes()
    problems = []
    for runtime in candidates:
        artifact = model.artifact(runtime.value, precision)
        if artifact is None:
            problems.append(f"the pack ships no {runtime.value} {precision} artifact for '{model.key}'")
        elif runtime not in available:
            problems.append(f"{runtime.value} is not installed (pip install 'sense-edge[{_RUNTIME_EXTRA[runtime]}]')")
        else:
            return runtime, artifact
    raise RuntimeUnavailableError(f"no runtime can run model '{model.key}' at {precision}: " + "; ".join(problems))


def open_runner(pack: Pack, model: ModelSpec, runtime: Runtime | str | None = None, precision: str = "fp32",
                n_threads: int = 1) -> ModelRunner:
    """Resolve the runtime and load the model's artifact with ``n_threads`` intra-op threads."""
    chosen, artifact = resolve_runtime(model, runtime, precision)
    path = pack.artifact_path(artifact)
    if chosen is Runtime.ONNX:
        from edge.runners.onnx_runner import OnnxRunner

        return OnnxRunner(model, artifact, path, n_threads)
    from edge.runners.litert_runner import LiteRtRunner

    return LiteRtRunner(model, artifact, path, n_threads)


__all__ = ["ModelRunner", "Runtime", "importable_runtimes", "open_runner", "resolve_runtime"]
