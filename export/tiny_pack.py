"""Build the tiny test pack: an untrained causal separator and tagger, exported to ONNX and TFLite, fp32 and
int8, with a full manifest and measured parity. Tests and the README demo run on it until the real default
pack (distilled students) is bundled.

    sense export tiny-pack edge/data/packs/sense-test
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from edge.audio_source import read_audio_file
from edge.pack import ARTIFACT_SUFFIX, Pack
from edge.stft import magnitude_frames
from edge.stream import DEVICE_STREAM
from export.model_stats import count_macs, count_parameters
from export.onnx_export import export_onnx
from export.onnx_quantize import quantize_onnx_int8
from export.pack_writer import artifact_entries, write_pack
from export.step_model import StepSignature
from export.students.tiny import TinySeparator, TinyTagger
from export.tflite_export import export_tflite
from export.verify import stateful_parity, tagger_parity

N_FFT = DEVICE_STREAM.n_fft
HOP = DEVICE_STREAM.hop
WINDOW = DEVICE_STREAM.window
STEMS = ("vocals", "drums", "bass", "other")
LABELS = (
    "speech",
    "music",
    "singing",
    "drums",
    "bass",
    "guitar",
    "piano",
    "siren",
    "alarm",
    "doorbell",
    "knock",
    "dog",
    "baby_cry",
    "car_horn",
    "applause",
    "laughter",
    "footsteps",
    "glass_breaking",
    "telephone",
    "clapping",
    "whistle",
    "vehicle",
    "water",
    "silence",
)
TAGGER_CONTEXT_FRAMES = 64
TAGGER_EVERY_N_HOPS = DEVICE_STREAM.tagger_every_n_hops
EXAMPLE_SOUND = Path(__file__).resolve().parent.parent / "edge" / "data" / "example.flac"
COMMAND = "sense export tiny-pack OUT"


def _artifacts(key: str, signature: StepSignature, with_tflite: bool) -> list[dict[str, Any]]:
    return artifact_entries(key, signature, [pair for pair in ARTIFACT_SUFFIX if with_tflite or pair[0] != "litert"])


def _export_all(
    root: Path,
    key: str,
    model: torch.nn.Module,
    signature: StepSignature,
    with_tflite: bool,
    onnx_feeds: list[dict[str, np.ndarray]],
    torch_calibration: list[tuple[torch.Tensor, ...]],
) -> None:
    fp32 = export_onnx(model, signature, root / f"{key}.onnx")
    quantize_onnx_int8(fp32, root / f"{key}.int8.onnx", onnx_feeds)
    if with_tflite:
        export_tflite(model, signature, root / f"{key}.tflite")
        export_tflite(model, signature, root / f"{key}.int8.tflite", calibration=torch_calibration)


def _tensor(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"name": name, "shape": list(shape), "dtype": "float32"}


def make_tiny_students(seed: int = 0) -> tuple[TinySeparator, TinyTagger, StepSignature, StepSignature]:
    """The untrained students of the tiny pack and their step signatures (same seed, same weights)."""
    torch.manual_seed(seed)
    n_bins = N_FFT // 2 + 1
    separator = TinySeparator(n_bins=n_bins, n_stems=len(STEMS)).eval()
    tagger = TinyTagger(n_bins=n_bins, n_labels=len(LABELS)).eval()
    sep_sig = StepSignature("magnitude", "masks", (1, 1, n_bins), tuple(separator.state_shapes()))
    tag_sig = StepSignature("magnitude", "probabilities", (1, TAGGER_CONTEXT_FRAMES, n_bins), frames_axis_dynamic=False)
    return separator, tagger, sep_sig, tag_sig


def build_tiny_pack(
    out_dir: Path, seed: int = 0, with_tflite: bool = True, progress: Callable[[str], None] = lambda step: None
) -> Pack:
    """Build, export, verify and write the tiny pack into ``out_dir`` (replaced if it exists)."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    n_bins = N_FFT // 2 + 1
    hops_per_second = DEVICE_STREAM.sample_rate_hz / HOP
    separator, tagger, sep_sig, tag_sig = make_tiny_students(seed)

    magnitude = magnitude_frames(read_audio_file(EXAMPLE_SOUND))
    calibration_frames = magnitude[::7][:48]
    zero_states = {name: np.zeros(shape, np.float32) for name, shape in zip(sep_sig.state_inputs, sep_sig.state_shapes)}
    sep_feeds = [{"magnitude": magnitude[i : i + 16][None], **zero_states} for i in range(0, 640, 40)]
    sep_calibration = [
        (torch.from_numpy(frame[None, None]), *(torch.zeros(s) for s in sep_sig.state_shapes))
        for frame in calibration_frames
    ]
    windows = [magnitude[i : i + TAGGER_CONTEXT_FRAMES][None] for i in range(0, 900, 60)]
    tag_feeds = [{"magnitude": w} for w in windows]
    tag_calibration = [(torch.from_numpy(w),) for w in windows]

    progress("exporting separator (ONNX fp32/int8, TFLite fp32/int8)")
    _export_all(out_dir, "separator", separator, sep_sig, with_tflite, sep_feeds, sep_calibration)
    progress("exporting tagger (ONNX fp32/int8, TFLite fp32/int8)")
    _export_all(out_dir, "tagger", tagger, tag_sig, with_tflite, tag_feeds, tag_calibration)

    common = {
        "sample_rate_hz": DEVICE_STREAM.sample_rate_hz,
        "n_fft": N_FFT,
        "hop": HOP,
        "window": WINDOW,
        "algorithmic_latency_ms": 1000.0 * N_FFT / DEVICE_STREAM.sample_rate_hz,
    }
    models: dict[str, dict[str, Any]] = {
        "separator": {
            "role": "separator",
            **common,
            "inputs": [_tensor("magnitude", (1, -1, n_bins))],
            "outputs": [_tensor("masks", (1, -1, len(STEMS), n_bins))],
            "states": [
                {"input": i, "output": o, "shape": list(s), "dtype": "float32"}
                for i, o, s in zip(sep_sig.state_inputs, sep_sig.state_outputs, sep_sig.state_shapes)
            ],
            "stems": list(STEMS),
            "artifacts": _artifacts("separator", sep_sig, with_tflite),
            "macs_per_second": count_macs(separator, sep_sig.example_args(1)) * hops_per_second,
            "n_parameters": count_parameters(separator),
        },
        "tagger": {
            "role": "tagger",
            **common,
            "inputs": [_tensor("magnitude", (1, TAGGER_CONTEXT_FRAMES, n_bins))],
            "outputs": [_tensor("probabilities", (1, len(LABELS)))],
            "labels": list(LABELS),
            "context_frames": TAGGER_CONTEXT_FRAMES,
            "every_n_hops": TAGGER_EVERY_N_HOPS,
            "artifacts": _artifacts("tagger", tag_sig, with_tflite),
            "macs_per_second": count_macs(tagger, tag_sig.example_args()) * hops_per_second / TAGGER_EVERY_N_HOPS,
            "n_parameters": count_parameters(tagger),
        },
    }
    provenance = {
        "teachers": "none (untrained, random initialisation)",
        "data": "edge/data/example.flac (synthesised by export/example_sound.py) for int8 calibration only",
        "training_command": "none",
        "seed": seed,
        "build_command": COMMAND,
    }
    description = (
        "Tiny UNTRAINED test pack: exercises every runtime, precision and the streaming contract. Its "
        "separation and tags are meaningless; the distilled default pack replaces it for real use."
    )
    pack = write_pack(out_dir, "sense-test", "0.1.0", description, models, [], provenance, "MIT")

    progress("verifying parity against PyTorch")
    metrics = []
    for runtime, precision in [(r, p) for r, p in ARTIFACT_SUFFIX if with_tflite or r == "onnx"]:
        sep = stateful_parity(pack, "separator", separator, sep_sig, magnitude[:200], runtime, precision)
        tag = tagger_parity(pack, "tagger", tagger, magnitude[:200], runtime, precision)
        metrics += [
            {
                "name": f"separator.{runtime}.{precision}.mask_max_abs_diff_vs_torch",
                "value": sep["max_abs"],
                "command": COMMAND,
            },
            {
                "name": f"separator.{runtime}.{precision}.mask_correlation_vs_torch",
                "value": sep["correlation"],
                "command": COMMAND,
            },
            {
                "name": f"tagger.{runtime}.{precision}.prob_max_abs_diff_vs_torch",
                "value": tag["max_abs"],
                "command": COMMAND,
            },
            {
                "name": f"tagger.{runtime}.{precision}.label_agreement_vs_torch",
                "value": tag["label_agreement"],
                "command": COMMAND,
            },
        ]
    return write_pack(out_dir, "sense-test", "0.1.0", description, models, metrics, provenance, "MIT")
