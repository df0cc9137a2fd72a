"""Train the separator's drum-onset branch on its own (it reads only the input magnitude, not the mask trunk).

Data: the recipe's varied training songs with their exact hit times (augmented like the separator's segments);
validation: the out-of-source validation songs (every stem from a held-out source), scored by loss and by onset
F-measure at +-30 ms with the renderer's peak picker (:class:`edge.haptics.features.OnsetHeadPulses`) after a
per-class threshold calibration on the same songs (folded into the output biases, so the renderer's fixed
threshold applies). The best calibrated validation F is kept in ``<out>/checkpoints/onset-branch.pt``; :func:`export.distill.load_students` lays it over
the separator's own checkpoint, so export, quantize and pack ship it.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from edge.haptics.features import OnsetHeadParams, OnsetHeadPulses
from export.data.sources import SAMPLE_RATE_HZ
from export.distill import HOP, N_FFT, SeparatorBatches, causal_stft, checkpoint_dir, load_separator_data, onset_loss
from export.recipe import Recipe
from export.students.band_split import OnsetBranch

ONSET_BRANCH_CHECKPOINT = "onset-branch.pt"
ONSET_WINDOW_S = 0.03
N_VALIDATION_SEGMENTS = 64


def onset_branch_checkpoint(recipe: Recipe) -> Path:
    return checkpoint_dir(recipe) / ONSET_BRANCH_CHECKPOINT


def _mixture_batch(
    batches: SeparatorBatches, batch_size: int, window: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mixture magnitude (B, T, F), onset targets (B, T, C), known (B,)) from augmented song segments."""
    segments = [batches._song_segment() for _ in range(batch_size)]
    mixture = torch.from_numpy(np.stack([stems.sum(axis=0) + noise for stems, noise, _ in segments]))
    n_frames, n_classes = batches.training.segment_frames, batches.n_onset_classes
    onsets = np.stack([o if o is not None else np.zeros((n_frames, n_classes), np.float32) for _, _, o in segments])
    known = torch.tensor([o is not None for _, _, o in segments], dtype=torch.float32)
    return causal_stft(mixture, window).abs(), torch.from_numpy(onsets), known


