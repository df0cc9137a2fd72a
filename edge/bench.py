"""Library behind ``sense bench``: how a board runs the pipeline, per runtime, precision and thread count.

For every configuration the bundled example (or ``input_path``) is tiled to ``seconds`` of audio and fed one
8 ms hop at a time, as a sound card would, through the whole pipeline (no-backlog policy on) to a simulated
rig. Each configuration reports per-stage latency per hop (p50/p95/p99/max), the whole hop's latency, the
real-time factor, CPU time, peak memory, dropped hops and the board's temperature/throttling before and after.

The report is one JSON document (``REPORT_SCHEMA`` names its version) that a fleet can aggregate — one flat
record per configuration plus the machine it ran on — and a Markdown rendering of the same numbers.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.stream import DEVICE_STREAM
from edge.audio_source import read_audio_file
from edge.errors import ConfigError, RuntimeUnavailableError
from edge.pack import Pack, load_pack
from edge.pipeline import STAGES, Telemetry
from edge.rig import Rig, default_rig, load_rig
from edge.run import EXAMPLE_SOUND
from edge.session import Session, open_session

REPORT_SCHEMA = "sense-bench/1"
"""Version tag of the JSON report; bump when a field changes meaning."""
REPORT_SCHEMA_PATH = Path(__file__).parent / "data" / "bench_report.schema.json"
"""The JSON Schema of the report, for fleets that validate what boards send them."""
WARMUP_S = 0.5
"""Audio fed before measuring, then discarded (first inference calls allocate and compile)."""
MEMORY_PASS_S = 3.0
"""Length of the separate pass that traces Python allocations (tracemalloc slows the code it traces)."""
PERCENTILES = (50, 95, 99)
THERMAL_ROOT = Path("/sys/class/thermal")
THROTTLED_SYSFS = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")
MILLIDEGREES_PER_DEGREE = 1000.0
BYTES_PER_MIB = 1024.0 * 1024.0
KIB_PER_MIB = 1024.0
NOT_EXPOSED = "not exposed"
THROTTLE_BITS = {  # vcgencmd get_throttled, Raspberry Pi firmware documentation
    0: "under-voltage now",
    1: "frequency capped now",
    2: "throttled now",
    3: "soft temperature limit now",
    16: "under-voltage has occurred",
    17: "frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}
PROGRESS_EVERY_HOPS = 25


@dataclass(frozen=True)
class BenchConfig:
    """One configuration to measure."""

    runtime: str
    precision: str
    n_threads: int


def parse_list(text: str, allowed: tuple[str, ...] | None = None, what: str = "value") -> list[str]:
    """``"onnx,litert"`` -> ``["onnx", "litert"]``, each checked against ``allowed``."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"{what}: expected a comma-separated list, got {text!r}")
    if allowed is not None:
        for item in items:
            if item not in allowed:
                raise ConfigError(f"{what}: {item!r} is not one of {list(allowed)}")
    return items


