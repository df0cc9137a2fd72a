"""Embeddings of sound from a pack's tagger, for learning the user's own sounds without torch on the device.

Two sources, the better one that is available:

- ``penultimate``: the tagger's last hidden layer (the input of its final classification layer). The tagger
  artifact (fp32 ONNX) is copied once with that tensor added as a second output (needs the ``onnx`` package
  at learn time), cached next to the user's sounds under the tagger's sha256, and run with onnxruntime. This
  works for any pack whose tagger ends in a linear layer (Gemm/MatMul) followed by element-wise ops, so a
  retrained tagger just yields a new cached copy.
- ``logits``: the tagger's label logits (inverse sigmoid of its probabilities), from any runtime — coarser,
  used where ``onnx`` is not installed.

Either way one embedding comes out per tagger step (every ``every_n_hops`` hops, over ``context_frames``),
L2-normalised, exactly where the live tagger runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import InferenceError, RuntimeUnavailableError
from edge.pack import ArtifactSpec, ModelSpec, Pack, TensorSpec, sha256_of
from edge.runners import open_runner
from edge.runners.base import ModelRunner
from edge.stft import StreamingSTFT

EMBEDDING_OUTPUT = "embedding"
LINEAR_OPS = ("Gemm", "MatMul")
PASS_THROUGH_OPS = ("Sigmoid", "Softmax", "Identity", "Reshape", "Flatten", "Squeeze", "Add", "Relu")
LOGIT_CLIP = 1e-6


def penultimate_tensor(graph: object, output_name: str) -> str:
    """Name of the input of the last linear layer on the way to ``output_name`` in an ONNX ``graph``."""
    producers = {out: node for node in graph.node for out in node.output}  # type: ignore[attr-defined]
    name = output_name
    for _ in range(16):
        node = producers.get(name)
        if node is None:
            break
        if node.op_type in LINEAR_OPS:
            return str(node.input[0])
        if node.op_type not in PASS_THROUGH_OPS:
            break
        name = node.input[0]
    raise InferenceError(f"tagger graph: no linear layer found on the way to {output_name!r} (stopped at {name!r})")


def derive_embedding_model(source: Path, target: Path, output_name: str) -> int:
    """Write a copy of the ONNX model ``source`` to ``target`` with its penultimate tensor as the extra output
    ``embedding``; return the embedding's size."""
    onnx = require("onnx", "sounds", "learning user sounds from the tagger's penultimate layer")
    model = onnx.load(str(source))
    hidden = penultimate_tensor(model.graph, output_name)
    model.graph.node.append(onnx.helper.make_node("Identity", [hidden], [EMBEDDING_OUTPUT], name="sense_embedding"))
    model.graph.output.append(onnx.helper.make_tensor_value_info(EMBEDDING_OUTPUT, onnx.TensorProto.FLOAT, None))
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: v.type.tensor_type.shape for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    dims = [d.dim_value for d in shapes[hidden].dim] if hidden in shapes else []
    if not dims or dims[-1] <= 0:
        raise InferenceError(f"{source}: cannot tell the size of the penultimate tensor {hidden!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    return int(dims[-1])


class Embedder:
    """embed((n_samples,) 16 kHz audio) -> (n_steps, dim) L2-normalised embeddings, one per tagger step.

    ``source`` is "penultimate" or "logits"; ``key`` identifies the tagger (its fp32 ONNX sha256, or the
    pack name and version), so embeddings from another tagger are never mixed with these.
    """

    def __init__(self, pack: Pack, cache_dir: Path, n_threads: int = 1, prefer: str = "penultimate") -> None:
        tagger = pack.tagger
        if tagger is None:
            raise RuntimeUnavailableError(f"pack {pack.name}: it has no tagger, and user sounds are learned from one")
        self.tagger = tagger
        self.context_frames = tagger.context_frames
        self.every_n_hops = tagger.every_n_hops
        self.n_fft, self.hop, self.window = tagger.n_fft, tagger.hop, tagger.window
        self.output_name = tagger.outputs[0].name
        onnx_fp32 = tagger.artifact("onnx", "fp32")
        self.runner: ModelRunner
        if prefer == "penultimate" and onnx_fp32 is not None and _importable("onnx") and _importable("onnxruntime"):
            sha = onnx_fp32.sha256
            target = cache_dir / f"embedding-{sha[:16]}.onnx"
            if not target.exists():
                derive_embedding_model(pack.artifact_path(onnx_fp32), target, onnx_fp32.io_names.get(self.output_name, self.output_name))
            self.source, self.key = "penultimate", f"onnx-sha256:{sha}"
            self.runner = self._derived_runner(tagger, onnx_fp32, target, n_threads)
        else:
            self.source, self.key = "logits", f"{pack.name} {pack.version} logits"
            self.runner = open_runner(pack, tagger, None, "fp32", n_threads)

    @staticmethod
    def _derived_runner(tagger: ModelSpec, artifact: ArtifactSpec, path: Path, n_threads: int) -> ModelRunner:
        from edge.runners.onnx_runner import OnnxRunner

        model = dataclasses.replace(tagger, outputs=tagger.outputs + (TensorSpec(EMBEDDING_OUTPUT, (1, -1), "float32"),))
        derived = dataclasses.replace(artifact, file=path.name, sha256=sha256_of(path),
                                      io_names={**artifact.io_names, EMBEDDING_OUTPUT: EMBEDDING_OUTPUT})
        return OnnxRunner(model, derived, path, n_threads)

    def step_embedding(self, window: np.ndarray) -> np.ndarray:
        """(context_frames, n_bins) magnitudes -> (dim,) L2-normalised embedding of one tagger call."""
        return self.embedding_of(self.runner.run({self.tagger.inputs[0].name: window[np.newaxis].astype(np.float32)}))

    def embedding_of(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """The (dim,) L2-normalised embedding in the outputs of one call of ``self.runner``."""
        if self.source == "penultimate":
            vector = np.asarray(outputs[EMBEDDING_OUTPUT], dtype=np.float64).reshape(-1)
        else:
            p = np.clip(np.asarray(outputs[self.output_name], dtype=np.float64).reshape(-1), LOGIT_CLIP, 1 - LOGIT_CLIP)
            vector = np.log(p / (1 - p))
        return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)

    def magnitudes(self, audio: np.ndarray) -> np.ndarray:
        """(n_frames, n_bins) causal STFT magnitudes of 16 kHz ``audio``, as the pipeline computes them."""
        n_hops = len(audio) // self.hop
        blocks = np.asarray(audio[: n_hops * self.hop], dtype=np.float32).reshape(n_hops, self.hop)
        return np.abs(StreamingSTFT(self.n_fft, self.hop, self.window).process(blocks))

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """(n_steps, dim) embeddings of every tagger step over ``audio`` (zeros before it, as at stream start)."""
        magnitude = self.magnitudes(audio)
        history = np.concatenate([np.zeros((self.context_frames, magnitude.shape[1]), dtype=np.float32), magnitude])
        steps = range(self.every_n_hops, len(magnitude) + 1, self.every_n_hops)
        vectors = [self.step_embedding(history[end : end + self.context_frames]) for end in steps]
        return np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
