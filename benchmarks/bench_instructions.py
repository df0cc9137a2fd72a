"""Retired aarch64 instructions per audio second of ``sense run``: a cost that does not depend on a noisy machine.

    sudo scripts/pi_check.sh check bookworm        # once: the arm64 root filesystem with the board install
    sudo .venv/bin/python benchmarks/bench_instructions.py [--suite bookworm] [--short-s 2] [--long-s 8]
        [--config onnx-fp32 --config dsp ...] [--repeats 1] [--pack DIR] [--json out.json] [--markdown out.md]

Each configuration runs ``sense run FILE --threads 1 --no-drop`` on the first ``short_s`` and the first ``long_s``
seconds of the bundled example, under user-mode ``qemu-aarch64 -cpu cortex-a72`` (a Raspberry Pi 4 core: no
dot-product instructions) with a TCG plugin (``benchmarks/qemu/insn_count.c``) that counts the guest instructions
the process executes, inside the cached Debian arm64 root filesystem of ``scripts/pi_check.sh`` (its venv: the
runtime install, no torch), with this checkout's ``edge`` on PYTHONPATH and a Cortex-A72 ``/proc/cpuinfo`` bound
over the host's (onnxruntime crashes on an x86 one). The two counts are differenced, so start-up (imports, loading
the pack) cancels: instructions per audio second = (long - short) / (long_s - short_s). Needs root (chroot, mounts)
and gcc; not run in CI.
"""

from __future__ import annotations

import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from edge.bench import emit
from stage_instructions import LEVELS  # benchmarks/ is on the path when this script runs

ROOT = Path(__file__).resolve().parents[1]

CONFIGS: dict[str, list[str]] = {
    "dsp": ["--no-models"],
    "onnx-fp32": ["--runtime", "onnx", "--precision", "fp32"],
    "onnx-int8": ["--runtime", "onnx", "--precision", "int8"],
    "litert-fp32": ["--runtime", "litert", "--precision", "fp32"],
    "litert-int8": ["--runtime", "litert", "--precision", "int8"],
}
CACHE = Path(os.environ.get("SENSE_ROOTFS_CACHE", "/var/cache/sense-rootfs"))
GUEST_VENV = "/opt/sense-venv"
GUEST_WORK = "/var/tmp/sense-bench"
GUEST_PLUGIN = "/usr/local/lib/sense-insn-count.so"
CPU = "cortex-a72"
COUNT_LINE = re.compile(r"instructions (\d+)")


def build_plugin(rootfs: Path) -> None:
    """Compile the counting plugin (x86-64, loaded by the host's qemu-aarch64) into the root filesystem."""
    target = rootfs / GUEST_PLUGIN.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", str(target), str(ROOT / "benchmarks/qemu/insn_count.c")],
        check=True,
    )


def write_inputs(rootfs: Path, lengths_s: list[float]) -> dict[float, str]:
    """The first N seconds of the bundled example, as 16 kHz WAV files inside the root filesystem."""
    import soundfile

    from edge import DEVICE_SAMPLE_RATE_HZ as rate_hz
    from edge.audio_source import read_audio_file

    samples = read_audio_file(ROOT / "edge/data/example.flac")
    work = rootfs / GUEST_WORK.lstrip("/")
    work.mkdir(parents=True, exist_ok=True)
    paths = {}
    for length_s in lengths_s:
        n_samples = int(round(length_s * rate_hz))
        if n_samples > len(samples):
            raise typer.BadParameter(f"the example is {len(samples) / rate_hz:.1f} s; {length_s} s is longer")
        name = f"example-{length_s:g}s.wav"
        soundfile.write(str(work / name), samples[:n_samples], rate_hz)
        paths[length_s] = f"{GUEST_WORK}/{name}"
    return paths


STAGE_SCRIPT = "/src/benchmarks/stage_instructions.py"
RUN = "run"
"""The level name of the whole ``sense run``; the other levels are stage_instructions.py's ``--upto`` values."""
STAGE_NAMES = {
    "source": "decode + framing",
    "stft": "STFT",
    "separator": "separator",
    "tagger": "tagger",
    "render": "renderer",
    "output": "outputs",
    RUN: "run loop + telemetry",
}
"""Per level, the stage its count adds to the level before it (in stage_instructions.LEVELS order, then RUN)."""


def levels(stages: bool) -> list[str]:
    """The levels counted per configuration: the whole run, and with ``stages`` every stage prefix before it."""
    return [*LEVELS, RUN] if stages else [RUN]


def copy_pack(rootfs: Path, pack: Path) -> str:
    """A model pack directory copied into the root filesystem; returns its path there."""
    import shutil

    if not (pack / "manifest.json").is_file():
        raise typer.BadParameter(f"{pack}: not a pack directory (no manifest.json)")
    target = rootfs / GUEST_WORK.lstrip("/") / "pack"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(pack, target)
    return f"{GUEST_WORK}/pack"


