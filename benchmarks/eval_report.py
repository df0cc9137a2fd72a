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

import argparse
import time
from pathlib import Path

from edge.bench import machine_info, machine_line
from edge.pack import bundled_pack_path, load_pack
from export.evaluate.evaluation import EvaluationSettings, evaluate_pack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pack", type=Path, default=None, help="pack directory or .zip (default: the bundled default pack)")
    parser.add_argument("--songs", type=int, default=8, help="held-out songs (default 8)")
    parser.add_argument("--sections", type=int, default=5, help="two-bar sections per song (default 5)")
    parser.add_argument("--no-spleeter", action="store_true", help="skip the Spleeter teacher")
    parser.add_argument("--events", type=int, default=4, help="held-out synthetic events of each kind (default 4)")
    parser.add_argument("--with-samples", action="store_true", help="add the reserved Sonic Pi samples to tagging")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    args = parser.parse_args()

    pack_path = args.pack if args.pack is not None else bundled_pack_path()
    pack = load_pack(pack_path)
    settings = EvaluationSettings(n_songs=args.songs, n_sections=args.sections, with_spleeter=not args.no_spleeter,
                                  with_samples=args.with_samples, n_events_per_kind=args.events, n_threads=1)
    started = time.perf_counter()
    evaluation = evaluate_pack(pack, settings, str(pack_path), progress=lambda step: print(f"  {step}", flush=True))
    elapsed_s = time.perf_counter() - started
    machine = machine_info()
    description = pack.manifest.get("description", "")
    header = [
        f"Pack evaluated: **{pack.name} {pack.version}** from `{pack_path}`" + (f" — {description}" if description else ""),
        "",
        f"Reproduce: `.venv/bin/python benchmarks/eval_report.py --songs {args.songs} --sections {args.sections}"
        + (" --no-spleeter" if args.no_spleeter else "") + (" --with-samples" if args.with_samples else "")
        + (f" --pack {args.pack}" if args.pack else "") + "`",
        "",
        f"Machine: {machine_line(machine)}; load average {machine['load_average_1min']:.1f}; 1 inference thread; "
        f"the whole evaluation took {elapsed_s:.0f} s.",
        "",
    ]
    report = evaluation.to_markdown().replace("\n\n", "\n\n" + "\n".join(header) + "\n", 1)
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)


if __name__ == "__main__":
    main()
