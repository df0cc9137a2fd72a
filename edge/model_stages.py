"""Streaming stages around the runners: the separator and the onset graph carry their recurrent states as named
tensors between steps (the separator every ``every_n_hops`` hops, its masks held between); the tagger runs every N
hops on a short context of past frames. All obey ``edge.stream``."""

from __future__ import annotations

import numpy as np

from edge.runners.base import ModelRunner
from edge.stream import tagger_run_frames


class StatefulSteps:
    """process((n_frames, n_bins) magnitude) -> (n_frames, *output shape) of the model's first output, with its
    states carried from call to call (zeros at reset).

    Artifacts with a fixed ``frames_per_step`` k get frames k at a time; leftovers wait for the next block (so a
    block may return fewer rows than it got frames)."""

    def __init__(self, runner: ModelRunner) -> None:
        self.runner = runner
        model = runner.model
        self.input_name = model.inputs[0].name
        self.output_name = model.outputs[0].name
        self.output_shape = tuple(model.outputs[0].shape[2:])
        self.n_bins = model.inputs[0].shape[-1]
        self._state_names = [(state.input, state.output) for state in model.states]  # carried from output to input
        # one frame per call with the states kept inside the runtime, where the runner can (LiteRT fp32): ~25 k fewer
        # aarch64 instructions per hop and stage than passing the states in and out (docs/hot_path.md)
        self._stepper = runner.frame_stepper() if runner.frames_per_step == 1 else None
        self.reset()

    def reset(self) -> None:
        if self._stepper is not None:
            self._stepper.reset()
        else:  # the runner's inputs: the frames (set per step) and the states, replaced in place by each step's outputs
            self._feed = {self.input_name: np.zeros((1, 0, self.n_bins), dtype=np.float32)}
            self._feed.update((s.input, np.zeros(s.shape, dtype=s.dtype)) for s in self.runner.model.states)
        self._pending = np.zeros((0, self.n_bins), dtype=np.float32)

    def _step(self, frames: np.ndarray) -> np.ndarray:
        if self._stepper is not None:
            return self._stepper.step(frames)
        feed = self._feed
        feed[self.input_name] = frames[np.newaxis]
        outputs = self.runner.run(feed)
        for name_in, name_out in self._state_names:
            feed[name_in] = outputs[name_out]
        return outputs[self.output_name][0]

    def process(self, magnitude: np.ndarray) -> np.ndarray:
        frames = np.asarray(magnitude, dtype=np.float32)
        if len(self._pending):
            frames = np.concatenate([self._pending, frames])
            self._pending = frames[:0]
        step = self.runner.frames_per_step or max(len(frames), 1)
        if len(frames) == step:  # the device's one-frame call: no slicing, no concatenation
            return self._step(frames)
        n_whole = len(frames) // step * step
        self._pending = frames[n_whole:]
        results = [self._step(frames[start : start + step]) for start in range(0, n_whole, step)]
        if len(results) == 1:
            return results[0]
        return np.concatenate(results) if results else np.zeros((0, *self.output_shape), dtype=np.float32)


class SeparatorStage:
    """process((n_frames, n_bins) magnitude) -> (n_frames, n_stems, n_bins) masks in [0, 1].

    The separator runs on every ``every_n_hops``-th frame of the stream, counting from its first (0, n, 2n, ...),
    with its states carried from one run to the next; each run's masks are held for the frames up to the next
    (zeros before the first). ``every_n_hops`` > 1 needs an artifact that takes any number of frames or one per call
    (checked when the pack loads)."""

    def __init__(self, runner: ModelRunner) -> None:
        self.runner = runner
        self.steps = StatefulSteps(runner)
        self.every_n_hops = runner.model.every_n_hops
        self.mask_shape = self.steps.output_shape
        self.reset()

    def reset(self) -> None:
        self.steps.reset()
        self._held = np.zeros((1, *self.mask_shape), dtype=np.float32)
        self._n_frames_seen = 0

    def process(self, magnitude: np.ndarray) -> np.ndarray:
        n = self.every_n_hops
        if n == 1:
            return self.steps.process(magnitude)
        n_frames = len(magnitude)
        first_run = -self._n_frames_seen % n  # the block's first frame the separator runs on
        self._n_frames_seen += n_frames
        if n_frames == 1:  # the device's one-hop call
            if first_run == 0:
                self._held = self.steps.process(magnitude)
            return self._held
        runs = self.steps.process(magnitude[first_run::n])  # (n_runs, n_stems, n_bins)
        held = np.repeat(runs, n, axis=0)[: n_frames - first_run]
        masks = np.concatenate([np.repeat(self._held, min(first_run, n_frames), axis=0), held])
        if len(runs):
            self._held = runs[-1:]
        return masks


