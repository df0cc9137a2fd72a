"""``sense export …``: workstation commands (attached only when the export extra is installed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from export.recipe import Recipe

export_app = typer.Typer(help="Build, export, quantize and pack models (needs the export extra).", no_args_is_help=True)


@export_app.command("tiny-pack")
def tiny_pack_command(
    out: Annotated[Path, typer.Argument(help="Directory to write the pack into (replaced if it exists).")],
    seed: Annotated[int, typer.Option(help="Random seed of the untrained weights.")] = 0,
    no_tflite: Annotated[bool, typer.Option("--no-tflite", help="Skip the TFLite artifacts.")] = False,
) -> None:
    """Build the tiny untrained test pack (ONNX + TFLite, fp32 + int8) with a full manifest and parity metrics."""
    from rich.console import Console

    from export.tiny_pack import build_tiny_pack

    console = Console()
    with console.status("building tiny pack") as status:
        pack = build_tiny_pack(out, seed=seed, with_tflite=not no_tflite, progress=lambda step: status.update(step))
    console.print(f"wrote {pack.name} {pack.version} to {out}")
    for metric in pack.manifest["metrics"]:
        console.print(f"  {metric['name']}: {metric['value']:.3g}", highlight=False)


@export_app.command("evaluate")
def evaluate_command(
    pack_path: Annotated[Path, typer.Argument(metavar="PACK", help="Pack directory (or .zip with --no-write).")],
    report: Annotated[Path | None, typer.Option(help="Also write the report here: .md (Markdown) or .json.")] = None,
    songs: Annotated[
        int,
        typer.Option(
            min=1,
            help="Out-of-source songs to render and score (every stem from a held-out source: the headline numbers).",
        ),
    ] = 8,
    in_source_songs: Annotated[
        int,
        typer.Option(
            min=0,
            help="In-source songs (training generator and soundfont, held-out seeds), reported beside the headline.",
        ),
    ] = 4,
    sections: Annotated[int, typer.Option(min=1, max=5, help="Two-bar sections per in-source song.")] = 5,
    no_spleeter: Annotated[bool, typer.Option("--no-spleeter", help="Skip the Spleeter 2-stem teacher.")] = False,
    no_tagging: Annotated[bool, typer.Option("--no-tagging", help="Skip tagging mAP against YAMNet.")] = False,
    no_references: Annotated[
        bool, typer.Option("--no-references", help="Skip the DSP baseline and ideal mask.")
    ] = False,
    events: Annotated[
        int, typer.Option(min=0, help="Held-out synthetic events of each kind for tagging (alone and over songs).")
    ] = 4,
    with_samples: Annotated[
        bool, typer.Option("--with-samples", help="Add the reserved Sonic Pi samples to tagging.")
    ] = False,
    alerts: Annotated[
        int,
        typer.Option(
            min=0,
            help="Held-out alerts per class for alert recall and false alarms, "
            "per material (out-of-source family and in-source family).",
        ),
    ] = 8,
    no_write: Annotated[bool, typer.Option("--no-write", help="Don't write the metrics into the pack.")] = False,
) -> None:
    """Score PACK on held-out material: SDR/SI-SDR per stem (pack fp32/int8, DSP baseline, ideal mask, Spleeter)
    and tagging mAP against YAMNet; write the numbers into the pack's manifest and model card."""
    from rich.console import Console

    from edge.pack import load_pack
    from export.evaluate.evaluation import EvaluationSettings, check_report_path, evaluate_pack, write_evaluation

    check_report_path(report)
    console = Console()
    settings = EvaluationSettings(
        n_songs=songs,
        n_in_source_songs=in_source_songs,
        n_sections=sections,
        with_references=not no_references,
        with_spleeter=not no_spleeter,
        with_tagging=not no_tagging,
        with_samples=with_samples,
        n_events_per_kind=events,
        n_alerts_per_class=alerts,
    )
    pack = load_pack(pack_path)
    with console.status("evaluating") as status:
        evaluation = evaluate_pack(pack, settings, str(pack_path), progress=lambda step: status.update(step))
    console.print(evaluation.to_markdown(), highlight=False, markup=False)
    write_evaluation(evaluation, pack, report, into_pack=not no_write)
    console.print(
        f"metrics {'written into ' + str(pack_path) if not no_write else 'not written (--no-write)'}"
        + (f"; report in {report}" if report else "")
    )


