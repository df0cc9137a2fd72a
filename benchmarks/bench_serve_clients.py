"""Does watching slow the vest down? `sense serve` with 0 and with 50 simultaneous WebSocket clients.

    .venv/bin/python benchmarks/bench_serve_clients.py [--seconds 10] [--clients 50] [--rounds 5] [--threads 1]
        [--json benchmarks/results/serve_clients.json] [--markdown out.md]

One real server on 127.0.0.1 (the bundled pack and default rig on ``sim://``, the example looping at real-time
pace, as ``sense serve`` runs it). Phases of ``--seconds`` alternate: no clients, then ``--clients`` WebSocket
clients (in a separate process at the lowest CPU priority, as phones would be separate devices; they all connect first, then each receives
every frame it can for the phase and counts them), ``--rounds`` times. Per phase, from the pipeline's own telemetry: per-hop compute time over all stages
(p50/p95/p99/max), dropped hops (hops rendered DSP-only because inference fell behind real time), and for client
phases the frames each client received per second (min/median) and how many stayed connected. Recorded with it:
inference threads, the server process's thread count, the machine and its load average (other work on the machine
moves these numbers; compare phases of one run, which alternate so that both see the same load).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

from edge.bench import emit, latency_stats_ms, machine_info, machine_line
from edge.pipeline import STAGES, Telemetry
from edge.run import SessionOptions
from edge.session import SessionParams
from edge.serve.server import Server, open_server

RESULTS = Path(__file__).parent / "results"
SETTLE_S = 3.0
"""After the clients connected and before a phase's counters start: starting the client process starves the
pipeline for a moment on a small machine, and the real-time pacing then catches up; that is not the clients' cost."""
CLIENTS_NICE = 19
"""The client process runs at the lowest CPU priority: the clients stand in for phones, which bring their own CPUs;
on a machine with few cores they would otherwise take CPU from the pipeline that phones never would."""


def _client_process(url: str, token: str, n_clients: int, seconds: float, results: Any) -> None:
    """``n_clients`` WebSocket clients: all connect, then ``"ready"`` is put, then each receives for ``seconds``;
    then (frames per client, connected to the end) and this process's CPU seconds while receiving are put."""
    import websockets

    os.nice(CLIENTS_NICE - os.nice(0))  # they stand in for phones, which bring their own CPUs

    async def many() -> list[tuple[int, bool]]:
        address = f"{url.replace('http', 'ws')}/api/live?token={token}"
        sockets = await asyncio.gather(*(websockets.connect(address) for _ in range(n_clients)))
        results.put("ready")
        deadline = time.monotonic() + seconds

        async def receive(socket: Any) -> tuple[int, bool]:
            n_frames = 0
            try:
                while time.monotonic() < deadline:
                    await asyncio.wait_for(socket.recv(), 5.0)
                    n_frames += 1
                return n_frames, True
            except Exception:  # a dropped client is a result, counted in the report
                return n_frames, False
            finally:
                await socket.close()

        return await asyncio.gather(*(receive(socket) for socket in sockets))

    cpu_before = _cpu_s()
    frames = asyncio.run(many())
    results.put((frames, _cpu_s() - cpu_before))


def _thread_count() -> int:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return threading.active_count()


def _per_hop_s(telemetry: Telemetry) -> np.ndarray:
    """Each retained call's wall time over all stages, per hop, read while the pipeline runs on (the stage columns
    and hop counts are cut to the calls all of them saw)."""
    seconds = telemetry.stage_seconds
    hops = telemetry.hops_per_call
    n_seen = min(len(hops), *(len(column) for column in seconds.values()))
    total = np.sum([seconds[stage][:n_seen] for stage in STAGES], axis=0)
    return total / np.maximum(hops[:n_seen].astype(np.float64), 1.0)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _phase(server: Server, seconds: float, n_clients: int) -> dict[str, Any]:
    telemetry = server.live.session.telemetry
    frames: list[tuple[int, bool]] = []
    clients_cpu_s = None
    if n_clients:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        clients = context.Process(
            target=_client_process, args=(server.base_url, server.pairing.token, n_clients, seconds + SETTLE_S, queue)
        )
        clients.start()
        assert queue.get(timeout=120) == "ready"
    time.sleep(SETTLE_S)  # the same in both conditions
    calls_before, dropped_before, hops_before = telemetry.n_calls, telemetry.n_dropped_hops, telemetry.n_hops
    cpu_before = _cpu_s()
    started = time.monotonic()
    if n_clients:
        time.sleep(seconds / 2)
        threads = _thread_count()  # with the clients connected
        frames, clients_cpu_s = queue.get(timeout=seconds + 60)
        clients.join(30)
    else:
        threads = _thread_count()
        time.sleep(seconds)
    elapsed_s = time.monotonic() - started
    server_cpu_s = _cpu_s() - cpu_before
    n_calls = telemetry.n_calls - calls_before
    per_hop_s = _per_hop_s(telemetry)[-n_calls:] if n_calls else np.zeros(0)
    counts = np.array([count for count, _ in frames], dtype=float)
    return {
        "clients": n_clients,
        "hop_ms": latency_stats_ms(per_hop_s),
        "n_hops": telemetry.n_hops - hops_before,
        "dropped_hops": telemetry.n_dropped_hops - dropped_before,
        "server_threads": threads,
        "frames_per_client_per_s_min": float(counts.min() / (seconds + SETTLE_S)) if counts.size else None,
        "frames_per_client_per_s_median": float(np.median(counts) / (seconds + SETTLE_S)) if counts.size else None,
        "clients_connected_to_the_end": int(sum(ok for _, ok in frames)) if frames else None,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "server_cpu_s_per_s": round(server_cpu_s / elapsed_s, 3),
        "clients_cpu_s_per_s": None if clients_cpu_s is None else round(clients_cpu_s / elapsed_s, 3),
    }


