"""Soak: hours of audio through the whole pipeline at accelerated rate — no backlog, no memory growth, a steady p99.

    .venv/bin/python benchmarks/bench_soak.py [--seconds 3600] [--window 60] [--block-hops 1] [--pack PATH]
        [--runtime onnx] [--precision fp32] [--threads 1] [--json out.json] [--markdown out.md]
    # the 8-hour soak (docs/benchmarks.md has its numbers):
    .venv/bin/python benchmarks/bench_soak.py --seconds 28800 --window 600 --block-hops 125

The bundled example, tiled, is fed ``--block-hops`` 8 ms hops per call (1: one hop per call, as a sound card
delivers it; 125: one second per call, so that 8 h of audio fit in well under an hour on a small machine — the
pipeline gives the same result for any block size) as fast as the machine goes (no sleeping), through the
pack and the default rig's renderer (no-backlog budget on) into an output that keeps only the latest frame (so
the sink itself does not grow). Per window of ``--window`` seconds of audio it records:
- per-hop latency p50/p95/p99/max over all stages, the window's real-time factor, dropped hops;
- backlog: the queue a real-time run would have built from these compute times (each hop's audio arrives
  every 8 ms; a hop that takes longer delays the next) — its maximum in ms;
- RSS at the end of the window.
Summary: RSS growth (last window - first window; and from the second window on, after warm-up allocations) and
its linear slope in MiB per hour from the second window on, RSS and peak RSS after the first 10 minutes of audio
beside the same at the end (memory must not depend on how long the input is), the spread of the per-window p99
(max / median), total dropped hops and the largest backlog.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

from edge.bench import BenchConfig, bench_audio, emit, latency_stats_ms, machine_info, machine_line, process_rss_mib
from edge.outputs.base import ActuatorOutput, HapticFrame
from edge.pack import load_pack
from edge.rig import default_rig
from edge.session import open_session

SECONDS_PER_HOUR = 3600.0
EARLY_S = 600.0
"""RSS "after 10 minutes of audio" is read at the end of the first window that reaches this."""


class LatestFrameOutput(ActuatorOutput):
    """A sink that keeps only the last frame: the output stage runs, but nothing accumulates."""

    def __init__(self, n_channels: int) -> None:
        super().__init__("latest://", n_channels)
        self.latest = np.zeros(n_channels, dtype=np.float32)
        self.n_frames = 0

    def _write(self, frame: HapticFrame) -> None:
        self.latest = frame.intensities
        self.n_frames += 1

    def _zero(self) -> None:
        self.latest = np.zeros(self.n_channels, dtype=np.float32)


def _rss_mib() -> tuple[float, float]:
    """(current, peak) RSS of this process, MiB."""
    current, peak = process_rss_mib()
    return (float(current) if current is not None else float("nan"), float(peak) if peak is not None else float("nan"))


def max_backlog_s(compute_s: np.ndarray, hop_s: float, start_backlog_s: float = 0.0) -> tuple[float, float]:
    """Queue of a real-time run with these per-hop compute times: (max backlog, backlog at the end), seconds."""
    backlog = start_backlog_s
    worst = backlog
    for seconds in compute_s:
        backlog = max(0.0, backlog + seconds - hop_s)
        worst = max(worst, backlog)
    return worst, backlog


def run_soak(
    seconds: float,
    window_s: float,
    pack_path: str | None,
    config: BenchConfig,
    on_window: Any = None,
    block_hops: int = 1,
) -> dict[str, Any]:
    pack = load_pack(pack_path)
    rig = default_rig()
    output = LatestFrameOutput(rig.n_actuators)
    session = open_session(
        pack, rig, output, runtime=config.runtime, precision=config.precision, n_threads=config.n_threads
    )
    hop, hop_s = session.stream.hop, session.stream.hop_s
    window = bench_audio(window_s)
    if len(window) % (hop * block_hops):
        raise SystemExit(f"--window {window_s:g} s is not a whole number of {block_hops}-hop blocks")
    n_windows = int(np.ceil(seconds / window_s))
    windows = []
    backlog_s = 0.0
    with session:
        for index in range(n_windows):
            dropped_before = session.telemetry.n_dropped_hops
            block = hop * block_hops
            compute_s = np.empty(len(window) // block)
            for i in range(len(compute_s)):
                started = time.perf_counter()
                session.process(window[i * block : (i + 1) * block])
                compute_s[i] = time.perf_counter() - started
            worst_s, backlog_s = max_backlog_s(compute_s, hop_s * block_hops, backlog_s)
            rss_mib, peak_rss_mib = _rss_mib()
            record = {
                "index": index,
                "start_s": index * window_s,
                **latency_stats_ms(compute_s / block_hops),
                "real_time_factor": float(compute_s.sum() / (len(compute_s) * block_hops * hop_s)),
                "n_dropped_hops": session.telemetry.n_dropped_hops - dropped_before,
                "max_backlog_ms": worst_s * 1e3,
                "rss_mib": rss_mib,
                "peak_rss_mib": peak_rss_mib,
            }
            windows.append(record)
            if on_window is not None:
                on_window(record, n_windows)
    rss = np.array([w["rss_mib"] for w in windows])
    starts_h = np.array([w["start_s"] for w in windows]) / SECONDS_PER_HOUR
    p99 = np.array([w["p99_ms"] for w in windows])
    steady = slice(1, None) if len(windows) > 2 else slice(None)  # the first window holds the warm-up allocations
    slope = float(np.polyfit(starts_h[steady], rss[steady], 1)[0]) if len(windows) > 2 else 0.0
    early = next(w for w in windows if w["start_s"] + window_s >= min(EARLY_S, n_windows * window_s))
    summary = {
        "rss_at_10_min_mib": early["rss_mib"],
        "peak_rss_at_10_min_mib": early["peak_rss_mib"],
        "early_audio_seconds": early["start_s"] + window_s,
        "peak_rss_at_end_mib": windows[-1]["peak_rss_mib"],
        "audio_seconds": n_windows * window_s,
        "n_windows": n_windows,
        "n_hops": session.telemetry.n_hops,
        "n_frames_out": output.n_frames,
        "n_dropped_hops": int(sum(w["n_dropped_hops"] for w in windows)),
        "max_backlog_ms": float(max(w["max_backlog_ms"] for w in windows)),
        "real_time_factor": float(np.mean([w["real_time_factor"] for w in windows])),
        "rss_first_window_mib": float(rss[0]),
        "rss_last_window_mib": float(rss[-1]),
        "rss_growth_mib": float(rss[-1] - rss[0]),
        "rss_growth_after_first_window_mib": float(rss[-1] - rss[steady][0]),
        "rss_slope_mib_per_hour": slope,
        "p99_median_ms": float(np.median(p99)),
        "p99_max_ms": float(p99.max()),
        "p99_max_over_median": float(p99.max() / np.median(p99)) if np.median(p99) > 0 else 0.0,
    }
    return {
        "benchmark": "soak",
        "machine": machine_info(),
        "settings": {
            "pack": f"{pack.name} {pack.version}",
            "runtime": session.telemetry.runtime,
            "precision": config.precision,
            "n_threads": config.n_threads,
            "window_s": window_s,
            "seconds": seconds,
            "block_hops": block_hops,
        },
        "summary": summary,
        "windows": windows,
    }


def summary_markdown(report: dict[str, Any]) -> str:
    """The caption and the one-row summary table."""
    settings, summary = report["settings"], report["summary"]
    block_hops = settings.get("block_hops", 1)
    early = "rss_at_10_min_mib" in summary  # reports from before the 8-hour soak have no early RSS
    lines = [
        f"Soak: {summary['audio_seconds'] / 60:.1f} min of audio at accelerated rate, {settings['pack']} on "
        f"{settings['runtime']} {settings['precision']}, {settings['n_threads']} thread(s), {block_hops} hop"
        f"{'s' if block_hops != 1 else ''} per call, windows of {settings['window_s']:g} s. "
        f"Machine: {machine_line(report['machine'])}.",
        "",
        "| audio | RTF | dropped hops | max backlog ms | p99 ms median / max (ratio) | RSS first → last MiB | "
        "RSS slope MiB/h |"
        + (f" RSS / peak RSS after {summary['early_audio_seconds'] / 60:g} min → at the end, MiB |" if early else ""),
        "|" + "---|" * (8 if early else 7),
        f"| {summary['audio_seconds'] / 60:.1f} min | {summary['real_time_factor']:.4f} | {summary['n_dropped_hops']} | "
        f"{summary['max_backlog_ms']:.2f} | {summary['p99_median_ms']:.3f} / {summary['p99_max_ms']:.3f} "
        f"({summary['p99_max_over_median']:.2f}) | {summary['rss_first_window_mib']:.1f} → "
        f"{summary['rss_last_window_mib']:.1f} | {summary['rss_slope_mib_per_hour']:.2f} |"
        + (
            f" {summary['rss_at_10_min_mib']:.1f} / {summary['peak_rss_at_10_min_mib']:.1f} → "
            f"{summary['rss_last_window_mib']:.1f} / {summary['peak_rss_at_end_mib']:.1f} |"
            if early
            else ""
        ),
    ]
    return "\n".join(lines) + "\n"


def to_markdown(report: dict[str, Any]) -> str:
    """The summary and one row per window."""
    lines = [
        "",
        "| window start | p50 ms | p95 ms | p99 ms | max ms | RTF | dropped | max backlog ms | RSS MiB |",
        "|" + "---|" * 9,
    ]
    for w in report["windows"]:
        lines.append(
            f"| {w['start_s']:g} s | {w['p50_ms']:.3f} | {w['p95_ms']:.3f} | {w['p99_ms']:.3f} | "
            f"{w['max_ms']:.3f} | {w['real_time_factor']:.4f} | {w['n_dropped_hops']} | "
            f"{w['max_backlog_ms']:.2f} | {w['rss_mib']:.1f} |"
        )
    return summary_markdown(report) + "\n".join(lines) + "\n"


def main(
    seconds: Annotated[float, typer.Option(min=1.0, help="Seconds of audio in all.")] = SECONDS_PER_HOUR,
    window: Annotated[float, typer.Option(min=0.5, help="Seconds of audio per statistics window.")] = 60.0,
    block_hops: Annotated[int, typer.Option(min=1, help="Hops per process call (1: as a sound card; 125: 1 s).")] = 1,
    pack: Annotated[Optional[str], typer.Option(help="Model pack. Default: the bundled pack.")] = None,
    runtime: Annotated[str, typer.Option(help="onnx or litert.")] = "onnx",
    precision: Annotated[str, typer.Option(help="fp32 or int8.")] = "fp32",
    threads: Annotated[int, typer.Option(min=1, help="Inference threads.")] = 1,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the results as JSON here.")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write the Markdown tables here.")] = None,
) -> None:
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("soak", total=None)

        def on_window(record: dict[str, Any], n_windows: int) -> None:
            progress.update(
                task,
                total=n_windows,
                advance=1,
                description=f"soak: p99 {record['p99_ms']:.2f} ms, RSS {record['rss_mib']:.0f} MiB",
            )
            if not sys.stderr.isatty():  # a log of a long soak: one line per window, as it goes
                print(
                    f"window {record['index'] + 1}/{n_windows}: audio {record['start_s'] + window:g} s, RTF "
                    f"{record['real_time_factor']:.4f}, RSS {record['rss_mib']:.1f} MiB, peak {record['peak_rss_mib']:.1f} MiB",
                    file=sys.stderr,
                    flush=True,
                )

        report = run_soak(seconds, window, pack, BenchConfig(runtime, precision, threads), on_window, block_hops)
    emit(report, to_markdown(report), json_path, markdown)


if __name__ == "__main__":
    typer.run(main)
