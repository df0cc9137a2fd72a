"""Evaluate a model pack on the held-out material and report it (Markdown, JSON, manifest metrics).

Separation: the pack's separator on every runtime and precision it ships, the DSP baseline, the ideal ratio mask
(upper bound) and the Spleeter 2-stem teacher, all scored with SDR / SI-SDR per stem. Tagging: the pack's tagger on
every artifact against YAMNet's labels (mAP), with both models' parameters and MACs per second.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edge.errors import ConfigError
from edge.pack import Pack
from edge.runners import importable_runtimes
from export.evaluate.heldout import (
    DEFAULT_N_SECTIONS,
    HELDOUT_SAMPLE_FILES,
    HELDOUT_SEED_START,
    OUT_OF_SOURCE_BARS,
    Piece,
    heldout_songs,
    heldout_tagging_pieces,
    out_of_source_songs,
)
from export.data.alert_sounds import ALERT_CLASSES
from export.data.source_holdout import HELDOUT_SOURCES
from export.evaluate.alerts import (
    ALERT_WINDOW_S,
    RENDER_DECISION,
    NOT_MEASURABLE,
    AlertScores,
    heldout_alerts,
    score_alerts,
    THEME_MATERIAL,
    theme_alerts,
)
from export.evaluate.pack_metrics import write_metrics_into_pack
from export.evaluate.separation import MethodScores, Method, score_methods
from export.evaluate.separators import PackSeparator, dsp_baseline_separate, ideal_ratio_mask_separate, stft_settings_of
from export.evaluate.tagging import (
    MIN_POSITIVES_TO_SCORE,
    TEACHER_POSITIVE_THRESHOLD,
    ComputeCost,
    PackTagger,
    TaggingScores,
    pack_tagger_compute,
    score_tagging,
    student_at_teacher_windows,
    teacher_targets,
    yamnet_compute,
)

DSP_BASELINE = "DSP baseline (HPSS + bands)"
IDEAL_RATIO_MASK = "ideal ratio mask (upper bound)"
SPLEETER = "Spleeter 2-stem (teacher)"
STEM_ORDER = ("vocals", "drums", "bass", "other", "accompaniment")
FOUR_STEMS = ("vocals", "drums", "bass", "other")
TARGET_ABOVE_BASELINE_DB = 3.0
TARGET_VOCALS_WITHIN_SPLEETER_DB = 2.0
TARGET_INT8_LOSS_DB = 0.3
TARGET_MAP = 0.6
TARGET_COMPUTE_RATIO = 0.5
TARGET_ALERT_RECALL = 0.9
TARGET_FALSE_ALARMS_PER_HOUR = 1.0


@dataclass(frozen=True)
class EvaluationSettings:
    n_songs: int = 8
    """Out-of-source songs (the headline)."""
    n_in_source_songs: int = 4
    """In-source songs (the training generator and soundfont, held-out seeds), reported beside it."""
    n_sections: int = DEFAULT_N_SECTIONS
    runtimes: tuple[str, ...] = ("onnx", "litert")
    precisions: tuple[str, ...] = ("fp32", "int8")
    with_references: bool = True
    """The DSP baseline and the ideal ratio mask."""
    with_spleeter: bool = True
    with_tagging: bool = True
    n_speech: int = 4
    n_events_per_kind: int = 4
    n_alerts_per_class: int = 8
    """Held-out alerts per class and material for the alert recall (0 skips it)."""
    """Held-out synthetic events of each kind, alone and over the songs."""
    with_samples: bool = False
    """Add the reserved Sonic Pi samples to the tagging material: only valid once training skips them
    (``export.evaluate.heldout.is_heldout_sample``)."""
    n_threads: int = 1

    def command(self, pack: str) -> str:
        parts = [
            f"sense export evaluate {pack} --songs {self.n_songs} --in-source-songs {self.n_in_source_songs} "
            f"--sections {self.n_sections}"
        ]
        parts += [] if self.with_spleeter else ["--no-spleeter"]
        parts += [] if self.with_tagging else ["--no-tagging"]
        parts += [] if self.with_references else ["--no-references"]
        parts += [f"--events {self.n_events_per_kind}"] if self.with_tagging else []
        parts += ["--with-samples"] if self.with_samples else []
        parts += [f"--alerts {self.n_alerts_per_class}"] if self.with_tagging else []
        return " ".join(parts)

    def heldout_description(self) -> str:
        text = (
            f"out-of-source: {self.n_songs} songs (held-out seeds, {OUT_OF_SOURCE_BARS} bars each, exact stems) whose "
            f"every stem comes from a source no training recipe may use ({', '.join(sorted(HELDOUT_SOURCES))}); "
            f"in-source, beside it: {self.n_in_source_songs} held-out generated songs (seeds {HELDOUT_SEED_START}.."
            f"{HELDOUT_SEED_START + self.n_in_source_songs - 1}, {self.n_sections} two-bar sections each, fluidsynth + "
            "FluidR3_GM, 16 kHz mono, exact stems)"
        )
        if self.with_tagging:
            text += (
                f"; tagging adds {self.n_speech} held-out espeak-ng sentences alone and over the songs, "
                f"{self.n_events_per_kind} held-out synthetic events of each kind (siren, alarm, doorbell, phone, "
                f"knock, claps) alone and over the songs"
                + (f" and the reserved Sonic Pi samples {', '.join(HELDOUT_SAMPLE_FILES)}" if self.with_samples else "")
            )
        return text


@dataclass
class Evaluation:
    pack_name: str
    pack_version: str
    command: str
    heldout: str
    separation: dict[str, MethodScores] = field(default_factory=dict)
    """The headline: out-of-source songs (every stem from a source training never used)."""
    separation_in_source: dict[str, MethodScores] = field(default_factory=dict)
    """Beside it, labelled: held-out seeds of the training generator and soundfont (in-source)."""
    tagging: dict[str, TaggingScores] = field(default_factory=dict)
    compute: list[ComputeCost] = field(default_factory=list)
    student_methods: list[str] = field(default_factory=list)
    """Names in ``separation`` that are the pack's own separator (the rest are references)."""
    alerts: dict[str, list[AlertScores]] = field(default_factory=dict)
    """Per material ('out-of-source' = the held-out alert family, 'in-source' = a training family): per class."""
    alerts_variant: str = ""

    # --- manifest metrics -------------------------------------------------------------------------------------
    def manifest_metrics(self) -> list[dict[str, Any]]:
        """Metrics for the pack manifest: name, value, command and the held-out data they were measured on."""
        metrics: list[dict[str, Any]] = []

        def add(name: str, value: float) -> None:
            if not math.isnan(value):
                metrics.append({"name": name, "value": float(value), "command": self.command, "data": self.heldout})

        for material, separation in (("", self.separation), ("in_source.", self.separation_in_source)):
            for method, scores in separation.items():
                prefix = material + method_key(method)
                for stem in scores.stems:
                    add(f"{prefix}.sdr_db.{stem}", scores.mean(stem, "sdr_db"))
                    add(f"{prefix}.si_sdr_db.{stem}", scores.mean(stem, "si_sdr_db"))
                if set(FOUR_STEMS) <= set(scores.stems):
                    add(f"{prefix}.sdr_db.mean", scores.mean_over_stems("sdr_db", FOUR_STEMS))
                    add(f"{prefix}.si_sdr_db.mean", scores.mean_over_stems("si_sdr_db", FOUR_STEMS))
        for variant, tagging in self.tagging.items():
            prefix = "tagger." + variant.replace(" ", ".")
            add(f"{prefix}.map_vs_yamnet", tagging.mean_average_precision)
            add(f"{prefix}.map_vs_yamnet_all_labels", tagging.map_all_labels)
            add(f"{prefix}.label_agreement_vs_yamnet", tagging.label_agreement)
        for material, scores in self.alerts.items():
            prefix = "alerts" if material == "out-of-source" else "in_source.alerts"
            for score in scores:
                for condition, recall in score.recall.items():
                    add(f"{prefix}.{score.label}.recall_within_1s.{condition.replace(' ', '_')}", recall)
                add(f"{prefix}.{score.label}.false_alarms_per_hour_of_music", score.false_alarms_per_hour)
        for cost in self.compute:
            key = "reference.yamnet" if cost.name.startswith("YAMNet") else "tagger"
            add(f"{key}.macs_per_second", cost.macs_per_second)
            add(f"{key}.n_parameters", cost.n_parameters)
        return metrics

    # --- report -----------------------------------------------------------------------------------------------
    def targets(self) -> list[tuple[str, str, str, bool | None]]:
        """(what, reached, target, met) for the issue's targets this evaluation ran; met is None where the value is
        NaN (e.g. no held-out piece had that stem)."""
        rows: list[tuple[str, str, str, bool | None]] = []
        fp32 = next((m for m in self.student_methods if m.endswith("fp32")), None)
        if fp32 and DSP_BASELINE in self.separation:
            student, baseline = self.separation[fp32], self.separation[DSP_BASELINE]
            for stem in FOUR_STEMS:
                gain = student.mean(stem, "sdr_db") - baseline.mean(stem, "sdr_db")
                rows.append(
                    (
                        f"out-of-source: {fp32} {stem} SDR minus DSP baseline",
                        f"{gain:+.2f} dB",
                        f">= +{TARGET_ABOVE_BASELINE_DB} dB",
                        gain >= TARGET_ABOVE_BASELINE_DB,
                    )
                )
        if fp32 and SPLEETER in self.separation:
            gap = self.separation[SPLEETER].mean("vocals", "sdr_db") - self.separation[fp32].mean("vocals", "sdr_db")
            rows.append(
                (
                    f"{fp32} vocals SDR below Spleeter",
                    f"{gap:.2f} dB",
                    f"<= {TARGET_VOCALS_WITHIN_SPLEETER_DB} dB",
                    gap <= TARGET_VOCALS_WITHIN_SPLEETER_DB,
                )
            )
        for int8 in (m for m in self.student_methods if m.endswith("int8")):
            reference = int8.replace("int8", "fp32")
            if reference in self.separation:
                loss = self.separation[reference].mean_over_stems("sdr_db", FOUR_STEMS) - self.separation[
                    int8
                ].mean_over_stems("sdr_db", FOUR_STEMS)
                rows.append(
                    (
                        f"{int8} SDR loss vs fp32",
                        f"{loss:.2f} dB",
                        f"<= {TARGET_INT8_LOSS_DB} dB",
                        loss <= TARGET_INT8_LOSS_DB,
                    )
                )
        tag_fp32 = next((v for v in self.tagging if v.endswith("fp32")), None)
        if tag_fp32:
            value = self.tagging[tag_fp32].mean_average_precision
            rows.append(
                (
                    f"tagger {tag_fp32} mAP vs YAMNet labels (labels with >= {MIN_POSITIVES_TO_SCORE} positives)",
                    f"{value:.3f}",
                    f">= {TARGET_MAP}",
                    value >= TARGET_MAP,
                )
            )
        for score in self.alerts.get("out-of-source", []):
            rows.append(
                (
                    f"out-of-source alerts: {score.label} recall within {ALERT_WINDOW_S:g} s (worst of alone / over "
                    "music / over speech)",
                    f"{score.worst_recall:.2f}",
                    f">= {TARGET_ALERT_RECALL}",
                    score.worst_recall >= TARGET_ALERT_RECALL,
                )
            )
            rows.append(
                (
                    f"alerts: {score.label} false alarms per hour of music",
                    f"{score.false_alarms_per_hour:.1f}",
                    f"<= {TARGET_FALSE_ALARMS_PER_HOUR:g}",
                    score.false_alarms_per_hour <= TARGET_FALSE_ALARMS_PER_HOUR,
                )
            )
        costs = {("yamnet" if c.name.startswith("YAMNet") else "student"): c for c in self.compute}
        if len(costs) == 2:
            ratio = costs["student"].macs_per_second / costs["yamnet"].macs_per_second
            rows.append(
                (
                    "tagger compute / YAMNet compute",
                    f"{ratio:.3f}",
                    f"<= {TARGET_COMPUTE_RATIO}",
                    ratio <= TARGET_COMPUTE_RATIO,
                )
            )
        return [(what, reached, target, None if "nan" in reached else met) for what, reached, target, met in rows]

    def to_markdown(self) -> str:
        lines = [
            f"# Evaluation of {self.pack_name} {self.pack_version}",
            "",
            f"Held-out material: {self.heldout}.",
            "",
            f"Command: `{self.command}`",
            "",
        ]
        for title, separation in (
            ("out-of-source songs (the headline)", self.separation),
            (
                "in-source songs (training generator and soundfont, held-out seeds; "
                "measures memorisation, not generalisation)",
                self.separation_in_source,
            ),
        ):
            if not separation:
                continue
            stems = [s for s in STEM_ORDER if any(s in m.stems for m in separation.values())]
            lines += [
                f"## Separation on {title}: SDR / SI-SDR (dB, mean over pieces; BSS Eval v3 SDR via fast_bss_eval)",
                "",
                "| method | " + " | ".join(stems) + " | mean of 4 stems |",
                "|---|" + "---|" * (len(stems) + 1),
            ]
            for name, scores in separation.items():
                cells = [
                    _pair(scores.mean(s, "sdr_db"), scores.mean(s, "si_sdr_db")) if s in scores.stems else "—"
                    for s in stems
                ]
                mean = (
                    _pair(scores.mean_over_stems("sdr_db", FOUR_STEMS), scores.mean_over_stems("si_sdr_db", FOUR_STEMS))
                    if set(FOUR_STEMS) <= set(scores.stems)
                    else "—"
                )
                lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean} |")
            lines.append("")
        if self.tagging or self.compute:
            lines += [
                f"## Tagging against YAMNet's labels (positive where YAMNet >= {TEACHER_POSITIVE_THRESHOLD})",
                "",
                f"mAP is over the labels with at least {MIN_POSITIVES_TO_SCORE} positive items; the mAP over every "
                "label with any positive (a label with 1-9 positives scores the rank of those few items) is "
                "beside it.",
                "",
                f"| model | mAP (labels with >= {MIN_POSITIVES_TO_SCORE} positives) | labels scored | "
                "mAP (every label with a positive) | items | label agreement |",
                "|---|---|---|---|---|---|",
            ]
            for variant, scores in self.tagging.items():
                lines.append(
                    f"| {self.pack_name} tagger {variant} | {scores.mean_average_precision:.3f} | "
                    f"{scores.n_labels_scored} | {scores.map_all_labels:.3f} ({len(scores.average_precision)}) | "
                    f"{scores.n_items} | {scores.label_agreement:.3f} |"
                )
            first = next(iter(self.tagging.items()), None)
            if first is not None:
                variant, scores = first
                lines += [
                    "",
                    f"Per label ({variant}): positives among the items, average precision.",
                    "",
                    "| label | positives | AP |",
                    "|---|---|---|",
                ]
                lines += [
                    f"| {label} | {scores.n_positives.get(label, 0)} | {ap:.3f} |"
                    for label, ap in sorted(
                        scores.average_precision.items(), key=lambda item: -scores.n_positives.get(item[0], 0)
                    )
                ]
            lines += ["", "| model | parameters | GMAC per second of audio | how counted |", "|---|---|---|---|"]
            for cost in self.compute:
                lines.append(
                    f"| {cost.name} | {cost.n_parameters:,} | {cost.macs_per_second / 1e9:.4f} | {cost.note} |"
                )
            lines.append("")
        for material, scores in self.alerts.items():
            lines += [
                f"## Alerts, {material} ({self.alerts_variant}; recall: the alert's preset switches on within "
                f"{ALERT_WINDOW_S:g} s of the alert's start, by the renderer's decision (smoothing "
                f"{RENDER_DECISION.smoothing_s:g} s, on above {RENDER_DECISION.on_threshold:g}, off below "
                f"{RENDER_DECISION.off_threshold:g}); false alarms: switch-ons per hour of music without alerts)",
                "",
                "| alert | events | alone | over music | over speech | false alarms / h of music |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {score.label} | {score.n_events} | "
                + " | ".join(
                    f"{score.recall[c]:.2f}" if c in score.recall else "—"
                    for c in ("alone", "over music", "over speech")
                )
                + f" | {score.false_alarms_per_hour:.1f} |"
                for score in scores
            ]
            scored = {score.label for score in scores}
            missing = [label for label in (*ALERT_CLASSES, *NOT_MEASURABLE) if label not in scored]
            lines += ["", f"Not measured (no offline material of this kind): {', '.join(missing)}.", ""]
        targets = self.targets()
        if targets:
            lines += [
                "## Targets (issues 7 and 15; separation targets on out-of-source songs)",
                "",
                "| what | reached | target | met |",
                "|---|---|---|---|",
            ]
            verdict = {True: "yes", False: "NO", None: "not measured"}
            lines += [f"| {what} | {reached} | {target} | {verdict[met]} |" for what, reached, target, met in targets]
            lines.append("")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pack": {"name": self.pack_name, "version": self.pack_version},
            "command": self.command,
            "heldout": self.heldout,
            "separation": _separation_dict(self.separation),
            "separation_in_source": _separation_dict(self.separation_in_source),
            "tagging": {
                variant: {
                    "map": s.mean_average_precision,
                    "n_labels_scored": s.n_labels_scored,
                    "min_positives_to_score": MIN_POSITIVES_TO_SCORE,
                    "map_all_labels": s.map_all_labels,
                    "n_items": s.n_items,
                    "label_agreement": s.label_agreement,
                    "average_precision": s.average_precision,
                    "n_positives": s.n_positives,
                }
                for variant, s in self.tagging.items()
            },
            "compute": [
                {"name": c.name, "n_parameters": c.n_parameters, "macs_per_second": c.macs_per_second, "note": c.note}
                for c in self.compute
            ],
            "alerts": {
                material: [
                    {
                        "label": a.label,
                        "n_events": a.n_events,
                        "recall": a.recall,
                        "false_alarms_per_hour": a.false_alarms_per_hour,
                    }
                    for a in scores
                ]
                for material, scores in self.alerts.items()
            },
            "targets": [{"what": w, "reached": r, "target": t, "met": m} for w, r, t, m in self.targets()],
        }


