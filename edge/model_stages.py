"""Streaming stages around the runners: the separator carries its recurrent state as named tensors between
steps; the tagger runs every N hops on a short context of past frames. Both obey ``edge.stream``."""

from __future__ import annotations

import numpy as np

from edge.runners.base import ModelRunner
from edge.stream import tagger_run_frames


def _zero_states(runner: ModelRunner) -> dict[str, np.ndarray]:
    return {state.input: np.zeros(state.shape, dtype=state.dtype) for state in runner.model.states}


class SeparatorStage:
    """process((n_frames, n_bins) magnitude) -> (n_frames, n_stems, n_bins) masks in [0, 1];
    process_with_onsets(...) -> (masks, (n_frames, n_onset_classes) drum-onset probabilities or None when the
    model has no onset head).

    Artifacts with a fixed ``frames_per_step`` k get frames k at a time; leftovers wait for the next block.
    """

    def __init__(self, runner: ModelRunner) -> None:
        self.runner = runner
        model = runner.model
        self.input_name = model.inputs[0].name
        self.output_name = model.outputs[0].name
        self.onsets_name = model.outputs[1].name if model.onset_classes else None
        self.n_stems = len(model.names)
        self.n_onset_classes = len(model.onset_classes)
        self.n_bins = model.inputs[0].shape[-1]
        self.reset()

    def reset(self) -> None:
        self._states = _zero_states(self.runner)
        self._pending = np.zeros((0, self.n_bins), dtype=np.float32)

    def _step(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        outputs = self.runner.run({self.input_name: frames[np.newaxis], **self._states})
        self._states = {state.input: outputs[state.output] for state in self.runner.model.states}
        return outputs[self.output_name][0], outputs[self.onsets_name][0] if self.onsets_name else None

    def process_with_onsets(self, magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        frames = np.concatenate([self._pending, np.asarray(magnitude, dtype=np.float32)])
        step = self.runner.frames_per_step or max(len(frames), 1)
        n_whole = len(frames) // step * step
        self._pending = frames[n_whole:]
        results = [self._step(frames[start : start + step]) for start in range(0, n_whole, step)]
        masks = (
            np.concatenate([r[0] for r in results])
            if results
            else np.zeros((0, self.n_stems, self.n_bins), dtype=np.float32)
        )
        if not self.onsets_name:
            return masks, None
        onsets = (
            np.concatenate([r[1] for r in results if r[1] is not None])
            if results
            else np.zeros((0, self.n_onset_classes), dtype=np.float32)
        )
        return masks, onsets

    def process(self, magnitude: np.ndarray) -> np.ndarray:
        return self.process_with_onsets(magnitude)[0]


class TaggerStage:
    """process((n_frames, n_bins) magnitude) -> (n_frames, n_labels) probabilities, held between runs.

    Every ``every_n_hops``-th frame (counting from 1) the tagger runs on the last ``context_frames`` frames
    (zeros before the stream started); the other frames repeat the latest probabilities (zeros before the first run).
    """

    def __init__(self, runner: ModelRunner) -> None:
        self.runner = runner
        model = runner.model
        self.input_name = model.inputs[0].name
        self.output_name = model.outputs[0].name
        self.context_frames = model.context_frames
        self.every_n_hops = model.every_n_hops
        self.n_bins = model.inputs[0].shape[-1]
        self.n_labels = len(model.names)
        self.reset()

    def reset(self) -> None:
        self._context = np.zeros((self.context_frames, self.n_bins), dtype=np.float32)
        self._latest = np.zeros(self.n_labels, dtype=np.float32)
        self._n_frames_seen = 0

    def process(self, magnitude: np.ndarray) -> np.ndarray:
        magnitude = np.asarray(magnitude, dtype=np.float32)
        n_frames = len(magnitude)
        history = np.concatenate([self._context, magnitude])
        probabilities = np.empty((n_frames, self.n_labels), dtype=np.float32)
        start = 0
        for run_at in tagger_run_frames(n_frames, self.every_n_hops, self._n_frames_seen):
            probabilities[start:run_at] = self._latest
            window = history[run_at + 1 : run_at + 1 + self.context_frames]
            self._latest = self.runner.run({self.input_name: window[np.newaxis]})[self.output_name][0]
            start = run_at
        probabilities[start:] = self._latest
        self._n_frames_seen += n_frames
        self._context = history[len(history) - self.context_frames :]
        return probabilities
