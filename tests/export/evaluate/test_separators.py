"""Reference separators and pack separators, scored on rendered multitrack songs with exact stems."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.errors import PackError
from edge.pack import load_pack
from export.evaluate.heldout import Piece
from export.evaluate.istft import analyse
from export.evaluate.metrics import separation_scores
from export.evaluate.separation import references_for, score_methods
from export.evaluate.separators import (
    BASELINE_STEMS,
    PackSeparator,
    StftSettings,
    dsp_baseline_masks,
    dsp_baseline_separate,
    ideal_ratio_mask_separate,
    ideal_ratio_masks,
)

STFT = StftSettings()
RATE_HZ = STFT.sample_rate_hz


def _mean_sdr(scores: dict) -> float:
    return float(np.mean([score.sdr_db for score in scores.values()]))


def test_ideal_ratio_mask_beats_the_dsp_baseline_on_every_song(songs: list[Piece]) -> None:
    for piece in songs:
        irm = separation_scores(piece.stems, ideal_ratio_mask_separate(piece.mixture, piece.stems, STFT))
        dsp = separation_scores(piece.stems, dsp_baseline_separate(piece.mixture, STFT))
        assert set(irm) == set(dsp) == set(BASELINE_STEMS)
        assert _mean_sdr(irm) > _mean_sdr(dsp) + 5.0, (piece.name, irm, dsp)
        assert min(score.sdr_db for score in irm.values()) > 5.0  # the oracle separates every stem well


def test_ideal_ratio_masks_split_the_mixture(songs: list[Piece]) -> None:
    masks = ideal_ratio_masks(songs[0].stems, STFT)
    assert masks.shape[1] == 4 and masks.min() >= 0 and masks.max() <= 1
    sounding = np.abs(analyse(songs[0].mixture, STFT.n_fft, STFT.hop)) > 1e-3
    np.testing.assert_allclose(masks.sum(axis=1)[sounding], 1.0, atol=1e-4)
    estimates = ideal_ratio_mask_separate(songs[0].mixture, songs[0].stems, STFT)
    np.testing.assert_allclose(np.sum(list(estimates.values()), axis=0), songs[0].mixture, atol=1e-4)


def test_dsp_baseline_sends_a_low_tone_to_bass_and_clicks_to_drums() -> None:
    t = np.arange(2 * RATE_HZ) / RATE_HZ
    tone = 0.5 * np.sin(2 * np.pi * 110 * t).astype(np.float32)
    clicks = np.zeros_like(tone)
    clicks[RATE_HZ // 4 :: RATE_HZ // 4] = 1.0
    for signal, expected in ((tone, "bass"), (clicks, "drums")):
        estimates = dsp_baseline_separate(signal, STFT)
        energy = {stem: float(np.sum(estimate**2)) for stem, estimate in estimates.items()}
        assert max(energy, key=energy.get) == expected, energy
        assert energy[expected] > 0.8 * sum(energy.values())


def test_dsp_baseline_is_causal() -> None:
    """Changing the future leaves the masks of earlier frames unchanged."""
    rng = np.random.default_rng(4)
    signal = rng.standard_normal(RATE_HZ).astype(np.float32)
    changed = signal.copy()
    changed[RATE_HZ // 2 :] = rng.standard_normal(RATE_HZ // 2)
    masks = [dsp_baseline_masks(np.abs(analyse(s, STFT.n_fft, STFT.hop)), STFT) for s in (signal, changed)]
    n_untouched = RATE_HZ // 2 // STFT.hop  # frames ending at or before the change
    np.testing.assert_array_equal(masks[0][:n_untouched], masks[1][:n_untouched])
    assert not np.allclose(masks[0][n_untouched + 4 :], masks[1][n_untouched + 4 :])


def test_pack_separator_artifacts_agree_through_the_edge_runtime(songs: list[Piece]) -> None:
    from edge.pack import TEST_PACK_NAME, bundled_pack_path

    pack = load_pack(bundled_pack_path(TEST_PACK_NAME))  # ships every runtime and precision
    mixture = songs[0].mixture
    reference = PackSeparator(pack, "onnx", "fp32").separate(mixture)
    assert set(reference) == set(pack.separator.names)
    for runtime, precision in (("litert", "fp32"), ("onnx", "int8"), ("litert", "int8")):
        estimates = PackSeparator(pack, runtime, precision).separate(mixture)
        if precision == "fp32":
            for stem in reference:
                np.testing.assert_allclose(estimates[stem], reference[stem], atol=1e-4)
        else:  # int8 estimates stay close to fp32 estimates (scored as SDR against them)
            scores = separation_scores(reference, estimates)
            assert min(score.sdr_db for score in scores.values()) > 15.0, (runtime, scores)


def test_pack_without_a_separator_is_refused(pack_dir: Path) -> None:
    manifest = json.loads((pack_dir / "manifest.json").read_text())
    del manifest["models"]["separator"]
    (pack_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackError, match="no separator"):
        PackSeparator(load_pack(pack_dir))


def test_spleeter_style_accompaniment_is_scored_against_the_other_stems(songs: list[Piece]) -> None:
    piece = songs[0]
    accompaniment = piece.mixture - piece.stems["vocals"]
    references = references_for(piece, ["vocals", "accompaniment", "guitar"])
    assert set(references) == {"vocals", "accompaniment"}
    np.testing.assert_allclose(references["accompaniment"], accompaniment, atol=1e-5)
    results = score_methods(
        [piece],
        {
            "oracle 2-stem": lambda p: {
                "vocals": p.stems["vocals"],
                "accompaniment": accompaniment,
                "guitar": accompaniment,
            }
        },
    )
    scores = results["oracle 2-stem"]
    assert scores.stems == ["vocals", "accompaniment"]
    assert scores.mean("accompaniment", "sdr_db") > 50 and scores.mean_over_stems("si_sdr_db") > 50
