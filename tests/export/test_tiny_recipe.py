"""The tiny recipe end to end: every stage runs, the pack validates, parity holds, and `sense run` runs it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge.pack import ARTIFACT_SUFFIX, load_pack
from edge.run import run
from export.recipe import load_recipe

FP32_PARITY = 1e-4
INT8_MASK_CORRELATION = 0.99


def _metric(pack, name: str) -> float:
    values = [m["value"] for m in pack.manifest["metrics"] if m["name"] == name]
    assert values, f"metric {name} missing from the manifest"
    return values[0]


def test_every_stage_left_its_output(tiny_run) -> None:
    assert (tiny_run.out / "data" / "report.json").is_file()
    report = json.loads((tiny_run.out / "data" / "report.json").read_text())
    assert report["separator_files"] == 3 and report["real_mixtures"] == 1 and report["tagger_clips"] >= 5
    assert list((tiny_run.out / "cache").glob("*.npz")), "teacher outputs were not cached"
    for student in ("separator", "tagger"):
        assert (tiny_run.out / "checkpoints" / f"last-{student}.pt").is_file()
        history = json.loads((tiny_run.out / "checkpoints" / f"history-{student}.json").read_text())
        assert [h["step"] for h in history] == [2, 4]
        assert all(np.isfinite(h[f"{student}_val_loss"]) for h in history)
    for runtime, precision in ARTIFACT_SUFFIX:
        for key in ("separator", "onsets", "tagger"):
            assert (tiny_run.out / "pack" / f"{key}{ARTIFACT_SUFFIX[(runtime, precision)]}").is_file()


def test_pack_manifest_matches_recipe(tiny_run) -> None:
    recipe = load_recipe(tiny_run.recipe_path)
    pack = load_pack(tiny_run.out / "pack")
    assert pack.name == recipe.pack.name
    assert pack.separator.names == recipe.separator.stems
    assert pack.separator.every_n_hops == recipe.separator.every_n_hops == 2
    assert pack.onsets is not None and pack.onsets.names == recipe.separator.onset_classes
    assert pack.onsets.every_n_hops == 1 and [o.name for o in pack.onsets.outputs] == ["onsets"]
    assert [o.name for o in pack.separator.outputs] == ["masks"]
    assert pack.tagger.names == recipe.tagger.labels
    assert pack.tagger.context_frames == recipe.tagger.context_frames
    assert pack.separator.algorithmic_latency_ms <= 32.0
    for student in ("separator", "tagger"):
        assert pack.manifest["provenance"]["training"][student]["steps"] == recipe.training.student_steps(student)
        assert pack.manifest["provenance"]["training"][student]["status"] == "complete"
    card = (tiny_run.out / "pack" / "README.md").read_text()
    assert "Measured metrics" in card
    assert pack.manifest["provenance"]["notes"] == list(recipe.pack.notes)
    assert f"  - {recipe.pack.notes[0]}" in card and "  - separator:" in card


@pytest.mark.parametrize("runtime", ["onnx", "litert"])
def test_fp32_parity_with_torch(tiny_run, runtime: str) -> None:
    assert _metric(tiny_run.pack, f"separator.{runtime}.fp32.mask_max_abs_diff_vs_torch") <= FP32_PARITY
    assert _metric(tiny_run.pack, f"onsets.{runtime}.fp32.max_abs_diff_vs_torch") <= FP32_PARITY
    assert _metric(tiny_run.pack, f"tagger.{runtime}.fp32.prob_max_abs_diff_vs_torch") <= FP32_PARITY


@pytest.mark.parametrize("runtime", ["onnx", "litert"])
def test_int8_masks_correlate_with_torch(tiny_run, runtime: str) -> None:
    assert _metric(tiny_run.pack, f"separator.{runtime}.int8.mask_correlation_vs_torch") >= INT8_MASK_CORRELATION


@pytest.mark.parametrize("runtime,precision", [("onnx", "fp32"), ("onnx", "int8"), ("litert", "fp32")])
def test_sense_run_plays_the_pack(tiny_run, runtime: str, precision: str) -> None:
    result = run(
        input_spec=None,
        pack_path=str(tiny_run.out / "pack"),
        runtime=runtime,
        precision=precision,
        realtime_budget=None,
        keep_intensities=True,
    )
    assert result.pack_name.startswith("sense-tiny")
    assert result.intensities.ndim == 2 and len(result.intensities) > 0
    assert np.all(np.isfinite(result.intensities))
    assert np.all((result.intensities >= 0) & (result.intensities <= 1))


def test_cache_teachers_reports_the_labels_the_data_covers(tiny_run) -> None:
    """A second `cache-teachers` computes nothing, and its per-label positives are what training will read."""
    from typer.testing import CliRunner

    from edge.cli import app
    from export.distill import load_tagger_clips

    result = CliRunner().invoke(
        app, ["export", "cache-teachers", str(tiny_run.recipe_path), "--out", str(tiny_run.out)]
    )
    assert result.exit_code == 0, result.output
    assert " 0 computed" in result.output
    recipe = load_recipe(tiny_run.recipe_path).with_out_dir(tiny_run.out)
    targets = np.concatenate([c.targets for split in ("train", "val") for c in load_tagger_clips(recipe, split)])
    counts = dict(zip(recipe.tagger.labels, (targets > 0.5).sum(axis=0).tolist()))
    assert any(counts.values())
    line = " ".join(result.output.split())
    assert ", ".join(f"{label} {count}" for label, count in counts.items()) in line


def test_pack_reports_the_validation_of_the_weights_it_ships(tiny_run) -> None:
    """The pack ships each student's best-validation checkpoint; its provenance and training metrics are that
    step's numbers, not the last step's."""
    import torch

    for student in ("separator", "tagger"):
        best = torch.load(tiny_run.out / "checkpoints" / f"best-{student}.pt", weights_only=False)
        entry = next(h for h in best["history"] if h["step"] == best["step"])
        training = tiny_run.pack.manifest["provenance"]["training"][student]
        assert training["shipped_step"] == best["step"]
        assert training["validation_at_shipped_step"][f"{student}_val_loss"] == pytest.approx(
            entry[f"{student}_val_loss"], abs=1e-4
        )
        assert _metric(tiny_run.pack, f"training.{student}_val_loss") == pytest.approx(entry[f"{student}_val_loss"])


def test_training_minutes_are_unknown_not_zero_for_a_checkpoint_without_its_time(tiny_run) -> None:
    """A checkpoint saved without its training time (e.g. one copied in from another machine) gives minutes None in
    the provenance, not 0; a timed one gives its minutes."""
    from export.recipe_run import training_provenance

    recipe = load_recipe(tiny_run.recipe_path)
    steps = recipe.training.student_steps("separator")
    timed = training_provenance(recipe, {"separator": {"step": steps, "train_seconds": 90.0}}, "separator")
    untimed = training_provenance(recipe, {"separator": {"step": steps, "train_seconds": None}}, "separator")
    assert (timed["minutes"], timed["status"]) == (1.5, "complete")
    assert (untimed["minutes"], untimed["status"]) == (None, "complete")
    assert tiny_run.pack.manifest["provenance"]["training"]["separator"]["minutes"] is not None
