"""SDR / SI-SDR and mAP on synthetic cases whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.errors import ConfigError
from export.evaluate.metrics import SILENT_ESTIMATE_DB, mean_average_precision, separation_scores

N_SAMPLES = 16_000


@pytest.fixture()
def references() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {name: rng.standard_normal(N_SAMPLES).astype(np.float32) for name in ("vocals", "drums", "bass", "other")}


def test_perfect_estimate_scores_very_high(references: dict[str, np.ndarray]) -> None:
    scores = separation_scores(references, references)
    assert all(score.sdr_db > 50 and score.si_sdr_db > 50 for score in scores.values())


def test_noisy_estimate_scores_its_signal_to_noise_ratio(references: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(1)
    estimates = {name: ref + 0.1 * rng.standard_normal(N_SAMPLES) for name, ref in references.items()}
    for score in separation_scores(references, estimates).values():
        assert score.sdr_db == pytest.approx(20.0, abs=0.5)
        assert score.si_sdr_db == pytest.approx(20.0, abs=0.5)


def test_swapped_stems_score_low(references: dict[str, np.ndarray]) -> None:
    """The order is fixed: an estimate labelled drums that holds the vocals is not rescued by a permutation."""
    swapped = {**references, "vocals": references["drums"], "drums": references["vocals"]}
    scores = separation_scores(references, swapped)
    assert scores["vocals"].sdr_db < -10 and scores["drums"].si_sdr_db < -10
    assert scores["bass"].sdr_db > 50


def test_scaled_estimate_keeps_si_sdr(references: dict[str, np.ndarray]) -> None:
    scores = separation_scores(references, {"bass": 0.25 * references["bass"]})
    assert list(scores) == ["bass"] and scores["bass"].si_sdr_db > 50


def test_silent_reference_is_not_scored_and_silent_estimate_is_floored(references: dict[str, np.ndarray]) -> None:
    references = {**references, "vocals": np.zeros(N_SAMPLES, np.float32)}
    estimates = {**references, "vocals": references["drums"], "bass": np.zeros(N_SAMPLES, np.float32)}
    scores = separation_scores(references, estimates)
    assert math.isnan(scores["vocals"].sdr_db)
    assert scores["bass"].sdr_db == SILENT_ESTIMATE_DB
    assert scores["drums"].sdr_db > 50


def test_mismatched_inputs_are_refused(references: dict[str, np.ndarray]) -> None:
    with pytest.raises(ConfigError, match="no reference"):
        separation_scores({"vocals": references["vocals"]}, {"guitar": references["vocals"]})
    with pytest.raises(ConfigError, match="length"):
        separation_scores(references, {"vocals": references["vocals"][:100]})


def test_map_of_perfect_ranking_is_one_and_of_reversed_ranking_is_low() -> None:
    rng = np.random.default_rng(2)
    targets = rng.random((200, 6)) < 0.2
    scores = targets + 0.1 * rng.random(targets.shape)
    assert mean_average_precision(targets, scores) == (1.0, 6)
    reversed_map, _ = mean_average_precision(targets, -scores)
    assert reversed_map < 0.2  # positives ranked last: AP near the positive rate


def test_map_skips_labels_without_positives() -> None:
    targets = np.array([[1, 0], [0, 0], [1, 0]])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    assert mean_average_precision(targets, scores) == (1.0, 1)
    assert math.isnan(mean_average_precision(np.zeros((3, 2)), scores)[0])
    assert math.isnan(mean_average_precision(targets, scores, min_positives=len(targets) + 1)[0])
    with pytest.raises(ConfigError, match="n_items, n_labels"):
        mean_average_precision(targets, scores[:, :1])