def summarise(phases: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per condition (0 clients, N clients): medians over its phases of hop p95, dropped hops per 1000 hops and
    server CPU — alternating phases and medians keep a passing load on the machine from deciding the comparison."""
    summary = {}
    for n_clients in sorted({phase["clients"] for phase in phases}):
        chosen = [phase for phase in phases if phase["clients"] == n_clients]
        summary[str(n_clients)] = {
            "hop_p95_ms_median": float(np.median([phase["hop_ms"]["p95_ms"] for phase in chosen])),
            "dropped_per_1000_hops_median": float(
                np.median([1000 * phase["dropped_hops"] / max(phase["n_hops"], 1) for phase in chosen])
            ),
            "server_cpu_s_per_s_median": float(np.median([phase["server_cpu_s_per_s"] for phase in chosen])),
        }
    return summary


def to_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"sense serve with and without {report['clients']} WebSocket clients: {report['seconds']:.0f} s per phase, "
        f"pack {report['pack']} on {report['runtime']} with {report['n_threads']} inference thread(s), "
        f"example looping at real-time pace, sim:// output. Machine: {machine_line(report['machine'])}.",
        "",
        "| phase | clients | hop ms p50 / p95 / p99 / max | hops | dropped hops | frames/s per client min / median "
        "| clients to the end | server CPU s/s | clients' CPU s/s | server threads | load avg (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for index, phase in enumerate(report["phases"], start=1):
        hop = phase["hop_ms"]
        frames = (
            "–"
            if phase["frames_per_client_per_s_min"] is None
            else f"{phase['frames_per_client_per_s_min']:.1f} / {phase['frames_per_client_per_s_median']:.1f}"
        )
        connected = "–" if phase["clients_connected_to_the_end"] is None else str(phase["clients_connected_to_the_end"])
        lines.append(
            f"| {index} | {phase['clients']} | {hop['p50_ms']:.3f} / {hop['p95_ms']:.3f} / {hop['p99_ms']:.3f} / "
            f"{hop['max_ms']:.3f} | {phase['n_hops']} | {phase['dropped_hops']} | {frames} | {connected} | "
            f"{phase['server_cpu_s_per_s']:.3f} | "
            f"{'–' if phase['clients_cpu_s_per_s'] is None else format(phase['clients_cpu_s_per_s'], '.3f')} | "
            f"{phase['server_threads']} | {phase['load_average_1min']:.2f} |"
        )
    lines += [
        "",
        "| clients | median hop p95 ms | median dropped hops per 1000 | median server CPU s/s |",
        "|---|---|---|---|",
    ]
    for n_clients, row in report["summary"].items():
        lines.append(
            f"| {n_clients} | {row['hop_p95_ms_median']:.2f} | {row['dropped_per_1000_hops_median']:.1f} | "
            f"{row['server_cpu_s_per_s_median']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(
    seconds: Annotated[float, typer.Option(min=2.0, help="Seconds per phase.")] = 10.0,
    clients: Annotated[int, typer.Option(min=1, help="WebSocket clients in the client phases.")] = 50,
    rounds: Annotated[int, typer.Option(min=1, help="Pairs of phases (none, then clients).")] = 5,
    pack: Annotated[Optional[str], typer.Option(help="Model pack. Default: the bundled pack.")] = None,
    threads: Annotated[int, typer.Option(min=1, help="Inference threads.")] = 1,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the results as JSON here.")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write the Markdown table here.")] = None,
) -> None:
    """Pipeline hop time and dropped hops with and without many live page clients."""
    server = open_server(
        None,
        SessionOptions(pack, output="sim://", params=SessionParams(n_threads=threads)),
        port=0,
        loop=True,
        write_state=False,
    )
    pipeline = threading.Thread(target=server.run, name="pipeline", daemon=True)
    pipeline.start()
    try:
        time.sleep(2.0)  # warm-up
        phases = []
        for _ in range(rounds):
            phases.append(_phase(server, seconds, 0))
            phases.append(_phase(server, seconds, clients))
        session = server.live.session
        report = {
            "seconds": seconds,
            "clients": clients,
            "rounds": rounds,
            "n_threads": threads,
            "pack": f"{session.pack.name} {session.pack.version}" if session.pack else "none",
            "runtime": session.telemetry.runtime,
            "phases": phases,
            "summary": summarise(phases),
            "machine": machine_info(),
            "cpu_count": os.cpu_count(),
            "command": "benchmarks/bench_serve_clients.py "
            f"--seconds {seconds:g} --clients {clients} --rounds {rounds} --threads {threads}",
        }
    finally:
        server.stop()
        pipeline.join(30)
    emit(report, to_markdown(report), json_path, markdown)


if __name__ == "__main__":
    typer.run(main)