def parse_thread_counts(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``; every count must be a positive integer."""
    counts = []
    for item in parse_list(text, what="--threads"):
        if not item.isdigit() or int(item) < 1:
            raise ConfigError(f"--threads: {item!r} is not a positive integer")
        counts.append(int(item))
    return counts


# ----------------------------------------------------------------------------------------------- machine info


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip().rstrip("\x00")
    except OSError:
        return None


def _cpu_model() -> str:
    info = _read_text(Path("/proc/cpuinfo")) or ""
    for key in ("model name", "Model", "Hardware"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", info, re.MULTILINE)
        if match:
            return match.group(1).strip()
    return platform.processor() or platform.machine()


def _total_memory_mib() -> float | None:
    match = re.search(r"^MemTotal:\s+(\d+) kB", _read_text(Path("/proc/meminfo")) or "", re.MULTILINE)
    return int(match.group(1)) / KIB_PER_MIB if match else None


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: board, CPU, cores, memory, OS, Python and runtime versions."""
    import edge

    try:
        n_usable_cpus: int | None = len(os.sched_getaffinity(0))
    except AttributeError:
        n_usable_cpus = os.cpu_count()
    max_freq_khz = _read_text(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"))
    return {
        "hostname": platform.node(),
        "board": _read_text(Path("/proc/device-tree/model")) or NOT_EXPOSED,
        "cpu": _cpu_model(),
        "architecture": platform.machine(),
        "n_cpus": os.cpu_count(),
        "n_usable_cpus": n_usable_cpus,
        "cpu_max_mhz": int(max_freq_khz) / 1000.0 if max_freq_khz and max_freq_khz.isdigit() else None,
        "memory_total_mib": _total_memory_mib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sense": edge.__version__,
        "numpy": np.__version__,
        "onnxruntime": _package_version("onnxruntime"),
        "litert": _package_version("ai-edge-litert") or _package_version("tflite-runtime"),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def read_temperatures(root: Path = THERMAL_ROOT) -> dict[str, Any]:
    """CPU/SoC temperatures from /sys/class/thermal: {"exposed": bool, "zones": {type: degrees C}, "max_c"}."""
    zones: dict[str, float] = {}
    for zone in sorted(root.glob("thermal_zone*")):
        millidegrees = _read_text(zone / "temp")
        if millidegrees is None or not millidegrees.lstrip("-").isdigit():
            continue
        name = _read_text(zone / "type") or zone.name
        zones[f"{name} ({zone.name})"] = int(millidegrees) / MILLIDEGREES_PER_DEGREE
    if not zones:
        return {"exposed": False, "zones": {}, "max_c": None, "note": NOT_EXPOSED}
    return {"exposed": True, "zones": zones, "max_c": max(zones.values())}


def decode_throttled(value: int) -> list[str]:
    """The set bits of a Raspberry Pi ``get_throttled`` word, as words."""
    return [meaning for bit, meaning in THROTTLE_BITS.items() if value & (1 << bit)]


def read_throttling(sysfs_path: Path = THROTTLED_SYSFS) -> dict[str, Any]:
    """Raspberry Pi throttling flags (``vcgencmd get_throttled`` or its sysfs node), else ``not exposed``."""
    raw: str | None = None
    source = None
    vcgencmd = shutil.which("vcgencmd")
    if vcgencmd is not None:
        try:
            result = subprocess.run([vcgencmd, "get_throttled"], capture_output=True, text=True, timeout=5)
            match = re.search(r"throttled=(0x[0-9a-fA-F]+)", result.stdout)
            raw, source = (f"0x{int(match.group(1), 16):x}", "vcgencmd get_throttled") if match else (None, None)
        except (OSError, subprocess.TimeoutExpired):
            raw = None
    if raw is None:
        text = _read_text(sysfs_path)
        if text is not None and re.fullmatch(r"(0x)?[0-9a-fA-F]+", text):
            raw, source = f"0x{int(text, 16):x}", str(sysfs_path)
    if raw is None:
        return {"exposed": False, "note": NOT_EXPOSED}
    value = int(raw, 16)
    return {"exposed": True, "source": source, "raw": raw, "flags": decode_throttled(value)}


# ------------------------------------------------------------------------------------------------- measuring


def process_rss_mib() -> tuple[float | None, float | None]:
    """(current RSS, peak RSS since the last reset) of this process in MiB, from /proc/self/status."""
    status = _read_text(Path("/proc/self/status")) or ""
    values = {
        key: int(match.group(1)) / KIB_PER_MIB
        for key in ("VmRSS", "VmHWM")
        if (match := re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE))
    }
    return values.get("VmRSS"), values.get("VmHWM")


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux clear_refs 5); False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def latency_stats_ms(seconds: list[float] | np.ndarray) -> dict[str, float]:
    """p50/p95/p99/max in ms of a list of per-hop durations in seconds (zeros when empty)."""
    values_ms = np.asarray(seconds, dtype=np.float64) * 1e3
    if values_ms.size == 0:
        return {**{f"p{q}_ms": 0.0 for q in PERCENTILES}, "max_ms": 0.0}
    return {**{f"p{q}_ms": float(np.percentile(values_ms, q)) for q in PERCENTILES}, "max_ms": float(values_ms.max())}


def hop_seconds(telemetry: Telemetry) -> np.ndarray:
    """Wall time of each ``process`` call summed over the stages, per hop: (n_calls,) seconds."""
    per_call = np.sum([np.asarray(telemetry.stage_seconds[stage], dtype=np.float64) for stage in STAGES], axis=0)
    return per_call / np.maximum(np.asarray(telemetry.hops_per_call, dtype=np.float64), 1.0)


def bench_audio(seconds: float, input_path: str | Path | None = None) -> np.ndarray:
    """``seconds`` of 16 kHz mono audio: the input file (bundled example by default), tiled as needed."""
    if seconds <= 0:
        raise ConfigError(f"--seconds: expected a positive duration, got {seconds}")
    samples = read_audio_file(input_path if input_path is not None else EXAMPLE_SOUND)
    n_samples = int(round(seconds * DEVICE_STREAM.sample_rate_hz))
    return np.tile(samples, int(np.ceil(n_samples / len(samples))))[:n_samples]


def open_bench_session(pack: Pack, rig: Rig, config: BenchConfig, realtime_budget: float | None = 1.0) -> Session:
    """``pack`` on ``config`` driving ``rig``'s renderer into one ``sim://`` output."""
    return open_session(
        pack,
        rig,
        "sim://",
        runtime=config.runtime,
        precision=config.precision,
        n_threads=config.n_threads,
        realtime_budget=realtime_budget,
    )


def feed(session: Session, samples: np.ndarray, on_hops: Callable[[int], None] | None = None) -> None:
    """Feed ``samples`` one hop at a time; ``on_hops(n)`` is told every few hops how many were done."""
    done = 0
    hop = session.stream.hop
    for start in range(0, len(samples), hop):
        session.process(samples[start : start + hop])
        done += 1
        if on_hops is not None and done % PROGRESS_EVERY_HOPS == 0:
            on_hops(PROGRESS_EVERY_HOPS)
    if on_hops is not None and done % PROGRESS_EVERY_HOPS:
        on_hops(done % PROGRESS_EVERY_HOPS)


def _fresh_telemetry(telemetry: Telemetry, n_calls: int) -> Telemetry:
    """Empty telemetry like ``telemetry`` whose latency window holds all ``n_calls`` calls of the measured run."""
    return Telemetry(
        hop_s=telemetry.hop_s,
        runtime=telemetry.runtime,
        precision=telemetry.precision,
        n_threads=telemetry.n_threads,
        window_calls=max(telemetry.window_calls, n_calls),
    )


def measure_configuration(
    pack: Pack, rig: Rig, config: BenchConfig, samples: np.ndarray, on_hops: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Run ``samples`` through one configuration and return its flat result record (see module docstring)."""
    temperature_before = read_temperatures()
    session = open_bench_session(pack, rig, config)
    pipeline = session.pipeline
    with session:
        feed(session, samples[: int(WARMUP_S * DEVICE_STREAM.sample_rate_hz)])
        session.reset()
        pipeline.telemetry = _fresh_telemetry(pipeline.telemetry, int(np.ceil(len(samples) / pipeline.hop)))
        rss_before_mib, _ = process_rss_mib()
        peak_scope = "run" if _reset_peak_rss() else "process"
        cpu_before_s = _cpu_seconds()
        wall_started = time.perf_counter()
        feed(session, samples, on_hops)
        wall_s = time.perf_counter() - wall_started
        cpu_s = _cpu_seconds() - cpu_before_s
        rss_after_mib, peak_rss_mib = process_rss_mib()
        summary = pipeline.telemetry.summary()
        hop_stats = latency_stats_ms(hop_seconds(pipeline.telemetry))
        # A separate short pass traces Python allocations, so tracing never slows the timed pass.
        session.reset()
        pipeline.telemetry = _fresh_telemetry(pipeline.telemetry, 0)
        tracemalloc.start()
        feed(session, samples[: int(MEMORY_PASS_S * DEVICE_STREAM.sample_rate_hz)])
        _, python_peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    if peak_rss_mib is None:  # no /proc: the process-lifetime peak (KiB on Linux, bytes on macOS)
        max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_rss_mib = max_rss / (BYTES_PER_MIB if sys.platform == "darwin" else KIB_PER_MIB)
        peak_scope = "process"
    return {
        "runtime": summary["runtime"],
        "precision": config.precision,
        "n_threads": config.n_threads,
        "audio_seconds": summary["audio_seconds"],
        "n_hops": summary["n_hops"],
        "hop_ms": summary["hop_ms"],
        "n_dropped_hops": summary["n_dropped_hops"],
        "real_time_factor": summary["real_time_factor"],
        "compute_seconds": summary["compute_seconds"],
        "wall_seconds": wall_s,
        "cpu_seconds": cpu_s,
        "cpu_per_audio_second": cpu_s / summary["audio_seconds"] if summary["audio_seconds"] else 0.0,
        "hop": hop_stats,
        "stages": summary["stages"],
        "memory": {
            "peak_rss_mib": peak_rss_mib,
            "peak_rss_scope": peak_scope,
            "rss_growth_mib": (rss_after_mib - rss_before_mib)
            if rss_before_mib is not None and rss_after_mib is not None
            else None,
            "python_peak_mib": python_peak_bytes / BYTES_PER_MIB,
        },
        "temperature_before": temperature_before,
        "temperature_after": read_temperatures(),
        "throttling_after": read_throttling(),
    }


def plan_configurations(runtimes: list[str], precisions: list[str], thread_counts: list[int]) -> list[BenchConfig]:
    return [
        BenchConfig(runtime, precision, n_threads)
        for runtime in runtimes
        for precision in precisions
        for n_threads in thread_counts
    ]


def run_bench(
    pack_path: str | Path | None = None,
    runtimes: list[str] | None = None,
    precisions: list[str] | None = None,
    thread_counts: list[int] | None = None,
    seconds: float = 10.0,
    input_path: str | Path | None = None,
    rig_path: str | Path | None = None,
    on_start: Callable[[BenchConfig, int], None] | None = None,
    on_hops: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Measure every configuration; one that the pack or this machine cannot run is listed under ``unavailable``.

    ``on_start(config, n_hops)`` is called before each configuration, ``on_hops(n)`` as hops complete.
    """
    pack = load_pack(pack_path)
    rig = load_rig(rig_path) if rig_path is not None else default_rig()
    samples = bench_audio(seconds, input_path)
    configs = plan_configurations(runtimes or ["onnx", "litert"], precisions or ["fp32", "int8"], thread_counts or [1])
    machine = machine_info()
    results, unavailable = [], []
    n_hops = int(np.ceil(len(samples) / (pack.separator or pack.tagger).hop))  # type: ignore[union-attr]
    for config in configs:
        if on_start is not None:
            on_start(config, n_hops)
        try:
            results.append(measure_configuration(pack, rig, config, samples, on_hops))
        except RuntimeUnavailableError as error:
            unavailable.append(
                {
                    "runtime": config.runtime,
                    "precision": config.precision,
                    "n_threads": config.n_threads,
                    "reason": str(error),
                }
            )
            if on_hops is not None:
                on_hops(n_hops)
    return {
        "schema": REPORT_SCHEMA,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "sense bench",
        "machine": machine,
        "throttling_before": read_throttling(),
        "settings": {
            "pack": f"{pack.name} {pack.version}",
            "pack_path": str(pack.source),
            "rig": rig.name,
            "input": str(input_path or EXAMPLE_SOUND.name),
            "seconds": seconds,
            "warmup_seconds": WARMUP_S,
            "block": "one hop per call",
            "realtime_budget": 1.0,
        },
        "results": results,
        "unavailable": unavailable,
    }


# ----------------------------------------------------------------------------------------------- rendering


def _ms3(stats: dict[str, float]) -> str:
    return f"{stats['p50_ms']:.3f}/{stats['p95_ms']:.3f}/{stats['p99_ms']:.3f}"


def _temperature_text(reading: dict[str, Any]) -> str:
    return f"{reading['max_c']:.1f} °C" if reading.get("exposed") else NOT_EXPOSED


def _throttling_text(reading: dict[str, Any]) -> str:
    if not reading.get("exposed"):
        return NOT_EXPOSED
    return f"{reading['raw']} ({', '.join(reading['flags']) or 'none'})"


def summary_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The headline table of a report: one row per configuration (header, rows), shared by Markdown and rich."""
    header = [
        "runtime",
        "precision",
        "threads",
        "RTF",
        "hop ms p50/p95/p99",
        "max ms",
        "CPU s/s",
        "peak MiB",
        "dropped",
        "temp",
    ]
    rows = []
    for result in report["results"]:
        rows.append(
            [
                result["runtime"],
                result["precision"],
                str(result["n_threads"]),
                f"{result['real_time_factor']:.4f}",
                _ms3(result["hop"]),
                f"{result['hop']['max_ms']:.3f}",
                f"{result['cpu_per_audio_second']:.4f}",
                f"{result['memory']['peak_rss_mib']:.1f}",
                str(result["n_dropped_hops"]),
                _temperature_text(result["temperature_after"]),
            ]
        )
    return header, rows


def stage_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per-stage p50 / p95 / p99 ms per hop, one row per configuration."""
    header = ["runtime", "precision", "threads", *[f"{stage} p50/p95/p99" for stage in STAGES]]
    rows = [
        [r["runtime"], r["precision"], str(r["n_threads"]), *[_ms3(r["stages"][stage]) for stage in STAGES]]
        for r in report["results"]
    ]
    return header, rows


def precision_notes(report: dict[str, Any]) -> list[str]:
    """What int8 bought in this run, per runtime and thread count measured at both precisions: "int8 is for size
    only" where it was not faster than fp32, with both real-time factors."""
    rtf = {(r["runtime"], r["precision"], r["n_threads"]): r["real_time_factor"] for r in report["results"]}
    notes = []
    for (runtime, precision, n_threads), int8_rtf in rtf.items():
        fp32_rtf = rtf.get((runtime, "fp32", n_threads))
        if precision != "int8" or fp32_rtf is None:
            continue
        verdict = "int8 is for size only" if int8_rtf >= fp32_rtf else "int8 is faster"
        notes.append(
            f"{runtime} × {n_threads} threads: {verdict} in this run (RTF int8 {int8_rtf:.4f} vs fp32 {fp32_rtf:.4f})"
        )
    if notes:  # one timed run can be noisy: the deterministic count the defaults follow, beside it
        from edge.runners.cost import int8_note

        notes.append(f"measured cost: {int8_note()}")
    return notes


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(row) + " |" for row in rows],
    ]


