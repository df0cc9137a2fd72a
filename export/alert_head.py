"""A dedicated alert head for a pack's tagger, trained from ground truth on the tagger's frozen features.

Why: fine-tuning the whole tagger on alerts (:mod:`export.alert_finetune`) taught it alarms and knocks but moved
its other labels and fired on music. Here the tagger is left exactly as distilled and a small head (``[tagger]
alert_head``: Linear - ReLU - Linear on the mean and max pooled features of every stage of the trunk,
:class:`MobileTagger`) predicts the alert labels in place of the shared classifier:

- start: the pack's tagger read back from its fp32 ONNX (BatchNorms folded), frozen;
- clips: :func:`export.alert_finetune.build_clips` -- each alert class by the training families (family 'b' held
  out) alone, over training music and over training speech, and clips without alerts (music, speech, noise), all
  through the stem augmentation; every ``window_stride_frames``-th window (the tagger's update rate) becomes one
  (pooled features, alert truth) pair, computed once;
- the clips are split by clip: the head trains on ``1 - calibration_fraction`` of them; on the rest (training
  sources, unseen variants) each alert's output bias is shifted so that at most ``false_alarm_quantile`` of the
  windows without any alert reach the renderer's on-threshold (0.5), and the recall there is reported.
The result is written as the recipe's tagger checkpoints (``<out>/checkpoints/{best,last}-tagger.pt``), which the
export stages read (the recipe needs ``[tagger] alert_head``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edge.errors import ConfigError
from edge.pack import Pack
from export.alert_finetune import AlertClipSettings, _Clip, build_clips, load_pack_tagger, write_tagger_checkpoints
from export.data.alert_sounds import ALERT_CLASSES
from export.evaluate.alerts import RENDER_DECISION
from export.distill import checkpoint_dir, make_tagger
from export.recipe import Recipe
from export.students.tagger import MobileTagger

ON_THRESHOLD = RENDER_DECISION.on_threshold
"""The default rig's tag on-threshold (what switches an alert preset on)."""


@dataclass(frozen=True)
class AlertHeadSettings(AlertClipSettings):
    window_stride_frames: int = 8
    steps: int = 4000
    batch_size: int = 256
    learning_rate: float = 1e-3
    calibration_fraction: float = 0.2
    false_alarm_quantile: float = 0.001
    """Share of calibration windows without alerts allowed at or above the on-threshold, per alert label."""


@dataclass
class Windows:
    features: torch.Tensor
    """(n_windows, n_features) the tagger's pooled features."""
    truth: torch.Tensor
    """(n_windows, n_alerts) 1 where the alert sounded within the last ALERT_RECENT_S."""


def tagger_with_head(recipe: Recipe, pack: Pack) -> MobileTagger:
    """The recipe's tagger with its alert head: the pack's tagger weights (from its fp32 ONNX, BatchNorms folded),
    with the pack's alert head when its tagger has one, else the head fresh."""
    if tuple(recipe.tagger.alert_head) != ALERT_CLASSES:
        raise ConfigError(
            f"recipe {recipe.source}: [tagger] alert_head is {list(recipe.tagger.alert_head)}; the alert head "
            f"trains on {list(ALERT_CLASSES)}, in that order"
        )
    model = make_tagger(recipe).eval()
    try:
        load_pack_tagger(model, pack)
        return model
    except ConfigError:  # a tagger without a head (or another one): its trunk and classifier, the head fresh
        plain = make_tagger(dataclasses.replace(recipe, tagger=dataclasses.replace(recipe.tagger, alert_head=())))
        load_pack_tagger(plain.eval(), pack)
    model = make_tagger(recipe).eval()
    missing, unexpected = model.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(key.startswith("alert_head.") for key in missing)
    return model


@torch.no_grad()
def clip_windows(model: MobileTagger, clips: list[_Clip], context: int, stride: int, batch: int = 256) -> Windows:
    """Every ``stride``-th window of ``clips`` as (pooled features, alert truth)."""
    picks = [(c, f) for c, clip in enumerate(clips) for f in range(context - 1, len(clip.magnitude), stride)]
    features = []
    for start in range(0, len(picks), batch):
        chunk = picks[start : start + batch]
        windows = torch.from_numpy(np.stack([clips[c].magnitude[f - context + 1 : f + 1] for c, f in chunk]))
        features.append(model.alert_features(model.trunk(windows)))
    truth = torch.from_numpy(np.stack([clips[c].alert[f] for c, f in picks]).astype(np.float32))
    return Windows(torch.cat(features), truth)