def guest_script(runs: list[tuple[str, str, float, int]], inputs: dict[float, str], pack: str | None = None) -> str:
    """One shell script for the guest: every (config, level, length, repeat) under the counting qemu (``sense run``
    on ``pack``, a path in the guest, else the bundled pack)."""
    # compile the checkout's modules first: the first run would otherwise count writing __pycache__ (~150 M)
    # one OpenBLAS thread (numpy's matrix products are tiny): its idle worker threads otherwise add ~10 M instructions
    # of start-up and a few per mille of run-to-run jitter to the count
    # a fixed string-hash seed: with Python's per-process random one, dict and set orders differ from run to run, and
    # so does the count (1 s of audio: 1,385.9-1,403.3 M over three runs, 1.25 %; with the seed fixed 1,387.776-
    # 1,387.788 M, 0.001 %); differencing two lengths tripled that spread
    lines = list(GUEST_PREAMBLE)
    qemu, python = GUEST_QEMU, GUEST_PYTHON
    warmed: set[str] = set()
    for config, level, length_s, repeat in runs:
        tag = run_tag(config, level, length_s, repeat)
        if config not in warmed:  # one uncounted run first: the first run of a session counted ~16 M (1 %) more
            warmed.add(config)
            warm_up = [*qemu, python, *sense_run_program(inputs[length_s], pack), *CONFIGS[config]]
            lines.append(f"echo '== {config} warm-up'; {shlex.join(warm_up)} > /dev/null")
        if level == RUN:
            program = sense_run_program(inputs[length_s], pack)
        else:
            program = [STAGE_SCRIPT, inputs[length_s], "--upto", level]
        plugin = ["-plugin", f"{GUEST_PLUGIN},out={GUEST_WORK}/{tag}.count"]
        command = [*qemu, *plugin, python, *program, *CONFIGS[config]]
        lines.append(f"echo '== {tag}'; {shlex.join(command)} > {GUEST_WORK}/{tag}.json")
    return "\n".join(lines) + "\n"


GUEST_PREAMBLE = (
    "set -e",
    "export PYTHONPATH=/src OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0",
    f"{GUEST_VENV}/bin/python -m compileall -q /src/edge /src/benchmarks",
)
"""The first lines of every guest script (why each setting: :func:`guest_script`)."""
GUEST_QEMU = ["/usr/local/bin/qemu-aarch64", "-cpu", CPU]
GUEST_PYTHON = f"{GUEST_VENV}/bin/python"


def board_rootfs(suite: str) -> Path:
    """The cached root filesystem of ``suite`` with the board install, its counting plugin built; a clear error if
    ``scripts/pi_check.sh check SUITE`` has not made it yet."""
    rootfs = CACHE / suite
    if not (rootfs / GUEST_VENV.lstrip("/") / "bin" / "sense").exists():
        raise typer.BadParameter(f"no board install in {rootfs}: run 'sudo scripts/pi_check.sh check {suite}' first")
    build_plugin(rootfs)
    return rootfs


def run_in_guest(rootfs: Path, suite: str, script_text: str) -> None:
    """Write ``script_text`` into the root filesystem and run it there (``scripts/pi_check.sh shell``)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sh", dir=rootfs / GUEST_WORK.lstrip("/"), delete=False) as script:
        script.write(script_text)
    subprocess.run(
        ["bash", str(ROOT / "scripts/pi_check.sh"), "shell", suite, f"bash {GUEST_WORK}/{Path(script.name).name}"],
        check=True,
    )


def sense_run_program(audio: str, pack: str | None) -> list[str]:
    """Python's arguments for ``sense run`` on ``audio`` as the benchmark runs it (``pack``, else the bundled one)."""
    return [
        "-m",
        "edge.cli",
        "run",
        audio,
        "--threads",
        "1",
        "--no-drop",
        "--json",
        *(["--pack", pack] if pack else []),
    ]


def run_tag(config: str, level: str, length_s: float, repeat: int) -> str:
    return f"{config}-{length_s:g}s-{repeat}" if level == RUN else f"{config}-{level}-{length_s:g}s-{repeat}"


def per_audio_second(
    work: Path, config: str, level: str, short_s: float, long_s: float, repeats: int
) -> tuple[list[float], dict[float, list[int]]]:
    """Instructions per audio second of each repeat ((long - short) / (long_s - short_s)) and the raw counts."""
    counts: dict[float, list[int]] = {}
    for length_s in (short_s, long_s):
        for repeat in range(repeats):
            match = COUNT_LINE.search((work / f"{run_tag(config, level, length_s, repeat)}.count").read_text())
            assert match, f"no count for {config} {level} {length_s} s"
            counts.setdefault(length_s, []).append(int(match.group(1)))
    per_s = [
        (long_count - short_count) / (long_s - short_s)
        for short_count, long_count in zip(counts[short_s], counts[long_s])
    ]
    return per_s, counts