def onset_f_measure(probabilities: np.ndarray, reference_s: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """(F, precision, recall) at +-ONSET_WINDOW_S of the peak-picked pulses (time = end of the frame's hop)."""
    import mir_eval

    strengths = OnsetHeadPulses(SAMPLE_RATE_HZ / HOP, OnsetHeadParams(threshold=threshold)).process(probabilities)
    estimated = (np.flatnonzero(strengths) + 1) * HOP / SAMPLE_RATE_HZ
    if len(reference_s) == 0:
        return (1.0, 1.0, 1.0) if len(estimated) == 0 else (0.0, 0.0, 1.0)
    if len(estimated) == 0:
        return 0.0, 0.0, 0.0
    f, precision, recall = mir_eval.onset.f_measure(reference_s, estimated, window=ONSET_WINDOW_S)
    return float(f), float(precision), float(recall)


@torch.no_grad()
def validate_onsets(
    branch: OnsetBranch, songs: list[tuple[np.ndarray, np.ndarray]], threshold: float
) -> dict[str, float]:
    """Mean onset F / precision / recall over whole songs ((mixture (n,), reference onsets (k,) seconds))."""
    from export.distill import magnitude_frames

    scores = []
    for mixture, reference in songs:
        magnitude = torch.from_numpy(magnitude_frames(mixture))[None]
        states = [torch.zeros(shape) for shape in branch.state_shapes(1)]
        probabilities = torch.sigmoid(branch(magnitude, *states)[0])[0].numpy()
        scores.append(onset_f_measure(probabilities, reference, threshold))
    f, precision, recall = np.mean(scores, axis=0)
    return {
        "onset_val_oos_f": float(f),
        "onset_val_oos_precision": float(precision),
        "onset_val_oos_recall": float(recall),
    }


CALIBRATION_THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


@torch.no_grad()
def calibrate(
    branch: OnsetBranch,
    songs: list[tuple[np.ndarray, dict[str, np.ndarray]]],
    classes: tuple[str, ...],
    threshold: float,
) -> dict[str, float]:
    """Per class, the peak-picking threshold with the best validation F on that class alone; then shift that
    class's output bias so the chosen threshold lands on ``threshold`` (the renderer's), a monotonic change that
    keeps every ranking. Returns the chosen thresholds by class."""
    from export.distill import magnitude_frames

    probabilities = []
    for mixture, _ in songs:
        magnitude = torch.from_numpy(magnitude_frames(mixture))[None]
        states = [torch.zeros(shape) for shape in branch.state_shapes(1)]
        probabilities.append(torch.sigmoid(branch(magnitude, *states)[0])[0].numpy())
    chosen = {}
    for column, name in enumerate(classes):

        def class_f(candidate: float) -> float:
            scores = [
                onset_f_measure(p[:, column : column + 1], refs[name], candidate)[0]
                for p, (_, refs) in zip(probabilities, songs)
                if len(refs[name])
            ]
            return float(np.mean(scores)) if scores else 0.0

        chosen[name] = max(CALIBRATION_THRESHOLDS, key=class_f)
        shift = float(np.log(chosen[name] / (1 - chosen[name])) - np.log(threshold / (1 - threshold)))
        branch.out.bias[column] -= shift
    return chosen


def _validation_songs(recipe: Recipe) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """(mixture (n,), onset times in seconds by class) of each out-of-source validation song."""
    songs = []
    for path in sorted((recipe.out / "data" / "separator").glob("val-oos-*.npz")):
        with np.load(path) as stored:
            songs.append(
                (
                    stored["stems"].sum(axis=0).astype(np.float32),
                    {name: stored[f"onsets_{name}"] for name in recipe.separator.onset_classes},
                )
            )
    return songs


def _merged(songs: list[tuple[np.ndarray, dict[str, np.ndarray]]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every class's hits as one reference per song, hits closer than SAME_HIT_S merged (one felt event)."""
    from export.data.varied_songs import SAME_HIT_S, merge_close_onsets

    return [
        (mixture, merge_close_onsets(np.concatenate(list(by_class.values())), SAME_HIT_S))
        for mixture, by_class in songs
    ]


def train_onset_branch(
    recipe: Recipe,
    steps: int,
    threshold: float = OnsetHeadParams().threshold,
    validate_every: int = 500,
    learning_rate: float = 2e-3,
    batch_size: int = 16,
    progress: Callable[[str], None] = lambda message: None,
) -> dict[str, float]:
    """Train a fresh onset branch for ``steps``; keep the weights with the best out-of-source validation F."""
    torch.set_num_threads(recipe.training.threads)
    torch.manual_seed(recipe.seed + 5)
    classes = tuple(recipe.separator.onset_classes)
    branch = OnsetBranch(N_FFT // 2 + 1, len(classes))
    train = load_separator_data(recipe, "train")
    train.real = []  # no onsets in real mixtures
    train.songs = [song for song in train.songs if song.onset_samples is not None]
    batches = SeparatorBatches(train, recipe, np.random.default_rng([recipe.seed, 5]))
    validation_by_class = _validation_songs(recipe)
    validation = _merged(validation_by_class)
    window = torch.hann_window(N_FFT, periodic=True)
    optimizer = torch.optim.AdamW(branch.parameters(), learning_rate)
    best: dict[str, float] = {}
    history = []
    started = time.monotonic()
    for step in range(1, steps + 1):
        for group in optimizer.param_groups:  # cosine decay to 5 % over the last half
            progress_fraction = max(0.0, (step - steps / 2) / (steps / 2))
            group["lr"] = learning_rate * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * progress_fraction)))
        magnitude, targets, known = _mixture_batch(batches, batch_size, window)
        states = [torch.zeros(shape) for shape in branch.state_shapes(len(magnitude))]
        loss = onset_loss(torch.sigmoid(branch(magnitude, *states)[0]), targets, known)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % validate_every == 0 or step == steps:
            branch.eval()
            numbers = {"step": step, "onset_loss": loss.item(), **validate_onsets(branch, validation, threshold)}
            branch.train()
            calibrated = copy.deepcopy(branch).eval()
            thresholds = calibrate(calibrated, validation_by_class, classes, threshold)
            numbers.update(
                {f"calibrated_{k}": v for k, v in validate_onsets(calibrated, validation, threshold).items()}
            )
            history.append(numbers)
            progress(", ".join(f"{k} {v:.4g}" for k, v in numbers.items()))
            if numbers["calibrated_onset_val_oos_f"] > best.get("calibrated_onset_val_oos_f", -1.0):
                best = numbers
                path = onset_branch_checkpoint(recipe)
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.save(
                    {
                        "onset_branch": calibrated.state_dict(),
                        "step": step,
                        "validation": numbers,
                        "classes": list(classes),
                        "thresholds": thresholds,
                        "history": history,
                        "train_seconds": time.monotonic() - started,
                    },
                    str(path),
                )
    (checkpoint_dir(recipe) / "history-onset-branch.json").write_text(json.dumps(history, indent=1) + "\n")
    return best
