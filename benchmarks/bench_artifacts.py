"""Per-artifact cost of a model pack: parameters, MACs per second of audio, file size and single-thread step
latency (one hop of 8 ms for the separator, one call for the tagger), for every runtime and precision.

    .venv/bin/python benchmarks/bench_artifacts.py [--pack PATH] [--repeats 200] [--json out.json]

Latency is the median over ``--repeats`` calls after a warm-up, one intra-op thread, through the same runners
the edge pipeline uses; the real-time share is latency / (audio covered per call). The machine line and the
load average are printed with the table: compare numbers only from the same machine.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from edge.bench import machine_info, machine_line
from edge.pack import bundled_pack_path, load_pack
from edge.runners import importable_runtimes, open_runner

WARM_UP_CALLS = 10


def step_feeds(model, n_frames: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    shape = [n_frames if d == -1 else d for d in model.inputs[0].shape]
    feeds = {model.inputs[0].name: (rng.random(shape) * 4).astype(np.float32)}
    feeds.update({state.input: np.zeros(state.shape, np.float32) for state in model.states})
    return feeds


def measure(pack, model, runtime: str, precision: str, repeats: int) -> dict[str, float]:
    runner = open_runner(pack, model, runtime, precision, n_threads=1)
    feeds = step_feeds(model, runner.frames_per_step or 1, np.random.default_rng(0))
    for _ in range(WARM_UP_CALLS):
        runner.run(feeds)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        runner.run(feeds)
        times.append(time.perf_counter() - started)
    call_ms = 1000.0 * float(np.median(times))
    audio_ms = 1000.0 * model.hop / model.sample_rate_hz * model.every_n_hops  # one call per every_n_hops hops
    return {"step_ms": call_ms, "realtime_share": call_ms / audio_ms}


def main(
    pack_path: Annotated[
        Path | None, typer.Option("--pack", help="Pack directory (default: the bundled default pack).")
    ] = None,
    repeats: Annotated[
        int, typer.Option(help="Timed calls per artifact (after the warm-up); the median is reported.")
    ] = 200,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the rows as JSON here.")] = None,
) -> None:
    """Per-artifact cost of a model pack: parameters, MACs per second of audio, file size and single-thread step
    latency, for every runtime and precision."""
    pack = load_pack(pack_path or bundled_pack_path())
    runtimes = {str(r.value if hasattr(r, "value") else r) for r in importable_runtimes()}
    rows = []
    for model in pack.models.values():
        for artifact in model.artifacts:
            if artifact.runtime not in runtimes:
                continue
            row = {
                "model": model.key,
                "runtime": artifact.runtime,
                "precision": artifact.precision,
                "parameters": model.n_parameters,
                "gmac_per_s": model.macs_per_second / 1e9,
                "file_kib": pack.artifact_path(artifact).stat().st_size / 1024,
            }
            row.update(measure(pack, model, artifact.runtime, artifact.precision, repeats))
            rows.append(row)
    machine = machine_info()
    print(
        f"Pack {pack.name} {pack.version}; {machine_line(machine)}; load average {machine['load_average_1min']:.1f}; "
        f"1 thread, median of {repeats} calls"
    )
    print("| model | runtime | precision | parameters | GMAC/s | file KiB | step ms | real-time share |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['model']} | {row['runtime']} | {row['precision']} | {row['parameters']:,} | {row['gmac_per_s']:.4f} "
            f"| {row['file_kib']:.0f} | {row['step_ms']:.3f} | {row['realtime_share']:.3f} |"
        )
    if json_out:
        json_out.write_text(json.dumps({"pack": pack.name, "machine": machine, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    typer.run(main)
