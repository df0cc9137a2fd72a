"""Quality metrics with maintained implementations (no home-made SDR):

- separation: SDR (BSS Eval v3 sources, 512-tap distortion filter) and SI-SDR from ``fast_bss_eval``, per stem,
  stems in a FIXED order (no permutation search: an estimate labelled 'drums' is scored against the drums). Its
  torch backend is used: the numpy backend of fast_bss_eval 0.1.4 fails under numpy 2 (batched ``solve``);
- tagging: mean average precision over labels with at least one positive, from scikit-learn's
  ``average_precision_score``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge._lazy import require
from edge.errors import ConfigError

SDR_FILTER_TAPS = 512
"""BSS Eval's distortion filter length (samples): 32 ms at 16 kHz."""
SDR_CLAMP_DB = 60.0
"""fast_bss_eval clamps scores to +-this (a perfect estimate would be +inf and break means)."""
SILENT_RMS = 1e-4
"""A reference or estimate quieter than this (RMS, full scale 1.0) is 'silent' (about -80 dBFS)."""
SILENT_ESTIMATE_DB = -SDR_CLAMP_DB
"""Score given to a silent estimate of a non-silent reference (SDR is -inf there; a floor keeps means finite)."""


@dataclass(frozen=True)
class StemScore:
    """SDR and SI-SDR (dB) of one estimated stem; NaN when the reference is silent (the stem is then not scored)."""

    sdr_db: float
    si_sdr_db: float


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0


def separation_scores(references: dict[str, np.ndarray], estimates: dict[str, np.ndarray]) -> dict[str, StemScore]:
    """Score every stem in ``estimates`` against the same-named reference; all arrays (n_samples,) of one length.

    Stems whose reference is silent get NaN (there is nothing to recover); a silent estimate of a sounding
    reference gets ``SILENT_ESTIMATE_DB``.
    """
    fast_bss_eval = require("fast_bss_eval", "export", "SDR/SI-SDR evaluation")
    torch = require("torch", "export", "SDR/SI-SDR evaluation (fast_bss_eval's torch backend)")
    missing = sorted(set(estimates) - set(references))
    if missing:
        raise ConfigError(
            f"separation scores: no reference for estimated stems {missing} (references: {sorted(references)})"
        )
    lengths = {name: len(signal) for name, signal in {**references, **estimates}.items()}
    if len(set(lengths.values())) != 1:
        raise ConfigError(f"separation scores: signals differ in length {lengths}")
    scores = {name: StemScore(math.nan, math.nan) for name in estimates if _rms(references[name]) < SILENT_RMS}
    scored = [name for name in estimates if name not in scores and _rms(estimates[name]) >= SILENT_RMS]
    for name in estimates:
        if name not in scores and name not in scored:
            scores[name] = StemScore(SILENT_ESTIMATE_DB, SILENT_ESTIMATE_DB)
    if scored:
        ref = torch.from_numpy(np.stack([references[name] for name in scored]).astype(np.float64))
        est = torch.from_numpy(np.stack([estimates[name] for name in scored]).astype(np.float64))
        sdr, _, _ = fast_bss_eval.bss_eval_sources(
            ref, est, filter_length=SDR_FILTER_TAPS, clamp_db=SDR_CLAMP_DB, compute_permutation=False
        )
        si_sdr, _, _ = fast_bss_eval.si_bss_eval_sources(ref, est, clamp_db=SDR_CLAMP_DB, compute_permutation=False)
        for name, value, si_value in zip(scored, sdr.numpy(), si_sdr.numpy()):
            scores[name] = StemScore(float(value), float(si_value))
    return {name: scores[name] for name in estimates}


def average_precisions(targets: np.ndarray, scores: np.ndarray, min_positives: int = 1) -> dict[int, float]:
    """Label index -> average precision of ``scores`` (n_items, n_labels) against binary ``targets`` of the same
    shape, for the labels with at least ``min_positives`` positive items (with none, AP is not defined)."""
    metrics = require("sklearn.metrics", "export", "tagging mAP")
    targets = np.asarray(targets)
    scores = np.asarray(scores, dtype=np.float64)
    if targets.shape != scores.shape or targets.ndim != 2:
        raise ConfigError(f"mAP: targets {targets.shape} and scores {scores.shape} must both be (n_items, n_labels)")
    with_positives = np.flatnonzero(targets.astype(bool).sum(axis=0) >= max(1, min_positives))
    return {
        int(j): float(metrics.average_precision_score(targets[:, j].astype(bool), scores[:, j])) for j in with_positives
    }


def mean_average_precision(targets: np.ndarray, scores: np.ndarray, min_positives: int = 1) -> tuple[float, int]:
    """(mAP, n_labels_scored) over the labels with at least ``min_positives`` positive items (with a handful, a
    label's AP is the rank of those few items, mostly noise); NaN and 0 when no label qualifies."""
    precisions = average_precisions(targets, scores, min_positives)
    return (float(np.mean(list(precisions.values()))) if precisions else math.nan), len(precisions)
