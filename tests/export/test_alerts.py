"""Alert sounds by family (one family held out), the frame-level truth the alert fine-tune learns from, and the
alert scores of the evaluation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from edge.errors import ConfigError
from export.alert_finetune import _recent
from export.data.alert_sounds import (
    ALERT_CLASSES,
    ALERT_FAMILIES,
    ALERT_FAMILY_NAMES,
    HELDOUT_ALERT_FAMILIES,
    check_training_alert_family,
    smoke_alarm_t3,
    sounding_frames,
    synthesize_alert,
    training_families,
)
from export.evaluate.alerts import THEME_ALERTS, RENDER_DECISION, activations, label_active, recalled, theme_alerts
from export.evaluate.heldout import EVENT_SECONDS
from tests.export.conftest import TINY_RECIPE

HOP = 128


@pytest.mark.parametrize("kind", ALERT_CLASSES)
def test_every_alert_class_has_five_families_that_make_sound(kind: str) -> None:
    assert tuple(ALERT_FAMILIES[kind]) == ALERT_FAMILY_NAMES
    for family in ALERT_FAMILIES[kind]:
        for seed in range(4):  # the random designs ('d', 'e') take different branches per seed
            audio = synthesize_alert(kind, family, np.random.default_rng(seed), 3.0)
            assert audio.shape == (48_000,) and np.isfinite(audio).all() and np.abs(audio).max() > 0.01
            assert sounding_frames(audio, HOP).any()


def test_the_held_out_family_is_refused_for_training() -> None:
    assert HELDOUT_ALERT_FAMILIES and not set(training_families()) & HELDOUT_ALERT_FAMILIES
    assert set(training_families()) | HELDOUT_ALERT_FAMILIES == set(ALERT_FAMILY_NAMES)
    for family in HELDOUT_ALERT_FAMILIES:
        with pytest.raises(ConfigError, match="held out"):
            check_training_alert_family(family)
    with pytest.raises(ConfigError, match="unknown"):
        synthesize_alert("doorbell", "z", np.random.default_rng(0), 1.0)


def test_sounding_frames_follow_the_t3_pattern_and_recent_extends_them() -> None:
    audio = smoke_alarm_t3(np.random.default_rng(0), 4.0)
    sounding = sounding_frames(audio, HOP)  # 125 frames per second: beeps at 0-0.5, 1-1.5, 2-2.5 s, then silence
    assert sounding[10] and sounding[135] and sounding[260]
    assert not sounding[90] and not sounding[220] and not sounding[330] and not sounding[480]
    recent = _recent(sounding, 5)
    last = int(np.flatnonzero(sounding[:100])[-1])  # the first beep's last frame
    assert recent[last + 4] and not recent[last + 5]  # "recent" covers the 4 frames after it


def test_recall_window_and_false_alarm_counting_follow_the_renderers_decision() -> None:
    frame_rate_hz = 125.0
    probabilities = np.zeros(500)
    probabilities[int(1.2 * frame_rate_hz) :] = 0.9  # from 0.7 s after an onset at 0.5 s
    active = label_active(probabilities, frame_rate_hz, RENDER_DECISION)
    first_on = int(np.flatnonzero(active)[0])
    assert 1.2 * frame_rate_hz < first_on < 1.5 * frame_rate_hz  # smoothed: on a few frames later, still within 1 s
    assert recalled(active, frame_rate_hz)
    late = np.zeros(500)
    late[int(1.7 * frame_rate_hz) :] = 0.9  # 1.2 s after the onset
    assert not recalled(label_active(late, frame_rate_hz, RENDER_DECISION), frame_rate_hz)
    blip = np.zeros(500)
    blip[100] = 1.0  # one frame above the threshold: smoothed away, as in the renderer
    assert not label_active(blip, frame_rate_hz, RENDER_DECISION).any()
    assert activations(np.array([True, True, False, True, False, False, True])) == 3


def test_theme_alerts_are_real_files_looped_to_the_event_length() -> None:
    pieces = theme_alerts(3)
    names = [piece.name for piece in pieces]
    assert names == [f"alert-{kind}-{i}" for kind in THEME_ALERTS for i in range(3)]
    for piece in pieces:
        assert piece.mixture.shape == (int(EVENT_SECONDS * 16_000),) and 0.05 < np.abs(piece.mixture).max() <= 0.9
    telephones = [piece.mixture for piece in pieces if piece.name.startswith("alert-telephone-")]
    assert not np.allclose(telephones[0], telephones[1][: len(telephones[0])])  # the two telephone files in turn


def test_hard_negatives_are_windows_without_alerts_that_the_model_fires_on() -> None:
    import torch

    from export.alert_finetune import _Clip, mine_hard_negatives
    from export.distill import make_tagger
    from export.recipe import load_recipe

    recipe = load_recipe(TINY_RECIPE)
    recipe = dataclasses.replace(
        recipe, tagger=dataclasses.replace(recipe.tagger, alert_head=())
    )  # the shared classifier
    model = make_tagger(recipe).eval()
    labels = list(recipe.tagger.labels)
    alert_columns = [labels.index(kind) for kind in ALERT_CLASSES]
    context = recipe.tagger.context_frames
    rng = np.random.default_rng(0)
    n_frames = context + 40
    magnitude = rng.uniform(0, 2, (n_frames, model.config.n_bins)).astype(np.float32)
    with_alert = np.zeros((n_frames, len(ALERT_CLASSES)), np.float32)
    with_alert[:, 0] = 1
    clips = [_Clip(magnitude, with_alert), _Clip(magnitude, np.zeros_like(with_alert))]
    with torch.no_grad():
        model.classify.bias[alert_columns] = 5.0  # fires everywhere
    hard = mine_hard_negatives(model, clips, context, alert_columns)
    assert hard and {c for c, _ in hard} == {1}  # only the clip without alerts
    assert [f for _, f in hard] == list(range(context - 1, n_frames, 8))
    with torch.no_grad():
        model.classify.bias[alert_columns] = -5.0  # fires nowhere
        model.classify.weight.zero_()
    assert mine_hard_negatives(model, clips, context, alert_columns) == []


def test_alert_head_learns_on_frozen_tagger_features_and_is_calibrated_on_held_back_clips(tiny_run, tmp_path) -> None:
    """`train_alert_head` on the tiny run's pack (its tagger has a head: the tiny recipe ships one): only the head
    moves -- every other label of the checkpoint equals the pack's fp32 ONNX tagger --, the calibration keeps the
    held-back windows without alerts under the on-threshold, and the export stages read the checkpoint."""
    import shutil

    import onnxruntime

    from export.alert_finetune import training_backgrounds
    from export.alert_head import AlertHeadSettings, train_alert_head
    from export.distill import load_students
    from export.recipe import load_recipe
    from tests.export.conftest import TINY_RECIPE

    recipe = load_recipe(TINY_RECIPE).with_out_dir(tmp_path / "head")
    shutil.copytree(tiny_run.out / "data", recipe.out / "data")
    shutil.copytree(tiny_run.out / "checkpoints", recipe.out / "checkpoints")
    music, speech = training_backgrounds(recipe, n_music=2, n_speech=2)
    settings = AlertHeadSettings(
        n_variants_per_family=1, n_music_clips=6, n_other_clips=3, steps=30, batch_size=32, false_alarm_quantile=0.01
    )
    messages: list[str] = []
    path = train_alert_head(recipe, tiny_run.pack, music, speech, settings, messages.append)
    state = torch.load(path, weights_only=False)
    report = state["alert_head"]["calibration"]
    assert set(report) == set(ALERT_CLASSES) and any("alert head step 30/30" in m for m in messages)
    n_quiet = state["alert_head"]["n_windows"]["calibration"]
    for kind, numbers in report.items():
        assert numbers["bias_shift"] >= 0.0
        assert numbers["false_alarm_windows"] <= settings.false_alarm_quantile + 1.0 / n_quiet, kind
    tagger = load_students(recipe).tagger  # the checkpoint just written, as the export reads it
    spec = tiny_run.pack.tagger
    session = onnxruntime.InferenceSession(str(tiny_run.pack.root / spec.artifact("onnx", "fp32").file))
    window = np.random.default_rng(3).random((2, recipe.tagger.context_frames, spec.inputs[0].shape[-1]), np.float32)
    expected = np.concatenate([session.run(None, {session.get_inputs()[0].name: w[None]})[0] for w in window])
    with torch.no_grad():
        got = tagger(torch.from_numpy(window)).numpy()
    labels = list(recipe.tagger.labels)
    alerts = [labels.index(kind) for kind in ALERT_CLASSES]
    others = [i for i in range(len(labels)) if i not in alerts]
    np.testing.assert_allclose(got[:, others], expected[:, others], atol=1e-4)
    assert not np.allclose(got[:, alerts], expected[:, alerts], atol=1e-3), "the head did not move"


def test_alert_head_command_refuses_a_recipe_without_an_alert_head(tmp_path) -> None:
    from typer.testing import CliRunner

    from edge.cli import app

    recipe = tmp_path / "no-head.toml"
    recipe.write_text("\n".join(line for line in TINY_RECIPE.read_text().splitlines() if "alert_head" not in line))
    result = CliRunner().invoke(app, ["export", "alert-head", str(recipe), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert isinstance(result.exception, ConfigError) and "alert_head is empty" in str(result.exception)