def stage_table(results: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: per configuration, each stage's M instructions per audio second and share of the whole."""
    names = list(STAGE_NAMES)
    lines = [
        "| configuration | " + " | ".join(STAGE_NAMES[name] for name in names) + " | whole |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for row in results:
        stages = row.get("stages")
        if not stages:
            continue
        whole = row["instructions_per_audio_s"]
        cells = [f"{stages[name] / 1e6:.1f} ({stages[name] / whole * 100:.0f} %)" for name in names]
        lines.append(f"| {row['config']} | " + " | ".join(cells) + f" | {whole / 1e6:.1f} |")
    return lines


def main(
    suite: Annotated[
        str, typer.Option(help="Root filesystem of scripts/pi_check.sh: bookworm or trixie.")
    ] = "bookworm",
    short_s: Annotated[float, typer.Option(help="Shorter input (s).")] = 2.0,
    long_s: Annotated[float, typer.Option(help="Longer input (s), at most the example's 8 s.")] = 8.0,
    config: Annotated[
        Optional[list[str]], typer.Option(help=f"Configurations (repeatable): {', '.join(CONFIGS)}.")
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Runs per configuration and length (to show repeatability).")] = 1,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the results as JSON here.")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write the Markdown table here.")] = None,
    stages: Annotated[
        bool,
        typer.Option(
            help="Also count each stage (benchmarks/stage_instructions.py: the "
            "pipeline's stages up to each one, neighbours differenced)."
        ),
    ] = False,
    pack: Annotated[
        Optional[Path], typer.Option(help="Model pack directory (copied in); default: the bundled pack.")
    ] = None,
) -> None:
    configs = config or list(CONFIGS)
    unknown = [name for name in configs if name not in CONFIGS]
    if unknown:
        raise typer.BadParameter(f"unknown configuration(s) {unknown}; choose from {list(CONFIGS)}")
    if long_s <= short_s:
        raise typer.BadParameter("--long-s must be longer than --short-s")
    if pack is not None and stages:
        raise typer.BadParameter(
            "--stages counts the bundled pack (benchmarks/stage_instructions.py); leave out --pack"
        )
    rootfs = board_rootfs(suite)
    inputs = write_inputs(rootfs, [short_s, long_s])
    runs = [
        (name, level, length_s, repeat)
        for name in configs
        for level in levels(stages)
        for length_s in (short_s, long_s)
        for repeat in range(repeats)
    ]
    script_text = guest_script(runs, inputs, copy_pack(rootfs, pack) if pack else None)
    started_s = time.monotonic()
    run_in_guest(rootfs, suite, script_text)
    wall_s = time.monotonic() - started_s

    work = rootfs / GUEST_WORK.lstrip("/")
    results: list[dict[str, Any]] = []
    for name in configs:
        per_s, counts = per_audio_second(work, name, RUN, short_s, long_s, repeats)
        spread = (max(per_s) - min(per_s)) / min(per_s) if len(per_s) > 1 else 0.0
        median_per_s = float(statistics.median(per_s))
        startup = counts[short_s][0] - median_per_s * short_s
        row = {
            "config": name,
            "instructions_per_audio_s": median_per_s,
            "repeat_spread": spread,
            "startup_instructions": startup,
            "counts": {f"{k:g}s": v for k, v in counts.items()},
        }
        if stages:  # each level's count per audio second, minus the level before it
            cumulative = [
                float(statistics.median(per_audio_second(work, name, level, short_s, long_s, repeats)[0]))
                for level in levels(True)
            ]
            row["stages"] = {
                level: cumulative[i] - (cumulative[i - 1] if i else 0.0) for i, level in enumerate(levels(True))
            }
        results.append(row)
    qemu = subprocess.run(["qemu-aarch64", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    settings = {
        "suite": suite,
        "short_s": short_s,
        "long_s": long_s,
        "repeats": repeats,
        "cpu": CPU,
        "threads": 1,
        "qemu": qemu,
        "wall_s": round(wall_s, 1),
        "stages": stages,
        "command": " ".join(sys.argv),
        "pack": str(pack or "bundled"),
    }
    lines = [
        f"Retired aarch64 instructions per audio second of `sense run` (1 thread, `--no-drop`, "
        f"{f'pack {pack}' if pack else 'bundled pack'}, bundled example, default rig, sim output), counted under `{qemu}` `-cpu {CPU}` in the Debian {suite} arm64 "
        f"root filesystem of `scripts/pi_check.sh`; ({long_s:g} s - {short_s:g} s) differenced, {repeats} run(s) "
        f"each (median).",
        "",
        "| configuration | M instructions per audio second | start-up M instructions | repeat spread |",
        "|---|---|---|---|",
    ]
    for row in results:
        lines.append(
            f"| {row['config']} | {row['instructions_per_audio_s'] / 1e6:.1f} | "
            f"{row['startup_instructions'] / 1e6:.0f} | {row['repeat_spread'] * 100:.3f} % |"
        )
    if stages:
        lines += [
            "",
            f"Per stage (M instructions per audio second, share of the whole; `{STAGE_SCRIPT.removeprefix('/src/')}` "
            "runs the pipeline's stages up to each one and neighbouring levels are differenced):",
            "",
            *stage_table(results),
        ]
    emit({"settings": settings, "results": results}, "\n".join(lines) + "\n", json_path, markdown)


if __name__ == "__main__":
    typer.run(main)