@export_app.command("verify")
def verify_command(
    pack_path: Annotated[Path, typer.Argument(metavar="PACK", help="Pack directory (or .zip with --no-write).")],
    audio: Annotated[Path | None, typer.Option(help="Sound file to check on (default: the bundled example).")] = None,
    no_write: Annotated[bool, typer.Option("--no-write", help="Don't write the metrics into the pack.")] = False,
) -> None:
    """Torch-free parity of PACK's artifacts as the runtime runs them: ONNX vs TFLite vs int8, streaming vs offline.
    Exits 1 when a check misses its threshold."""
    from rich.console import Console

    from edge.pack import load_pack
    from export.evaluate.pack_parity import verify_and_record

    console = Console()
    report = verify_and_record(load_pack(pack_path), audio, str(pack_path), write=not no_write)
    for check in report.checks:
        bound = "" if check.threshold is None else f" ({'>=' if check.higher_is_better else '<='} {check.threshold:g})"
        mark = "[green]ok[/]" if check.passed else "[bold red]FAIL[/]"
        console.print(f"{mark} {check.name}: {check.value:.4g}{bound}", highlight=False)
    if report.failures:
        console.print(f"[bold red]{len(report.failures)} parity check(s) failed[/]")
        raise typer.Exit(1)


RecipeArgument = Annotated[Path, typer.Argument(help="Recipe TOML file (see recipes/).")]
OutOption = Annotated[Optional[Path], typer.Option("--out", help="Override the recipe's out_dir.")]


def _recipe(path: Path, out: Optional[Path]) -> "Recipe":
    from export.recipe import load_recipe

    recipe = load_recipe(path)
    return recipe.with_out_dir(out) if out is not None else recipe


def _run_stage(stage: Any, recipe: Any, title: str) -> tuple[Any, Any]:
    """Run a recipe stage under a status line that shows its progress messages; return (console, its result)."""
    from rich.console import Console

    console = Console()
    with console.status(title) as status:
        result = stage(recipe, progress=lambda message: status.update(message))
    return console, result


def _write_files_stage(stage: Any, recipe: Any, title: str) -> None:
    """Run a recipe stage that writes files and list what it wrote."""
    console, written = _run_stage(stage, recipe, title)
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)


@export_app.command("render-data")
def render_data_command(recipe_path: RecipeArgument, out: OutOption = None) -> None:
    """Render/collect the recipe's training audio into <out>/data (unreadable files are skipped and counted)."""
    from export.data.training_sets import render_data

    recipe = _recipe(recipe_path, out)
    console, report = _run_stage(render_data, recipe, "rendering data")
    console.print(
        f"data in {recipe.out / 'data'}: {report.get('separator_files', 0)} separator files, "
        f"{report.get('real_mixtures', 0)} real mixtures, {report.get('tagger_clips', 0)} tagger clips; "
        f"{report['n_skipped']} skipped",
        highlight=False,
    )


@export_app.command("cache-teachers")
def cache_teachers_command(recipe_path: RecipeArgument, out: OutOption = None) -> None:
    """Run the teachers (Spleeter, YAMNet) once over the rendered data and cache their outputs."""
    from export.distill import cache_teachers

    from export.evaluate.tagging import MIN_POSITIVES_TO_SCORE

    recipe = _recipe(recipe_path, out)
    console, report = _run_stage(cache_teachers, recipe, "running teachers")
    console.print(f"teacher cache {recipe.cache_dir}: {report.n_computed} computed, {report.n_cached} already cached")
    if report.label_positives:
        console.print(
            "tagger windows YAMNet gives each label (> 0.5): "
            + ", ".join(f"{label} {count}" for label, count in report.label_positives.items()),
            highlight=False,
        )
        scarce = [label for label, count in report.label_positives.items() if count < MIN_POSITIVES_TO_SCORE]
        if scarce:
            console.print(
                f"[yellow]fewer than {MIN_POSITIVES_TO_SCORE} in the data, so the tagger can hardly learn "
                f"them: {', '.join(scarce)}[/yellow]"
            )


