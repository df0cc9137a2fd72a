"""Parity of exported artifacts against the PyTorch reference, offline (whole sequence in one torch call) vs
streaming (the edge runtime's stage, frame by frame with state carried)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edge.model_stages import TaggerStage, model_stage
from edge.pack import Pack
from edge.runners import open_runner
from edge.stream import tagger_run_frames
from export.step_model import StepSignature, run_torch


def stateful_parity(
    pack: Pack,
    model_key: str,
    model: nn.Module,
    signature: StepSignature,
    magnitude: np.ndarray,
    runtime: str,
    precision: str,
) -> dict[str, float]:
    """Max abs difference and correlation of the first output (the separator's masks, the onset probabilities):
    the edge stage of ``model_key``'s role (streaming) vs ``model`` in torch on the whole sequence (for a separator
    that runs every few hops, :class:`~export.students.band_split.HeldMasks`).

    ``magnitude``: (n_frames, n_bins) float32.
    """
    args = (torch.from_numpy(magnitude)[None], *(torch.zeros(s) for s in signature.state_shapes))
    reference = run_torch(model, signature, args)[signature.output_name][0].numpy()
    stage = model_stage(open_runner(pack, pack.models[model_key], runtime, precision))
    streamed = stage.process(magnitude)
    return {
        "max_abs": float(np.max(np.abs(streamed - reference))),
        "correlation": float(np.corrcoef(streamed.ravel(), reference.ravel())[0, 1]),
    }


def tagger_parity(
    pack: Pack, model_key: str, model: nn.Module, magnitude: np.ndarray, runtime: str, precision: str
) -> dict[str, float]:
    """Max abs difference of probabilities at every tagger run over ``magnitude`` (n_frames, n_bins)."""
    spec = pack.models[model_key]
    stage = TaggerStage(open_runner(pack, spec, runtime, precision))
    streamed = stage.process(magnitude)
    history = np.concatenate([np.zeros((spec.context_frames, magnitude.shape[1]), np.float32), magnitude])
    run_frames = tagger_run_frames(len(magnitude), spec.every_n_hops)
    windows = np.stack([history[i + 1 : i + 1 + spec.context_frames] for i in run_frames])
    with torch.no_grad():
        reference = model(torch.from_numpy(windows)).numpy()
    diff = np.abs(streamed[run_frames] - reference)
    agreement = float(np.mean((streamed[run_frames] > 0.5) == (reference > 0.5)))
    return {"max_abs": float(diff.max()), "label_agreement": agreement}
