"""The user's sounds in the live pipeline (``sense run --user-sounds``): the tagger stage also scores each
learned sound on the same tagger call, as an extra tag ``user:NAME``, and the rig gets one preset per sound
(its pattern on its group at its priority, interrupting the music)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from edge.haptics.spec import PresetSpec
from edge.model_stages import TaggerStage
from edge.pack import Pack
from edge.rig import Rig
from edge.user_sounds.store import SoundStore, UserSound

USER_LABEL_PREFIX = "user:"
HOLD_S = 1.0
"""A user sound stays heard this long after the last tagger step that recognised it: steps between the hits
of a ringing or knocking sound must not hand the rig back to the music for a moment."""


def user_label(name: str) -> str:
    return f"{USER_LABEL_PREFIX}{name}"


def user_presets(sounds: list[UserSound]) -> tuple[PresetSpec, ...]:
    return tuple(
        PresetSpec(
            name=user_label(s.name),
            priority=s.priority,
            tags=(user_label(s.name),),
            pattern=s.pattern,
            group=s.group,
            music_gain=0.0,
        )
        for s in sounds
    )


def with_presets(rig: Rig, presets: tuple[PresetSpec, ...]) -> Rig:
    """``rig`` with ``presets`` added (a preset's group must exist in the rig)."""
    from edge.errors import ConfigError

    for preset in presets:
        if preset.group != "all" and preset.group not in rig.spec.groups:
            raise ConfigError(
                f"user sound {preset.name!r} plays on group {preset.group!r}, which rig {rig.name!r} "
                f"lacks; groups: {', '.join(['all', *rig.spec.groups])}"
            )
    return dataclasses.replace(rig, spec=dataclasses.replace(rig.spec, presets=rig.spec.presets + presets))


class _Capturing:
    """A runner that keeps the outputs of each call, so the embedding rides on the tagger's own call."""

    def __init__(self, runner: object) -> None:
        self.inner = runner
        self.model = runner.model  # type: ignore[attr-defined]
        self.runtime = runner.runtime  # type: ignore[attr-defined]
        self.calls: list[dict[str, np.ndarray]] = []

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self.inner.run(inputs)  # type: ignore[attr-defined]
        self.calls.append(outputs)
        return outputs


class UserSoundTagger:
    """A tagger stage for the pipeline: process((n_frames, n_bins)) -> (n_frames, n_labels + n_sounds), the
    pack's probabilities followed by 1.0 while each user sound is heard (held between tagger calls)."""

    def __init__(self, store: SoundStore) -> None:
        self.sounds = [store.current(name) for name in store.sounds]
        self.embedder = store.embedder
        self.runner = _Capturing(self.embedder.runner)
        self.stage = TaggerStage(self.runner)  # type: ignore[arg-type]
        self.classifiers = [sound.classifier() for sound in self.sounds]
        self.names = tuple(self.embedder.tagger.names) + tuple(user_label(s.name) for s in self.sounds)
        self.presets = user_presets(self.sounds)
        self.reset()

    def reset(self) -> None:
        self.stage.reset()
        self._hold_left = np.zeros(len(self.sounds), dtype=np.int64)  # frames each sound stays heard
        self._n_frames_seen = 0

    def process(self, magnitude: np.ndarray) -> np.ndarray:
        self.runner.calls.clear()
        probabilities = self.stage.process(magnitude)
        every = self.stage.every_n_hops
        hold_frames = int(round(HOLD_S * self.embedder.tagger.sample_rate_hz / self.embedder.hop))
        calls = iter(self.runner.calls)
        heard = np.empty((len(magnitude), len(self.sounds)), dtype=np.float32)
        for frame in range(len(magnitude)):
            if (self._n_frames_seen + frame + 1) % every == 0:
                embedding = self.embedder.embedding_of(next(calls))[np.newaxis]
                detected = np.array([bool(c.detects(embedding)[0]) for c in self.classifiers])
                self._hold_left[detected] = hold_frames
            heard[frame] = self._hold_left > 0
            self._hold_left = np.maximum(self._hold_left - 1, 0)
        self._n_frames_seen += len(magnitude)
        return np.concatenate([probabilities, heard], axis=1)


def open_user_sounds(pack: Pack, sounds_dir: str | Path | None = None) -> UserSoundTagger | None:
    """The live tagger with the user's sounds for ``pack``, or None when none are learned."""
    store = SoundStore(pack, sounds_dir)
    return UserSoundTagger(store) if store.sounds else None