@export_app.command("distill")
def distill_command(
    recipe_path: RecipeArgument,
    out: OutOption = None,
    student: Annotated[
        Optional[list[str]],
        typer.Option(
            help="Train only this student (separator or tagger; repeatable). Default: both, one after the other. "
            "Students are independent, so two shells may train one each."
        ),
    ] = None,
    steps: Annotated[Optional[int], typer.Option(help="Train to this many steps instead of the recipe's.")] = None,
    no_resume: Annotated[
        bool, typer.Option("--no-resume", help="Start from scratch even if a checkpoint exists.")
    ] = False,
) -> None:
    """Distil the students (rich progress bar, checkpoints, resume; DDP under torchrun)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from export.distill import STUDENTS, check_student, distill

    recipe = _recipe(recipe_path, out)
    students = tuple(check_student(name) for name in student) if student else STUDENTS
    console = Console()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[numbers]}"),
        console=console,
    ) as bar:
        tasks = {
            name: bar.add_task(
                name, total=steps if steps is not None else recipe.training.student_steps(name), numbers=""
            )
            for name in students
        }

        def on_step(name: str, step: int, total_steps: int, numbers: dict[str, float]) -> None:
            bar.update(
                tasks[name],
                completed=step,
                numbers=" ".join(f"{k} {v:.3f}" for k, v in sorted(numbers.items()) if k.endswith("loss")),
            )

        result = distill(
            recipe, steps=steps, resume=not no_resume, progress=on_step, log=console.print, students=students
        )
    console.print(
        f"checkpoints in {recipe.out / 'checkpoints'}; "
        + ", ".join(f"{name} step {numbers['step']}" for name, numbers in result.items()),
        highlight=False,
    )


VariantsOption = Annotated[int, typer.Option(min=1, help="Alert clips per class, training family and condition.")]
MusicClipsOption = Annotated[int, typer.Option(min=0, help="Music clips without alerts (every alert label 0).")]
MusicSongsOption = Annotated[int, typer.Option(min=1, help="Training songs the music (and the beds) come from.")]
OtherClipsOption = Annotated[
    int, typer.Option(min=0, help="Clips without alerts besides music: speech, speech over music, noise.")
]
"""Options of the alert commands (alert-head, alert-finetune): what their clips are made of."""


def _batch_share(what: str) -> typer.models.OptionInfo:
    return typer.Option(min=0.0, max=1.0, help=f"Share of each batch from {what}.")


@export_app.command("alert-head")
def alert_head_command(
    recipe_path: RecipeArgument,
    out: OutOption = None,
    pack: Annotated[
        Optional[Path], typer.Option(help="The pack whose tagger to read (default: the bundled sense-default).")
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimisation steps of the head.")] = 4000,
    variants: VariantsOption = 30,
    music_clips: MusicClipsOption = 1500,
    music_songs: MusicSongsOption = 240,
    other_clips: OtherClipsOption = 600,
    false_alarms: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of held-back training windows without alerts allowed at the on-threshold, per alert.",
        ),
    ] = 0.001,
) -> None:
    """Train a dedicated alert head (siren, alarm, doorbell, telephone, knock) on the pack's frozen tagger
    features from the ground truth of synthesised alert families, calibrated on held-back training clips; the
    tagger's other labels stay as they are. Needs [tagger] alert_head in the recipe; writes its tagger checkpoints."""
    from rich.console import Console

    from edge.errors import ConfigError
    from edge.pack import load_pack
    from export.alert_finetune import training_backgrounds
    from export.alert_head import AlertHeadSettings, train_alert_head

    recipe = _recipe(recipe_path, out)
    if not recipe.tagger.alert_head:
        raise ConfigError(f"recipe {recipe.source}: [tagger] alert_head is empty; name the alert labels it predicts")
    console = Console()
    music, speech = training_backgrounds(recipe, n_music=music_songs)
    path = train_alert_head(
        recipe,
        load_pack(pack),
        music,
        speech,
        AlertHeadSettings(
            n_variants_per_family=variants,
            n_music_clips=music_clips,
            n_other_clips=other_clips,
            steps=steps,
            false_alarm_quantile=false_alarms,
        ),
        progress=lambda message: console.log(message),
    )
    console.print(f"wrote {path}", highlight=False)


