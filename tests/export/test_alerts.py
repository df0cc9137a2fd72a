"""Alert sounds by family (one family held out), the frame-level truth the alert fine-tune learns from, and the
alert scores of the evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from export.alert_finetune import _recent
from export.data.alert_sounds import (
    ALERT_CLASSES,
    ALERT_FAMILIES,
    HELDOUT_ALERT_FAMILIES,
    check_training_alert_family,
    smoke_alarm_t3,
    sounding_frames,
    synthesize_alert,
    training_families,
)
from export.evaluate.alerts import recalled, upward_crossings

HOP = 128


@pytest.mark.parametrize("kind", ALERT_CLASSES)
def test_every_alert_class_has_three_families_that_make_sound(kind: str) -> None:
    assert set(ALERT_FAMILIES[kind]) == {"a", "b", "c"}
    for family in ALERT_FAMILIES[kind]:
        audio = synthesize_alert(kind, family, np.random.default_rng(1), 3.0)
        assert audio.shape == (48_000,) and np.isfinite(audio).all() and np.abs(audio).max() > 0.05


def test_the_held_out_family_is_refused_for_training() -> None:
    assert HELDOUT_ALERT_FAMILIES and not set(training_families()) & HELDOUT_ALERT_FAMILIES
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


def test_recall_window_and_false_alarm_counting() -> None:
    frame_rate_hz = 125.0
    probabilities = np.zeros(500)
    probabilities[int(1.2 * frame_rate_hz)] = 0.7  # 0.7 s after an onset at 0.5 s: within 1 s
    assert recalled(probabilities, frame_rate_hz, 0.5)
    late = np.zeros(500)
    late[int(1.7 * frame_rate_hz)] = 0.9  # 1.2 s after the onset
    assert not recalled(late, frame_rate_hz, 0.5)
    assert upward_crossings(np.array([0.6, 0.6, 0.1, 0.7, 0.2, 0.2, 0.9]), 0.5) == 3