def _separation_dict(separation: dict[str, MethodScores]) -> dict[str, Any]:
    return {
        name: {stem: {metric: scores.mean(stem, metric) for metric in ("sdr_db", "si_sdr_db")} for stem in scores.stems}
        | {"n_pieces": len(scores.per_piece)}
        for name, scores in separation.items()
    }


def _pair(first: float, second: float) -> str:
    return f"{first:.2f} / {second:.2f}"


def method_key(method: str) -> str:
    """Manifest metric prefix of a method name: 'separator.onnx.fp32', 'reference.dsp_baseline', …"""
    fixed = {
        DSP_BASELINE: "reference.dsp_baseline",
        IDEAL_RATIO_MASK: "reference.ideal_ratio_mask",
        SPLEETER: "reference.spleeter",
    }
    return fixed.get(method, "separator." + method.replace(" ", "."))


def pack_variants(pack: Pack, role: str, settings: EvaluationSettings) -> list[tuple[str, str]]:
    """(runtime, precision) pairs the pack ships for the model of ``role``, among those asked for and importable."""
    spec = pack.separator if role == "separator" else pack.tagger
    if spec is None:
        return []
    importable = {runtime.value for runtime in importable_runtimes()}
    return [
        (runtime, precision)
        for runtime in settings.runtimes
        for precision in settings.precisions
        if runtime in importable and spec.artifact(runtime, precision) is not None
    ]