@export_app.command("alert-finetune")
def alert_finetune_command(
    recipe_path: RecipeArgument,
    out: OutOption = None,
    pack: Annotated[
        Optional[Path], typer.Option(help="The pack whose tagger to start from (default: the bundled sense-default).")
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimisation steps.")] = 6000,
    variants: VariantsOption = 30,
    music_clips: MusicClipsOption = 1500,
    music_songs: MusicSongsOption = 240,
    other_clips: OtherClipsOption = 600,
    hard_negatives: Annotated[
        float, _batch_share("mined hard negatives (windows without alerts the model fires on)")
    ] = 0.0,
    distill: Annotated[
        float, _batch_share("the recipe's tagger training clips with YAMNet targets (alerts unscored)")
    ] = 0.0,
    init: Annotated[
        Optional[Path],
        typer.Option(help="Start from this tagger checkpoint (an earlier alert fine-tune) instead of the pack's."),
    ] = None,
) -> None:
    """Teach the tagger alerts (siren, alarm, doorbell, telephone, knock) from the ground truth of synthesised
    alert families, keeping its other labels by self-distillation; writes the recipe's tagger checkpoints."""
    from rich.console import Console

    from edge.pack import load_pack
    from export.alert_finetune import AlertFinetuneSettings, finetune_alerts, training_backgrounds

    recipe = _recipe(recipe_path, out)
    console = Console()
    music, speech = training_backgrounds(recipe, n_music=music_songs)
    path = finetune_alerts(
        recipe,
        load_pack(pack),
        music,
        speech,
        AlertFinetuneSettings(
            n_variants_per_family=variants,
            n_music_clips=music_clips,
            n_other_clips=other_clips,
            steps=steps,
            hard_negative_fraction=hard_negatives,
            distill_fraction=distill,
        ),
        progress=lambda message: console.log(message),
        init=init,
    )
    console.print(f"wrote {path}", highlight=False)


@export_app.command("train-onsets")
def train_onsets_command(
    recipe_path: RecipeArgument,
    out: OutOption = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimisation steps.")] = 3000,
) -> None:
    """Train the separator's drum-onset branch on its own (varied songs' exact hit times; best out-of-source
    validation F kept in <out>/checkpoints/onset-branch.pt, which export/quantize/pack ship with the separator)."""
    from rich.console import Console

    from export.onset_training import train_onset_branch

    console = Console()
    best = train_onset_branch(_recipe(recipe_path, out), steps, progress=lambda message: console.log(message))
    console.print("best: " + ", ".join(f"{k} {v:.4g}" for k, v in best.items()), highlight=False)


@export_app.command("prior-weights")
def prior_weights_command(
    recipe_path: RecipeArgument,
    out: OutOption = None,
    markdown: Annotated[
        Optional[Path], typer.Option(help="Also write the grid and the recipe line to this Markdown file.")
    ] = None,
) -> None:
    """Choose the separator's stem-prior weights on the validation songs (out-of-source and in-source; never the
    evaluation songs): SDR per stem for a grid of weights, with the separator checkpoint the export ships. Prints
    the grid and the `prior_weights` line to put in the recipe's separator section."""
    from rich.console import Console
    from rich.progress import Progress

    from export.prior_weights import grid_markdown, prior_weight_grid, recipe_line, write_grid

    recipe = _recipe(recipe_path, out)
    console = Console()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("stem prior", total=None)
        grid = prior_weight_grid(recipe, progress=lambda message: bar.update(task, description=message))
    console.print(grid_markdown(grid), highlight=False, markup=False, soft_wrap=True)
    console.print(recipe_line(grid), highlight=False, markup=False)
    if markdown is not None:
        write_grid(grid, markdown)


@export_app.command("export")
def export_command(recipe_path: RecipeArgument, out: OutOption = None) -> None:
    """Export the best checkpoints to fp32 ONNX (step function, explicit state) and TFLite into <out>/pack."""
    from export.recipe_run import export_stage

    _write_files_stage(export_stage, _recipe(recipe_path, out), "exporting")


@export_app.command("quantize")
def quantize_command(recipe_path: RecipeArgument, out: OutOption = None) -> None:
    """int8 ONNX (static QDQ, Conv/MatMul/Gemm, float state) and int8 TFLite, calibrated on rendered audio."""
    from export.recipe_run import quantize_stage

    _write_files_stage(quantize_stage, _recipe(recipe_path, out), "quantizing")


@export_app.command("pack")
def pack_command(recipe_path: RecipeArgument, out: OutOption = None) -> None:
    """Write and validate the manifest and model card of <out>/pack."""
    from export.recipe_run import pack_stage

    recipe = _recipe(recipe_path, out)
    pack = pack_stage(recipe)
    typer.echo(f"wrote {pack.name} {pack.version} to {pack.root}")


@export_app.command("verify-recipe")
def verify_recipe_command(recipe_path: RecipeArgument, out: OutOption = None) -> None:
    """Parity of every artifact of a recipe's pack vs its PyTorch students (streamed through the edge runtime);
    the metrics go into the pack. (`sense export verify PACK` checks a finished pack without torch.)"""
    from export.recipe_run import verify_stage

    recipe = _recipe(recipe_path, out)
    console, metrics = _run_stage(verify_stage, recipe, "verifying")
    for metric in metrics:
        console.print(f"  {metric['name']}: {metric['value']:.4g}", highlight=False)


@export_app.command("recipe")
def recipe_command(
    recipe_path: RecipeArgument,
    out: OutOption = None,
    no_resume: Annotated[bool, typer.Option("--no-resume", help="Start training from scratch.")] = False,
) -> None:
    """Run a whole recipe end to end (render-data, cache-teachers, distill, export, quantize, pack, verify)."""
    from rich.console import Console

    from export.recipe_run import run_recipe

    recipe = _recipe(recipe_path, out)
    console = Console()
    pack = run_recipe(recipe, progress=lambda message: console.log(message), resume=not no_resume)
    console.print(f"wrote {pack.name} {pack.version} to {pack.root}", highlight=False)
    for metric in pack.manifest["metrics"]:
        console.print(f"  {metric['name']}: {metric['value']:.4g}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
