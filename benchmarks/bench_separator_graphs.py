"""Two packs' separators side by side in one run: executed ONNX nodes and single-thread x86 time per 8 ms hop, for
every runtime and precision both ship (e.g. a pack exported before and after a change of the separator's graph).

    .venv/bin/python benchmarks/bench_separator_graphs.py BEFORE_PACK AFTER_PACK [--rounds 7] [--hops 200] [--json out.json]

Each round streams the same ``--hops`` random frames one hop per call through each artifact in turn (the edge
runners, 1 intra-op thread, state carried), so both sides see the same machine load; the time per hop is the median
over rounds and the ratio is before / after. Compare the ratio, not the absolute times, on a shared machine.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from edge.bench import emit, machine_info, machine_line
from edge.pack import Pack, load_pack
from edge.runners import importable_runtimes, open_runner

CONFIGS = (("onnx", "fp32"), ("onnx", "int8"), ("litert", "fp32"), ("litert", "int8"))


def onnx_nodes(pack: Pack, precision: str) -> int | None:
    """Executed nodes of the separator's ONNX artifact (Constant nodes aside), or None without one."""
    import onnx

    try:
        spec = pack.separator.artifact("onnx", precision)
    except Exception:  # noqa: BLE001 - no such artifact in this pack
        return None
    ops = Counter(node.op_type for node in onnx.load(str(pack.root / spec.file)).graph.node)
    return sum(ops.values()) - ops["Constant"]


def stream_s(pack: Pack, runtime: str, precision: str, frames: np.ndarray) -> float:
    """Seconds to stream ``frames`` (n, n_bins) one hop per call through the separator, state carried."""
    runner = open_runner(pack, pack.separator, runtime, precision, n_threads=1)
    model = pack.separator
    states = {state.input: np.zeros(state.shape, np.float32) for state in model.states}
    output_of = {state.input: state.output for state in model.states}
    started = time.perf_counter()
    for frame in frames:
        outputs = runner.run({model.inputs[0].name: frame[None, None], **states})
        states = {name: outputs[output_of[name]] for name in states}
    return time.perf_counter() - started


def main(
    before: Annotated[Path, typer.Argument(help="Pack directory of the 'before' side (the ratio is before / after).")],
    after: Annotated[Path, typer.Argument(help="Pack directory of the 'after' side.")],
    rounds: Annotated[int, typer.Option(help="Interleaved rounds; the time per hop is the median over rounds.")] = 7,
    hops: Annotated[int, typer.Option(help="Random frames streamed per artifact and round, one hop per call.")] = 200,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write settings and results as JSON here.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the table as Markdown here.")] = None,
) -> None:
    """Two packs' separators side by side: executed ONNX nodes and single-thread time per 8 ms hop, for every
    runtime and precision both ship."""
    packs = {"before": load_pack(before), "after": load_pack(after)}
    n_bins = packs["before"].separator.inputs[0].shape[-1]
    frames = (np.random.default_rng(0).random((hops, n_bins)) * 4).astype(np.float32)
    runtimes = importable_runtimes()
    configs = [
        (r, p)
        for r, p in CONFIGS
        if r in runtimes
        and all(any(a.runtime == r and a.precision == p for a in pack.separator.artifacts) for pack in packs.values())
    ]
    times: dict[tuple[str, str, str], list[float]] = {}
    for runtime, precision in configs:
        for side, pack in packs.items():
            stream_s(pack, runtime, precision, frames[:10])  # warm-up
    for _ in range(rounds):
        for runtime, precision in configs:
            for side, pack in packs.items():
                times.setdefault((runtime, precision, side), []).append(stream_s(pack, runtime, precision, frames))
    rows = []
    for runtime, precision in configs:
        per_hop_us = {side: statistics.median(times[(runtime, precision, side)]) / hops * 1e6 for side in packs}
        rows.append(
            {
                "runtime": runtime,
                "precision": precision,
                "nodes": {
                    side: onnx_nodes(pack, precision) if runtime == "onnx" else None for side, pack in packs.items()
                },
                "us_per_hop": per_hop_us,
                "ratio": per_hop_us["before"] / per_hop_us["after"],
            }
        )
    lines = [
        f"Separator per 8 ms hop, 1 thread, {rounds} interleaved rounds of {hops} hops (median), "
        f"before = {before}, after = {after}; {machine_line(machine_info())}.",
        "",
        "| runtime | precision | ONNX nodes before → after | µs per hop before | after | before / after |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        nodes = f"{row['nodes']['before']} → {row['nodes']['after']}" if row["runtime"] == "onnx" else "—"
        lines.append(
            f"| {row['runtime']} | {row['precision']} | {nodes} | {row['us_per_hop']['before']:.0f} | "
            f"{row['us_per_hop']['after']:.0f} | {row['ratio']:.2f}× |"
        )
    settings = {
        "before": str(before),
        "after": str(after),
        "rounds": rounds,
        "hops": hops,
        "json": None if json_out is None else str(json_out),
        "markdown": None if markdown is None else str(markdown),
    }
    emit(
        {"settings": settings | {"machine": machine_info()}, "results": rows},
        "\n".join(lines) + "\n",
        json_out,
        markdown,
    )


if __name__ == "__main__":
    typer.run(main)