class OnsetStage(StatefulSteps):
    """process((n_frames, n_bins) magnitude) -> (n_frames, n_classes) drum-onset probabilities, every frame."""


class TaggerStage:
    """process((n_frames, n_bins) magnitude) -> (n_frames, n_labels) probabilities, held between runs.

    Every ``every_n_hops``-th frame (counting from 1) the tagger runs on the last ``context_frames`` frames
    (zeros before the stream started); the other frames repeat the latest probabilities (zeros before the first run).

    The frames wait in a buffer of twice the context: each block is written after the latest frames, and only when
    it would run past the end are the last ``context_frames`` moved to the front (once per ``context_frames`` hops
    on the device's one-hop calls, instead of a copy of the whole context every hop: ~7 M aarch64 instructions per
    audio second on the Pi 4 profile; docs/hot_path.md)."""

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
        self._frames = np.zeros((2 * self.context_frames, self.n_bins), dtype=np.float32)
        self._end = self.context_frames  # self._frames[self._end - context_frames : self._end]: the latest frames
        self._latest = np.zeros((1, self.n_labels), dtype=np.float32)
        self._n_frames_seen = 0

    def process(self, magnitude: np.ndarray) -> np.ndarray:
        magnitude = np.asarray(magnitude, dtype=np.float32)
        n_frames = len(magnitude)
        if n_frames == 1:  # the device's one-hop call
            self._append(magnitude)
            self._n_frames_seen += 1
            if self._n_frames_seen % self.every_n_hops == 0:
                self._latest = self._run(self._end)
            return self._latest
        probabilities = np.empty((n_frames, self.n_labels), dtype=np.float32)
        for start in range(0, n_frames, self.context_frames):  # a block longer than the buffer holds, in pieces
            piece = magnitude[start : start + self.context_frames]
            self._append(piece)
            first = self._end - len(piece)  # the buffer row of the piece's first frame
            done = 0
            for run_at in tagger_run_frames(len(piece), self.every_n_hops, self._n_frames_seen).tolist():
                probabilities[start + done : start + run_at] = self._latest
                self._latest = self._run(first + run_at + 1)
                done = run_at
            probabilities[start + done : start + len(piece)] = self._latest
            self._n_frames_seen += len(piece)
        return probabilities

    def _append(self, frames: np.ndarray) -> None:
        """Write ``frames`` (at most ``context_frames``) after the latest frames, moving those to the front first
        when the block would run past the buffer's end."""
        end = self._end
        if end + len(frames) > len(self._frames):
            self._frames[: self.context_frames] = self._frames[end - self.context_frames : end]
            end = self.context_frames
        self._frames[end : end + len(frames)] = frames
        self._end = end + len(frames)

    def _run(self, end: int) -> np.ndarray:
        """(1, n_labels) probabilities of the ``context_frames`` frames up to buffer row ``end`` (excluded)."""
        window = self._frames[np.newaxis, end - self.context_frames : end]
        return self.runner.run({self.input_name: window})[self.output_name]


ModelStage = SeparatorStage | OnsetStage | TaggerStage
"""Any model stage: process((n_frames, n_bins) magnitude) -> one row per frame; reset()."""

MODEL_STAGES: dict[str, type[ModelStage]] = {"separator": SeparatorStage, "onsets": OnsetStage, "tagger": TaggerStage}


def model_stage(runner: ModelRunner) -> ModelStage:
    """The stage that streams ``runner``'s model, by its role."""
    return MODEL_STAGES[runner.model.role](runner)
