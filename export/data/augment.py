"""Remix and gain augmentation of multitrack examples (stems stay exact: the mixture is always their sum)."""

from __future__ import annotations

import numpy as np


def random_gains_db(rng: np.random.Generator, n_stems: int, spread_db: float) -> np.ndarray:
    """Independent per-stem gains in dB, uniform in [-spread_db, +spread_db]."""
    return rng.uniform(-spread_db, spread_db, n_stems)


def remix(stems: np.ndarray, gains_db: np.ndarray, drop_probability: float, rng: np.random.Generator) -> np.ndarray:
    """stems (n_stems, n_samples) -> new stems with gains applied; each stem is silenced with ``drop_probability``
    (never all of them) so the model also sees solo and partial mixtures."""
    gains = 10.0 ** (gains_db / 20.0)
    keep = rng.random(len(stems)) >= drop_probability
    if not keep.any():
        keep[int(rng.integers(len(stems)))] = True
    return (stems * (gains * keep)[:, None]).astype(np.float32)


def swap_stems(stems_a: np.ndarray, stems_b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each stem comes from song a or b at random (cross-song remixing: new combinations the renderer never made)."""
    choose_b = rng.random(len(stems_a)) < 0.5
    return np.where(choose_b[:, None], stems_b, stems_a)


def scale_to_peak(stems: np.ndarray, peak: float, rng: np.random.Generator, spread_db: float = 0.0) -> np.ndarray:
    """Scale all stems together so the mixture's peak is ``peak`` times a random gain within +-spread_db."""
    mixture_peak = float(np.abs(stems.sum(axis=0)).max())
    if mixture_peak < 1e-9:
        return stems
    gain = peak / mixture_peak * 10.0 ** (rng.uniform(-spread_db, spread_db) / 20.0)
    return (stems * gain).astype(np.float32)
