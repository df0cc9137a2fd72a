"""The issue-7 evaluation report: the bundled default pack (or --pack) on the held-out set, against the DSP
baseline, the ideal ratio mask and the Spleeter 2-stem teacher (separation, SDR / SI-SDR per stem), and its
tagger against YAMNet's labels (mAP), with both taggers' compute side by side.

    .venv/bin/python benchmarks/eval_report.py [--pack PATH] [--songs 8] [--sections 5] [--events 4] [--with-samples]
        [--out report.md]

Single-threaded inference (1 intra-op thread) on whatever runtimes are importable; the Markdown goes to stdout
and, with --out, to a file (with the machine it ran on). It never writes into the pack; `sense export evaluate`
does that.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from edge.bench import machine_info, machine_line
from edge.pack import bundled_pack_path, load_pack
from export.evaluate.evaluation import EvaluationSettings, evaluate_pack


def main(
    pack: Annotated[
        Path | None, typer.Option(help="Pack directory or .zip (default: the bundled default pack).")
    ] = None,
    songs: Annotated[int, typer.Option(help="Held-out songs.")] = 8,
    sections: Annotated[int, typer.Option(help="Two-bar sections per song.")] = 5,
    no_spleeter: Annotated[bool, typer.Option("--no-spleeter", help="Skip the Spleeter teacher.")] = False,
    events: Annotated[int, typer.Option(help="Held-out synthetic events of each kind.")] = 4,
    with_samples: Annotated[
        bool, typer.Option("--with-samples", help="Add the reserved Sonic Pi samples to tagging.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the Markdown report here.")] = None,
) -> None:
    """The issue-7 evaluation report: a pack on the held-out set against the DSP baseline, the ideal ratio mask and
    the Spleeter teacher (SDR / SI-SDR per stem), and its tagger against YAMNet's labels (mAP)."""
    pack_path = pack if pack is not None else bundled_pack_path()
    loaded = load_pack(pack_path)
    settings = EvaluationSettings(
        n_songs=songs,
        n_sections=sections,
        with_spleeter=not no_spleeter,
        with_samples=with_samples,
        n_events_per_kind=events,
        n_threads=1,
    )
    started = time.perf_counter()
    evaluation = evaluate_pack(loaded, settings, str(pack_path), progress=lambda step: print(f"  {step}", flush=True))
    elapsed_s = time.perf_counter() - started
    machine = machine_info()
    description = loaded.manifest.get("description", "")
    header = [
        f"Pack evaluated: **{loaded.name} {loaded.version}** from `{pack_path}`"
        + (f" — {description}" if description else ""),
        "",
        f"Reproduce: `.venv/bin/python benchmarks/eval_report.py --songs {songs} --sections {sections}"
        + (" --no-spleeter" if no_spleeter else "")
        + (" --with-samples" if with_samples else "")
        + (f" --pack {pack}" if pack else "")
        + "`",
        "",
        f"Machine: {machine_line(machine)}; load average {machine['load_average_1min']:.1f}; 1 inference thread; "
        f"the whole evaluation took {elapsed_s:.0f} s.",
        "",
    ]
    report = evaluation.to_markdown().replace("\n\n", "\n\n" + "\n".join(header) + "\n", 1)
    print(report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)


if __name__ == "__main__":
    typer.run(main)
