"""Tagging mAP against YAMNet: the alignment of student frames to teacher windows, the scores, the compute."""

from __future__ import annotations


import numpy as np
import pytest

from edge.pack import load_pack
from export.evaluate.heldout import Piece
from export.evaluate.onnx_stats import onnx_graph_cost
from export.evaluate.tagging import (
    PackTagger,
    frames_at_window_ends,
    pack_tagger_compute,
    score_tagging,
    student_at_teacher_windows,
    teacher_targets,
    yamnet_compute,
)


def test_student_frame_is_the_first_one_ending_at_or_after_the_teacher_window() -> None:
    picks = frames_at_window_ends(3, window_samples=15_712, hop_samples=1024, stft_hop=128, n_frames=1000)
    ends = (picks + 1) * 128
    assert np.all(ends >= np.arange(3) * 1024 + 15_712) and np.all(ends - 128 < np.arange(3) * 1024 + 15_712)
    assert frames_at_window_ends(2, 15_712, 1024, 128, n_frames=50).tolist() == [49, 49]


def test_scores_of_a_perfect_and_of_an_inverted_student() -> None:
    rng = np.random.default_rng(0)
    teacher = rng.random((300, 3)).astype(np.float32)
    labels = ("speech", "music", "dog")
    perfect = score_tagging(labels, teacher, teacher)
    assert perfect.mean_average_precision == 1.0 and perfect.n_labels_scored == 3 and perfect.label_agreement == 1.0
    inverted = score_tagging(labels, teacher, 1.0 - teacher)
    assert inverted.mean_average_precision < 0.5 and inverted.label_agreement < 0.05
    quiet = teacher.copy()
    quiet[:, 2] = 0.1  # no positives for 'dog': left out of the mean
    assert set(score_tagging(labels, quiet, teacher).average_precision) == {"speech", "music"}


def test_labels_with_few_positives_are_reported_but_not_averaged() -> None:
    """'dog' has 3 positives: its AP is listed, the headline mAP leaves it out, the all-labels mAP keeps it."""
    rng = np.random.default_rng(1)
    teacher = rng.random((200, 3)).astype(np.float32)
    teacher[:, 2] = 0.0
    teacher[[5, 50, 150], 2] = 0.9
    student = teacher.copy()
    student[:, 2] = rng.random(200)  # the student ranks dog's 3 items at random
    scores = score_tagging(("speech", "music", "dog"), teacher, student)
    assert scores.n_labels_scored == 2 and scores.mean_average_precision == 1.0
    assert scores.n_positives == {
        "speech": int((teacher[:, 0] >= 0.5).sum()),
        "music": int((teacher[:, 1] >= 0.5).sum()),
        "dog": 3,
    }
    assert scores.average_precision["dog"] < 0.5
    assert scores.map_all_labels == pytest.approx((2.0 + scores.average_precision["dog"]) / 3)


def test_onnx_counts_match_the_torch_counts_in_the_manifest() -> None:
    pack = load_pack()
    assert pack.onsets is not None
    for spec in (pack.separator, pack.onsets, pack.tagger):
        path = pack.artifact_path(spec.artifact("onnx", "fp32"))
        shapes = {spec.inputs[0].name: (1, 1, spec.inputs[0].shape[-1])} if spec.role != "tagger" else None
        cost = onnx_graph_cost(path, shapes)
        runs_per_second = spec.sample_rate_hz / spec.hop / spec.every_n_hops
        graph_macs_per_second = cost.macs_per_call * runs_per_second
        if spec.role == "separator":
            # the graph carries a fixed ~51 k MAC per call more than the torch count (the batched band split pads
            # every band to the widest one; the batched merge): 3 % of 1.4.0's 8-block separator, 6 % of 1.6.0's
            # masks, 7.5 % of 1.8.0's, ~9 % of 1.9.0's; the padded rows of the stacked band encoders are a fixed ~6.7 k parameters
            extra_macs_per_call = (graph_macs_per_second - spec.macs_per_second) / runs_per_second
            assert 0 <= extra_macs_per_call <= 55_000, extra_macs_per_call
            assert 0 <= cost.n_parameters - spec.n_parameters <= 7_000, cost.n_parameters - spec.n_parameters
        else:
            assert graph_macs_per_second == pytest.approx(spec.macs_per_second, rel=1e-6)
            assert 0.95 * spec.n_parameters <= cost.n_parameters <= spec.n_parameters


def test_yamnet_compute_matches_its_published_size() -> None:
    """YAMNet: 3.7 M parameters and 69.2 M multiply-adds per 0.96 s patch (its model card)."""
    cost = yamnet_compute()
    assert cost.n_parameters == pytest.approx(3.7e6, rel=0.02)
    assert cost.macs_per_second * 0.48 == pytest.approx(69.2e6, rel=0.01)
    student = pack_tagger_compute(load_pack())
    assert student.macs_per_second == load_pack().tagger.macs_per_second


def test_yamnet_labels_of_music_and_speech_and_the_student_at_its_windows(songs: list[Piece]) -> None:
    from export.evaluate.heldout import heldout_speech
    from export.teachers.yamnet import YamnetTeacher

    teacher = YamnetTeacher()
    pack = load_pack()
    pieces = [songs[0], *heldout_speech(1)]
    targets = teacher_targets(teacher, pieces, pack.tagger.names)
    music, speech = pack.tagger.names.index("music"), pack.tagger.names.index("speech")
    assert np.mean(targets[0][:, music] >= 0.5) > 0.8 and np.mean(targets[1][:, speech] >= 0.5) > 0.5
    scores = student_at_teacher_windows(PackTagger(pack), pieces, targets, teacher.window_samples, teacher.hop_samples)
    assert [s.shape for s in scores] == [t.shape for t in targets]
    assert all(np.all((s >= 0) & (s <= 1)) for s in scores)
