"""Embeddings of sound from a pack's tagger, for learning the user's own sounds without torch on the device.

The embedding is the tagger's last hidden layer (the input of its final classification layer). The tagger
artifact (fp32 ONNX) is copied once with that tensor added as a second output — by ``edge.user_sounds.onnx_graph``,
which reads and extends the ONNX file without the ``onnx`` package, so a device install learns and detects
exactly as a workstation does — cached next to the user's sounds under the tagger's sha256, and run with
onnxruntime. This works for any pack whose tagger ends in a linear layer (Gemm/MatMul) followed by element-wise
ops, so a retrained tagger just yields a new cached copy. A pack without an fp32 ONNX tagger, or a machine without
onnxruntime, is refused with what to do: the tagger's label logits were once used instead, and with them a
siren passed for a learned phone.

One embedding comes out per tagger step (every ``every_n_hops`` hops, over ``context_frames``), L2-normalised,
exactly where the live tagger runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from edge._lazy import require
from edge.errors import InferenceError, RuntimeUnavailableError
from edge.pack import ArtifactSpec, ModelSpec, Pack, TensorSpec, sha256_of
from edge.runners.base import ModelRunner
from edge.stft import StreamingSTFT
from edge.user_sounds.onnx_graph import Graph, read_graph, with_extra_output

EMBEDDING_OUTPUT = "embedding"
LINEAR_OPS = ("Gemm", "MatMul")
PASS_THROUGH_OPS = ("Sigmoid", "Softmax", "Identity", "Reshape", "Flatten", "Squeeze", "Add", "Relu")


def penultimate_tensor(graph: Graph, output_name: str) -> str:
    """Name of the input of the last linear layer on the way to ``output_name`` in an ONNX ``graph``."""
    producers = {out: node for node in graph.node for out in node.output}
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


def derive_embedding_model(source: Path, target: Path, output_name: str) -> None:
    """Write a copy of the ONNX model ``source`` to ``target`` with its penultimate tensor as the extra output
    ``embedding`` (atomically, so a half-written copy is never cached)."""
    graph = read_graph(source)
    try:
        hidden = penultimate_tensor(graph, output_name)
    except InferenceError as error:
        raise InferenceError(f"{source}: {error}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(with_extra_output(source.read_bytes(), hidden, EMBEDDING_OUTPUT, "sense_embedding"))
    partial.replace(target)


class Embedder:
    """embed((n_samples,) 16 kHz audio) -> (n_steps, dim) L2-normalised embeddings, one per tagger step.

    ``key`` identifies the tagger (its fp32 ONNX sha256), so embeddings from another tagger are never mixed with
    these; ``source`` names the kind of embedding ("penultimate") in the user's sound overlay.
    """

    source = "penultimate"

    def __init__(self, pack: Pack, cache_dir: Path, n_threads: int = 1) -> None:
        tagger = pack.tagger
        if tagger is None:
            raise RuntimeUnavailableError(f"pack {pack.name}: it has no tagger, and user sounds are learned from one")
        onnx_fp32 = tagger.artifact("onnx", "fp32")
        if onnx_fp32 is None:
            raise RuntimeUnavailableError(
                f"pack {pack.name}: its tagger ships no fp32 ONNX artifact, and user sounds are "
                "learned from that model's last hidden layer; use a pack that ships one"
            )
        require("onnxruntime", "sounds", "learning and hearing user sounds (the tagger's last hidden layer)")
        self.tagger = tagger
        self.context_frames = tagger.context_frames
        self.every_n_hops = tagger.every_n_hops
        self.n_fft, self.hop, self.window = tagger.n_fft, tagger.hop, tagger.window
        self.output_name = tagger.outputs[0].name
        sha = onnx_fp32.sha256
        target = cache_dir / f"embedding-{sha[:16]}.onnx"
        if not target.exists():
            derive_embedding_model(
                pack.artifact_path(onnx_fp32), target, onnx_fp32.io_names.get(self.output_name, self.output_name)
            )
        self.key = f"onnx-sha256:{sha}"
        self.runner: ModelRunner = self._derived_runner(tagger, onnx_fp32, target, n_threads)

    @staticmethod
    def _derived_runner(tagger: ModelSpec, artifact: ArtifactSpec, path: Path, n_threads: int) -> ModelRunner:
        from edge.runners.onnx_runner import OnnxRunner

        model = dataclasses.replace(
            tagger, outputs=tagger.outputs + (TensorSpec(EMBEDDING_OUTPUT, (1, -1), "float32"),)
        )
        derived = dataclasses.replace(
            artifact,
            file=path.name,
            sha256=sha256_of(path),
            io_names={**artifact.io_names, EMBEDDING_OUTPUT: EMBEDDING_OUTPUT},
        )
        return OnnxRunner(model, derived, path, n_threads)

    def step_embedding(self, window: np.ndarray) -> np.ndarray:
        """(context_frames, n_bins) magnitudes -> (dim,) L2-normalised embedding of one tagger call."""
        return self.embedding_of(self.runner.run({self.tagger.inputs[0].name: window[np.newaxis].astype(np.float32)}))

    def embedding_of(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """The (dim,) L2-normalised embedding in the outputs of one call of ``self.runner``."""
        vector = np.asarray(outputs[EMBEDDING_OUTPUT], dtype=np.float64).reshape(-1)
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