def evaluate_pack(
    pack: Pack,
    settings: EvaluationSettings,
    pack_label: str | None = None,
    progress: Callable[[str], None] = lambda step: None,
) -> Evaluation:
    """Run the whole evaluation of ``pack`` (see the module docstring)."""
    evaluation = Evaluation(
        pack.name, pack.version, settings.command(pack_label or pack.source), settings.heldout_description()
    )
    progress("rendering out-of-source songs")
    songs: list[Piece] = out_of_source_songs(settings.n_songs)
    in_source: list[Piece] = heldout_songs(settings.n_in_source_songs, settings.n_sections)

    methods: dict[str, Method] = {}
    for runtime, precision in pack_variants(pack, "separator", settings):
        separator = PackSeparator(pack, runtime, precision, settings.n_threads)
        methods[f"{runtime} {precision}"] = lambda piece, s=separator: s.separate(piece.mixture)
        evaluation.student_methods.append(f"{runtime} {precision}")
    stft = stft_settings_of(pack)
    if settings.with_references:
        methods[DSP_BASELINE] = lambda piece: dsp_baseline_separate(piece.mixture, stft)
        methods[IDEAL_RATIO_MASK] = lambda piece: ideal_ratio_mask_separate(piece.mixture, piece.stems, stft)
    if settings.with_spleeter:
        from export.teachers.spleeter import SpleeterTeacher

        teacher = SpleeterTeacher()
        methods[SPLEETER] = lambda piece: teacher.separate(piece.mixture)
    evaluation.separation = score_methods(songs, methods, progress)
    if in_source:
        evaluation.separation_in_source = score_methods(in_source, methods, progress)

    if settings.with_tagging and pack.tagger is not None:
        from export.teachers.yamnet import YamnetTeacher

        yamnet = YamnetTeacher(n_threads=settings.n_threads)
        progress("tagging: YAMNet labels of the held-out material")
        pieces = heldout_tagging_pieces(songs, settings.n_speech, settings.with_samples, settings.n_events_per_kind)
        targets = teacher_targets(yamnet, pieces, pack.tagger.names)
        for runtime, precision in pack_variants(pack, "tagger", settings):
            progress(f"tagging: {runtime} {precision}")
            tagger = PackTagger(pack, runtime, precision, settings.n_threads)
            scores = student_at_teacher_windows(tagger, pieces, targets, yamnet.window_samples, yamnet.hop_samples)
            evaluation.tagging[f"{runtime} {precision}"] = score_tagging(
                pack.tagger.names, np.concatenate(targets), np.concatenate(scores)
            )
        evaluation.compute = [yamnet_compute(), pack_tagger_compute(pack)]
        if settings.n_alerts_per_class:
            variant = next(iter(pack_variants(pack, "tagger", settings)), None)
            if variant is not None:
                tagger = PackTagger(pack, *variant, settings.n_threads)
                music = songs + in_source
                speech = [piece for piece in pieces if piece.name.startswith("speech-") and "-over-" not in piece.name]
                evaluation.alerts_variant = " ".join(variant)
                progress("alerts: out-of-source, in-source, sound themes")
                materials = {
                    "out-of-source": heldout_alerts("b", settings.n_alerts_per_class),
                    "in-source": heldout_alerts("a", settings.n_alerts_per_class),
                    THEME_MATERIAL: theme_alerts(settings.n_alerts_per_class),
                }
                evaluation.alerts.update(score_alerts(tagger, materials, music, speech))
    return evaluation


def check_report_path(report: Path | None) -> None:
    """Refuse a report file name that is neither .md nor .json (before any work starts)."""
    if report is not None and report.suffix not in (".md", ".json"):
        raise ConfigError(f"--report {report}: expected a .md or .json file name")


def write_evaluation(evaluation: Evaluation, pack: Pack, report: Path | None, into_pack: bool) -> None:
    """Write the report (``.json`` or ``.md`` by suffix) and, ``into_pack``, the metrics into the pack."""
    check_report_path(report)
    if report is not None:
        text = (
            json.dumps(evaluation.to_dict(), indent=2) + "\n" if report.suffix == ".json" else evaluation.to_markdown()
        )
        report.write_text(text)
    if into_pack:
        write_metrics_into_pack(pack, evaluation.manifest_metrics(), {"evaluation_data": evaluation.heldout})


__all__ = ["Evaluation", "EvaluationSettings", "check_report_path", "evaluate_pack", "write_evaluation"]
