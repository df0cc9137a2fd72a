"""Recipes: validated before any work; distillation resumes from its checkpoint exactly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from edge.cli import app
from edge.errors import ConfigError
from export.recipe import load_recipe, parse_recipe
from export.distill import N_BINS
from tests.export.conftest import DEFAULT_RECIPE, REPO, TINY_RECIPE


def test_committed_recipes_parse() -> None:
    tiny = load_recipe(TINY_RECIPE)
    default = load_recipe(DEFAULT_RECIPE)
    assert tiny.name == "tiny" and default.pack.name == "sense-default"
    assert default.training.threads == 1


@pytest.mark.parametrize(
    "table,match",
    [
        ({"name": "x", "training": {"stepz": 3}}, r"training.stepz: unknown key \(expected one of .*steps"),
        ({"name": "x", "colour": "red"}, r"colour: unknown key"),
        ({"name": "x", "training": {"steps": "many"}}, r"training.steps: is 'many' \(expected an integer\)"),
        ({"name": "x", "tagger": {"labels": ["speech", "unicorn"]}}, r"tagger.labels\[1\]: 'unicorn' unknown"),
        ({"name": "x", "data": {"real_mixture_source": "radio"}}, "real_mixture_source"),
        ({"training": {"steps": 3}}, "name: missing required key"),
        ({"name": "x", "training": {"decay_fraction": 1.5}}, r"decay_fraction: is 1.5 \(expected a number within 0..1"),
        ({"name": "x", "training": {"tagger_steps": "lots"}}, r"tagger_steps: is 'lots' \(expected an integer"),
        ({"name": "x", "separator": {"prior_weights": [0.5, 0.5]}}, r"prior_weights: has 2 entries \(expected one per"),
        (
            {"name": "x", "separator": {"prior_weights": [0.5, 0.2, 0.5, 0.5]}},
            r"prior_weights: gives drums 0.2 \(expected 0, or a stem with a band",
        ),
        (
            {"name": "x", "separator": {"prior_weights": [1.5, 0.0, 0.5, 0.5]}},
            r"prior_weights: gives vocals 1.5 \(expected a weight within 0..1",
        ),
        (
            {"name": "x", "training": {"onset_target_frames": [1, 9]}},
            r"onset_target_frames: is \[1, 9\] \(expected frame offsets within 0..4",
        ),
        ({"name": "x", "separator": {"log_floor": 0.0}}, r"separator.log_floor: is 0.0 \(expected a number above 0"),
        ({"name": "x", "separator": {"every_n_hops": 0}}, r"separator.every_n_hops: is 0 \(expected an integer >= 1"),
        (
            {"name": "x", "training": {"generator_song_weight": 0.0}},
            r"training.generator_song_weight: is 0.0 \(expected a number above 0",
        ),
        (
            {"name": "x", "training": {"select_separator_by": "luck"}},
            r"select_separator_by: is 'luck' \(expected 'loss' or 'sdr'",
        ),
        (
            {"name": "x", "training": {"init_from_pack": "p", "init_from_checkpoint": "c.pt"}},
            r"init_from_checkpoint: is set beside init_from_pack \(expected one warm start",
        ),
        (
            {"name": "x", "training": {"teacher_weight": 1.0}},
            r"teacher_weight: is 1.0 with teacher_checkpoint '' \(expected a weight above 0 together with",
        ),
        (
            {"name": "x", "training": {"teacher_checkpoint": "t.pt", "teacher_recipe": "r.toml"}},
            r"teacher_weight: is 0.0 with teacher_checkpoint 't.pt'",
        ),
        (
            {"name": "x", "training": {"teacher_checkpoint": "t.pt", "teacher_weight": 1.0}},
            r"teacher_recipe: is '' with teacher_checkpoint 't.pt' \(expected both set",
        ),
        (
            {"name": "x", "training": {"tagger_ema_decay": 1.0}},
            r"tagger_ema_decay: is 1.0 \(expected a number within 0..1",
        ),
    ],
)
def test_bad_recipe_is_refused(table: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_recipe(table, "test.toml")


def test_unknown_key_fails_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "out"
    recipe = tmp_path / "bad.toml"
    recipe.write_text(TINY_RECIPE.read_text().replace("[training]", "[training]\nlearning_rat = 0.1"))
    result = CliRunner().invoke(app, ["export", "recipe", str(recipe), "--out", str(out)])
    assert result.exit_code == 1
    assert isinstance(result.exception, ConfigError) and "learning_rat" in str(result.exception)
    assert not out.exists(), "work started before the recipe was validated"


def test_distill_resumes_exactly_where_it_stopped(tiny_run, tmp_path: Path) -> None:
    """Two steps, stop, two more (resumed) == four steps in one go: same weights, same history."""
    import shutil

    from export.distill import distill

    base = dataclasses.replace(
        load_recipe(TINY_RECIPE),
        training=dataclasses.replace(load_recipe(TINY_RECIPE).training, checkpoint_every_seconds=0.0),
    )
    straight = base.with_out_dir(tmp_path / "straight")
    resumed = base.with_out_dir(tmp_path / "resumed")
    for recipe in (straight, resumed):  # reuse the tiny run's rendered data and teacher cache
        shutil.copytree(tiny_run.out / "data", recipe.out / "data")
        shutil.copytree(tiny_run.out / "cache", recipe.out / "cache")
    distill(straight, steps=4, resume=False)
    distill(resumed, steps=2, resume=False)
    messages: list[str] = []
    distill(resumed, steps=4, resume=True, log=messages.append)
    assert any("resumed" in m and "step 2" in m for m in messages)
    for key in ("separator", "tagger"):
        a = torch.load(straight.out / "checkpoints" / f"last-{key}.pt", weights_only=False)
        b = torch.load(resumed.out / "checkpoints" / f"last-{key}.pt", weights_only=False)
        assert a["step"] == b["step"] == 4
        for name, tensor in a[key].items():
            torch.testing.assert_close(b[key][name], tensor, atol=1e-6, rtol=0, msg=f"{key}.{name}")
        assert [h["step"] for h in a["history"]] == [h["step"] for h in b["history"]]
        assert [h[f"{key}_val_loss"] for h in a["history"]] == pytest.approx(
            [h[f"{key}_val_loss"] for h in b["history"]]
        )


def test_one_student_trains_alone_to_its_own_step_count(tiny_run, tmp_path: Path) -> None:
    """--student tagger trains only the tagger, to [training].tagger_steps, with the decaying learning rate."""
    import shutil

    recipe_path = tmp_path / "tagger_only.toml"
    recipe_path.write_text(
        TINY_RECIPE.read_text().replace(
            "[training]", "[training]\ntagger_steps = 6\ntagger_batch_size = 3\ndecay_fraction = 0.5"
        )
    )
    out = tmp_path / "out"
    shutil.copytree(tiny_run.out / "data", out / "data")
    shutil.copytree(tiny_run.out / "cache", out / "cache")
    result = CliRunner().invoke(app, ["export", "distill", str(recipe_path), "--out", str(out), "--student", "tagger"])
    assert result.exit_code == 0, result.output
    assert "tagger step 6" in result.output
    assert not (out / "checkpoints" / "last-separator.pt").exists(), "the separator was trained too"
    state = torch.load(out / "checkpoints" / "last-tagger.pt", weights_only=False)
    assert state["step"] == 6
    rates = [h["learning_rate"] for h in state["history"]]  # validated every 2 steps: 2, 4, 6
    recipe = load_recipe(recipe_path)
    assert rates == pytest.approx([recipe.training.learning_rate_at(step - 1, 6) for step in (2, 4, 6)])
    assert rates[0] == recipe.training.learning_rate and rates[-1] < rates[1] < rates[0]


def test_tagger_ships_the_moving_average_of_its_weights(tiny_run, tmp_path: Path) -> None:
    """With tagger_ema_decay d the checkpointed tagger after steps 1, 2 is w1, then d*w1 + (1-d)*w2 (w: trained
    weights, kept for resuming); the separator is unaffected."""
    import shutil

    from export.distill import TRAINED_WEIGHTS, train_student

    tiny = load_recipe(TINY_RECIPE)
    recipe = dataclasses.replace(
        tiny, training=dataclasses.replace(tiny.training, tagger_ema_decay=0.75, validate_every_steps=1)
    ).with_out_dir(tmp_path / "out")
    shutil.copytree(tiny_run.out / "data", recipe.out / "data")
    shutil.copytree(tiny_run.out / "cache", recipe.out / "cache")
    path = recipe.out / "checkpoints" / "last-tagger.pt"
    train_student(recipe, "tagger", steps=1, resume=False)
    first = torch.load(path, weights_only=False)
    train_student(recipe, "tagger", steps=2, resume=True)
    second = torch.load(path, weights_only=False)
    assert first["n_averaged"] == 1 and second["n_averaged"] == 2
    w1, w2 = first[TRAINED_WEIGHTS], second[TRAINED_WEIGHTS]
    n_moved = 0
    for name, tensor in w1.items():
        if not tensor.is_floating_point():
            continue
        torch.testing.assert_close(first["tagger"][name], tensor, msg=name)
        torch.testing.assert_close(second["tagger"][name], 0.75 * tensor + 0.25 * w2[name], msg=name)
        n_moved += int(not torch.equal(w2[name], tensor))
    assert n_moved > 10, "the second step changed (almost) no weight, so the test proves nothing"
    separator = train_student(recipe, "separator", steps=1, resume=False)
    assert separator["step"] == 1
    assert TRAINED_WEIGHTS not in torch.load(recipe.out / "checkpoints" / "last-separator.pt", weights_only=False)


def test_unknown_student_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["export", "distill", str(TINY_RECIPE), "--out", str(tmp_path), "--student", "drummer"]
    )
    assert result.exit_code == 1
    assert "'drummer' unknown" in str(result.exception)


def test_learning_rate_schedule_is_constant_then_cosine() -> None:
    training = dataclasses.replace(
        load_recipe(TINY_RECIPE).training, learning_rate=1e-3, decay_fraction=0.25, final_learning_rate_fraction=0.1
    )
    rates = [training.learning_rate_at(step, 100) for step in range(100)]
    assert rates[:75] == [1e-3] * 75
    assert all(later < earlier for earlier, later in zip(rates[75:], rates[76:]))
    assert rates[-1] == pytest.approx(1e-4)
    assert dataclasses.replace(training, decay_fraction=0.0).learning_rate_at(99, 100) == 1e-3


def test_ddp_trains_both_students_under_torchrun(tiny_run, tmp_path: Path) -> None:
    """Two gloo ranks on CPU: one process group serves both students (re-initialising it per student hung)."""
    import shutil
    import subprocess
    import sys

    out = tmp_path / "ddp"
    shutil.copytree(tiny_run.out / "data", out / "data")
    shutil.copytree(tiny_run.out / "cache", out / "cache")
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node",
            "2",
            "-m",
            "edge.cli",
            "export",
            "distill",
            str(TINY_RECIPE),
            "--out",
            str(out),
            "--steps",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for student in ("separator", "tagger"):
        assert torch.load(out / "checkpoints" / f"last-{student}.pt", weights_only=False)["step"] == 2


def test_alert_finetune_writes_a_tagger_checkpoint_the_export_reads(tiny_run, tmp_path: Path) -> None:
    """The alert fine-tune on the tiny run's pack and data, with hard negatives, YAMNet distillation and --init:
    it writes the recipe's tagger checkpoints (what export reads), keeps the weights' layout, and moves them."""
    import shutil

    from export.alert_finetune import AlertFinetuneSettings, finetune_alerts, training_backgrounds
    from export.distill import load_students

    recipe = load_recipe(TINY_RECIPE).with_out_dir(tmp_path / "alerts")
    shutil.copytree(tiny_run.out / "data", recipe.out / "data")
    shutil.copytree(tiny_run.out / "cache", recipe.out / "cache")
    music, speech = training_backgrounds(recipe, n_music=2, n_speech=2)
    settings = AlertFinetuneSettings(
        n_variants_per_family=1,
        n_music_clips=4,
        n_other_clips=3,
        steps=3,
        batch_size=6,
        hard_negative_fraction=0.5,
        mine_every_steps=2,
        distill_fraction=0.34,
    )
    messages: list[str] = []
    first = finetune_alerts(recipe, tiny_run.pack, music, speech, settings, messages.append)
    state = torch.load(first, weights_only=False)
    assert state["step"] == 3 and state["alert_finetune"]["settings"]["distill_fraction"] == 0.34
    assert any("hard negative windows" in m for m in messages) and any("tagger training clips" in m for m in messages)
    start = load_students(recipe).tagger.state_dict()  # the checkpoint just written, as export reads it
    for name, tensor in state["tagger"].items():
        torch.testing.assert_close(start[name], tensor)
    saved = tmp_path / "first.pt"
    shutil.copy(first, saved)
    finetune_alerts(recipe, tiny_run.pack, music, speech, settings, init=saved)
    again = torch.load(first, weights_only=False)
    assert again["alert_finetune"]["init"] == str(saved)
    assert any(
        not torch.equal(again["tagger"][name], tensor)
        for name, tensor in state["tagger"].items()
        if tensor.is_floating_point()
    )


def test_separator_checkpoint_is_picked_by_out_of_source_sdr_when_asked(tiny_run, tmp_path: Path) -> None:
    """select_separator_by = "sdr": each validation reports the SDR per stem on the whole validation songs, the best
    checkpoint is the step with the highest out-of-source mean, and it equals an SDR computed from the checkpoint."""
    import shutil

    from export.distill import distill
    from export.separator_validation import VALIDATION_SETS, songs_sdr_db, validation_songs

    recipe_path = tmp_path / "sdr.toml"
    recipe_path.write_text(TINY_RECIPE.read_text().replace("[training]", '[training]\nselect_separator_by = "sdr"'))
    recipe = load_recipe(recipe_path).with_out_dir(tmp_path / "out")
    shutil.copytree(tiny_run.out / "data", recipe.out / "data")
    shutil.copytree(tiny_run.out / "cache", recipe.out / "cache")
    distill(recipe, steps=6, resume=False, students=("separator",))
    best = torch.load(recipe.out / "checkpoints" / "best-separator.pt", weights_only=False)
    history = torch.load(recipe.out / "checkpoints" / "last-separator.pt", weights_only=False)["history"]
    means = [h["separator_val_oos_sdr_db"] for h in history]
    assert [h["step"] for h in history][0] == 2 and all("separator_val_in_sdr_db_drums" in h for h in history)
    assert all("separator_val_gen_sdr_db" in h for h in history)  # the generator's songs: logged, not choosing
    assert best["best"] == pytest.approx(-max(means))
    assert best["step"] == history[int(np.argmax(means))]["step"]
    from export.distill import make_separator
    from export.students.band_split import HeldMasks

    model = make_separator(recipe).eval()
    model.load_state_dict(best["separator"])
    songs = validation_songs(recipe, VALIDATION_SETS["out-of-source"])
    by_stem = songs_sdr_db(HeldMasks(model, recipe.separator.every_n_hops), songs, tuple(recipe.separator.stems))
    assert float(np.mean(list(by_stem.values()))) == pytest.approx(-best["best"], abs=1e-4)
    generator = [p.name for p in (recipe.out / "data" / "separator").glob("val-[0-9]*.npz")]
    assert generator and all("varied" not in name for name in generator)
    entry = next(h for h in history if h["step"] == best["step"])
    by_stem = songs_sdr_db(
        HeldMasks(model, recipe.separator.every_n_hops),
        validation_songs(recipe, "", "val-[0-9]*.npz"),
        tuple(recipe.separator.stems),
    )
    assert float(np.mean(list(by_stem.values()))) == pytest.approx(entry["separator_val_gen_sdr_db"], abs=1e-4)


def test_separator_warm_starts_from_the_first_blocks_of_a_deeper_checkpoint(tmp_path: Path) -> None:
    """init_from_checkpoint takes every parameter whose name and shape fit: a 4-block separator from sense-default
    1.1.0's 8-block checkpoint (older conv layout) computes what the 8-block model's first four blocks compute."""
    from export.distill import make_separator, warm_start_from_checkpoint

    checkpoint = REPO / "recipes" / "checkpoints" / "default-1.1.0" / "last-separator.pt"
    default = load_recipe(DEFAULT_RECIPE)

    def with_dilations(dilations: tuple[int, ...]) -> torch.nn.Module:
        separator = dataclasses.replace(default.separator, dilations=dilations, kernel_frames=3)  # 1.1.0's 3 taps
        recipe = dataclasses.replace(default, separator=separator)
        return make_separator(recipe).eval()

    deep = with_dilations((1, 2, 4, 8, 1, 2, 4, 8))
    deep.load_state_dict(torch.load(checkpoint, weights_only=False)["separator"])
    shallow = with_dilations((1, 2, 4, 8))
    fresh, unused = warm_start_from_checkpoint(shallow, checkpoint)
    assert fresh == []  # the checkpoint holds an onset branch of the same shape too
    assert {name.split(".")[1] for name in unused} == {"4", "5", "6", "7"}
    deep.temporal, deep.cross_band = deep.temporal[:4], deep.cross_band[:4]
    magnitude = torch.rand(1, 40, N_BINS) * 3
    with torch.no_grad():
        expected = deep(magnitude, *deep.initial_states(1))[0]
        got = shallow(magnitude, *shallow.initial_states(1))[0]
    torch.testing.assert_close(got, expected)
    with pytest.raises(ConfigError, match="not found"):
        warm_start_from_checkpoint(shallow, tmp_path / "missing.pt")
    torch.save({"tagger": {}}, tmp_path / "tagger.pt")
    with pytest.raises(ConfigError, match="holds no 'separator' weights"):
        warm_start_from_checkpoint(shallow, tmp_path / "tagger.pt")


def test_generator_songs_are_drawn_by_their_weight() -> None:
    """generator_song_weight w: each generator song is drawn w times as often as one varied song."""
    from export.distill import SeparatorBatches, SeparatorData, SeparatorSong

    songs = [SeparatorSong(np.zeros((4, 10), np.float32), generator=i < 2) for i in range(10)]  # 2 of 10 generator
    for weight, expected in ((1.0, 0.2), (4.0, 0.5)):
        recipe = parse_recipe({"name": "x", "training": {"generator_song_weight": weight}}, "test.toml")
        batches = SeparatorBatches(SeparatorData(songs, []), recipe, np.random.default_rng(0))
        drawn = [batches._pick_song().generator for _ in range(4000)]
        assert np.mean(drawn) == pytest.approx(expected, abs=0.03)


def test_self_distillation_adds_the_distance_to_the_teacher_separators_stem_estimates(tiny_run, tmp_path: Path) -> None:
    """[training] teacher_checkpoint: the loss gains teacher_weight x the stem loss against the teacher's estimates of
    the same batch: nothing when the teacher is the student itself, more when it is another separator; a checkpoint
    that is missing, holds no separator or does not fit the teacher recipe's separator is refused by name."""
    from export.distill import SeparatorTask, load_teacher_separator, make_separator

    base = load_recipe(TINY_RECIPE).with_out_dir(tiny_run.out)
    torch.manual_seed(0)
    student = make_separator(base)
    other = make_separator(base)
    torch.save({"separator": student.state_dict()}, tmp_path / "same.pt")
    torch.save({"separator": other.state_dict()}, tmp_path / "other.pt")

    def loss_with(checkpoint: str, weight: float) -> float:
        training = dataclasses.replace(
            base.training,
            teacher_checkpoint=checkpoint,
            teacher_recipe=str(TINY_RECIPE) if checkpoint else "",
            teacher_weight=weight,
        )
        task = SeparatorTask(dataclasses.replace(base, training=training), np.random.default_rng(3))
        with torch.no_grad():
            return float(task.loss(student, student, torch.device("cpu")))

    plain = loss_with("", 0.0)
    assert loss_with(str(tmp_path / "same.pt"), 1.0) == pytest.approx(plain, rel=1e-6)
    assert loss_with(str(tmp_path / "other.pt"), 1.0) > plain + 1e-4
    teacher = load_teacher_separator(
        dataclasses.replace(
            base,
            training=dataclasses.replace(
                base.training,
                teacher_checkpoint=str(tmp_path / "other.pt"),
                teacher_recipe=str(TINY_RECIPE),
                teacher_weight=1.0,
            ),
        )
    )
    assert not any(parameter.requires_grad for parameter in teacher.parameters())

    def refused(checkpoint: Path, match: str) -> None:
        training = dataclasses.replace(
            base.training, teacher_checkpoint=str(checkpoint), teacher_recipe=str(TINY_RECIPE), teacher_weight=1.0
        )
        with pytest.raises(ConfigError, match=match):
            load_teacher_separator(dataclasses.replace(base, training=training))

    refused(tmp_path / "missing.pt", "teacher_checkpoint: .*missing.pt not found")
    torch.save({"tagger": {}}, tmp_path / "tagger.pt")
    refused(tmp_path / "tagger.pt", "holds no 'separator' weights")
    torch.save({"separator": {"encoders.0.weight": torch.zeros(1)}}, tmp_path / "wrong-shape.pt")
    refused(tmp_path / "wrong-shape.pt", "does not fit .*size mismatch for encoders.0.weight")
    torch.save({"separator": {"encoders.0.bias": student.state_dict()["encoders.0.bias"]}}, tmp_path / "partial.pt")
    refused(tmp_path / "partial.pt", "does not fit .*missing cross_band.0")