def calibrate(head: nn.Sequential, windows: Windows, quantile: float) -> dict[str, dict[str, float]]:
    """Shift each alert's output bias so that at most ``quantile`` of ``windows`` without any alert reach the
    on-threshold; returns per alert the shift, that share and the recall (alert windows at or above it)."""
    with torch.no_grad():
        logits = head(windows.features)
        quiet = windows.truth.sum(dim=1) == 0
        report = {}
        for k, kind in enumerate(ALERT_CLASSES):
            negatives = logits[quiet, k]
            limit = float(torch.quantile(negatives, 1.0 - quantile)) if len(negatives) else 0.0
            shift = max(0.0, limit - float(np.log(ON_THRESHOLD / (1 - ON_THRESHOLD))) + 1e-3)
            head[2].bias[k] -= shift
            shifted = logits[:, k] - shift
            positive = windows.truth[:, k] > 0
            report[kind] = {
                "bias_shift": shift,
                "false_alarm_windows": float((torch.sigmoid(shifted[quiet]) >= ON_THRESHOLD).float().mean()),
                "recall_windows": float((torch.sigmoid(shifted[positive]) >= ON_THRESHOLD).float().mean())
                if positive.any()
                else float("nan"),
            }
    return report


def train_alert_head(
    recipe: Recipe,
    pack: Pack,
    music: list[np.ndarray],
    speech: list[np.ndarray],
    settings: AlertHeadSettings = AlertHeadSettings(),
    progress: Callable[[str], None] = lambda message: None,
) -> Path:
    """Train and calibrate the alert head (see the module docstring); returns the tagger checkpoint written."""
    torch.set_num_threads(recipe.training.threads)
    torch.manual_seed(recipe.seed + 5)
    started = time.monotonic()
    model = tagger_with_head(recipe, pack)
    assert model.alert_head is not None
    clips = build_clips(recipe, settings, music, speech, progress)
    rng = np.random.default_rng([recipe.seed, 12])
    held = rng.random(len(clips)) < settings.calibration_fraction
    context = recipe.tagger.context_frames
    progress(f"tagger features of {len(clips)} clips (every {settings.window_stride_frames}th window)")
    train = clip_windows(model, [c for c, h in zip(clips, held) if not h], context, settings.window_stride_frames)
    calibration = clip_windows(model, [c for c, h in zip(clips, held) if h], context, settings.window_stride_frames)
    head = model.alert_head.train()
    optimizer = torch.optim.AdamW(head.parameters(), settings.learning_rate)
    history = []
    for step in range(1, settings.steps + 1):
        picks = torch.from_numpy(rng.integers(0, len(train.truth), settings.batch_size))
        loss = nn.functional.binary_cross_entropy_with_logits(head(train.features[picks]), train.truth[picks])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 500 == 0 or step == settings.steps:
            history.append({"step": step, "alert_head_loss": loss.item()})
            progress(f"alert head step {step}/{settings.steps}: loss {loss.item():.4f}")
    head.eval()
    report = calibrate(head, calibration, settings.false_alarm_quantile)
    for kind, numbers in report.items():
        progress(
            f"{kind}: bias -{numbers['bias_shift']:.2f}, calibration windows without alerts on "
            f"{numbers['false_alarm_windows']:.4f}, recall {numbers['recall_windows']:.2f}"
        )
    made = {
        "from_pack": f"{pack.name} {pack.version}",
        "settings": dataclasses.asdict(settings),
        "calibration": report,
        "n_windows": {"train": len(train.truth), "calibration": len(calibration.truth)},
    }
    path = write_tagger_checkpoints(
        recipe, model, settings.steps, history, time.monotonic() - started, "alert_head", made
    )
    (checkpoint_dir(recipe) / "history-alert-head.json").write_text(json.dumps(made | {"history": history}, indent=1))
    return path