def machine_line(machine: dict[str, Any]) -> str:
    """One line naming the machine, for table captions."""
    memory = f", {machine['memory_total_mib'] / KIB_PER_MIB:.1f} GiB" if machine.get("memory_total_mib") else ""
    board = f"{machine['board']}, " if machine.get("board") not in (None, NOT_EXPOSED) else ""
    return (
        f"{board}{machine['cpu']} ({machine['architecture']}, {machine['n_usable_cpus']} usable cores{memory}), "
        f"{machine['os']}, Python {machine['python']}, onnxruntime {machine['onnxruntime']}, "
        f"LiteRT {machine['litert']}"
    )


def to_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: settings, machine, the headline table, per-stage latency, memory, thermals."""
    settings = report["settings"]
    lines = [
        f"# sense bench — {settings['pack']}",
        "",
        f"{settings['seconds']:g} s of `{settings['input']}` fed one hop at a time to the `{settings['rig']}` rig "
        f"(sim output), no-backlog budget {settings['realtime_budget']:g}, after {settings['warmup_seconds']:g} s "
        f"of warm-up; {report['created_utc']}.",
        "",
        f"**Machine:** {machine_line(report['machine'])}; load average {report['machine']['load_average_1min']}.",
        "",
        "## Summary",
        "",
    ]
    lines += _markdown_table(*summary_rows(report))
    lines += [
        "",
        "RTF: compute time / audio time (all stages). hop ms: one hop's wall time over all stages. "
        "CPU s/s: process CPU seconds per second of audio (all threads). dropped: hops rendered DSP-only "
        "to avoid a backlog.",
    ]
    lines += ["", *[f"- {note}" for note in precision_notes(report)]] if precision_notes(report) else []
    lines += ["", "## Per stage (ms per hop)", ""]
    lines += _markdown_table(*stage_rows(report))
    lines += ["", "## Memory and board", ""]
    header = [
        "runtime",
        "precision",
        "threads",
        "peak RSS MiB",
        "RSS growth MiB",
        "Python heap peak MiB",
        "temperature before → after",
        "throttling",
    ]
    rows = [
        [
            r["runtime"],
            r["precision"],
            str(r["n_threads"]),
            f"{r['memory']['peak_rss_mib']:.1f} ({r['memory']['peak_rss_scope']})",
            f"{r['memory']['rss_growth_mib']:.2f}" if r["memory"]["rss_growth_mib"] is not None else "n/a",
            f"{r['memory']['python_peak_mib']:.2f}",
            f"{_temperature_text(r['temperature_before'])} → {_temperature_text(r['temperature_after'])}",
            _throttling_text(r["throttling_after"]),
        ]
        for r in report["results"]
    ]
    lines += _markdown_table(header, rows)
    if report["unavailable"]:
        lines += ["", "## Not measured", ""]
        lines += [
            f"- {u['runtime']} {u['precision']} × {u['n_threads']} threads: {u['reason']}"
            for u in report["unavailable"]
        ]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    """Write ``report`` as JSON (``.json``) or Markdown (``.md``), chosen by the file name."""
    import json

    path = Path(path)
    if path.suffix == ".json":
        path.write_text(json.dumps(report, indent=2) + "\n")
    elif path.suffix == ".md":
        path.write_text(to_markdown(report))
    else:
        raise ConfigError(f"--report {path}: expected a file name ending in .json or .md")
    return path


def emit(report: dict[str, Any], markdown: str, json_path: Path | None, markdown_path: Path | None) -> None:
    """What every benchmark script does at the end: print ``markdown``, save the report as JSON and the Markdown."""
    import json

    print(markdown)
    if json_path is not None:
        Path(json_path).write_text(json.dumps(report, indent=2) + "\n")
    if markdown_path is not None:
        Path(markdown_path).write_text(markdown)
