"""Instructions per hop of single pieces of the pipeline on the Raspberry Pi 4 profile: the bare graphs, the model
stages around them, the STFT, the renderer, the writes (what ``bench_instructions.py --stages`` sums into stages).

    sudo .venv/bin/python benchmarks/bench_pieces.py --piece separator-graph --piece separator --piece tagger
    sudo .venv/bin/python benchmarks/bench_pieces.py --config dsp --piece stft --piece render --piece output

Each piece runs under the counting qemu of ``bench_instructions.py`` (same root filesystem, plugin, string-hash seed,
one OpenBLAS thread, one uncounted run first) for two hop counts of the bundled example after a common set-up
(``benchmarks/piece_instructions.py``); the difference per hop, minus the set-up's own (the piece ``setup``), is the
piece's cost per hop, repeatable to ~±1 k instructions. ``output`` is reported beyond ``render`` (it renders, then
writes). Needs ``sudo scripts/pi_check.sh check bookworm`` once, as ``bench_instructions.py`` does.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from bench_instructions import (  # benchmarks/ is on the path when this script runs
    CONFIGS,
    COUNT_LINE,
    CPU,
    GUEST_PLUGIN,
    GUEST_PREAMBLE,
    GUEST_PYTHON,
    GUEST_QEMU,
    GUEST_WORK,
    board_rootfs,
    run_in_guest,
    write_inputs,
)
from edge.bench import emit
from piece_instructions import PIECES

GUEST_SCRIPT = "/src/benchmarks/piece_instructions.py"
HOP_S = 0.008
"""The device stream's hop (edge.stream.DEVICE_STREAM: 128 samples at 16 kHz): M per audio second = k per hop / 8."""


def guest_lines(config: str, pieces: list[str], hop_counts: tuple[int, int], audio: str) -> list[str]:
    qemu, python = GUEST_QEMU, GUEST_PYTHON
    warm_up = [*qemu, python, GUEST_SCRIPT, audio, "setup", str(hop_counts[0]), *CONFIGS[config]]
    lines = [f"echo '== {config} warm-up'; {shlex.join(warm_up)} > /dev/null"]
    for piece in pieces:
        for n_hops in hop_counts:
            tag = f"piece-{config}-{piece}-{n_hops}"
            plugin = ["-plugin", f"{GUEST_PLUGIN},out={GUEST_WORK}/{tag}.count"]
            command = [*qemu, *plugin, python, GUEST_SCRIPT, audio, piece, str(n_hops), *CONFIGS[config]]
            lines.append(f"echo '== {tag}'; {shlex.join(command)} > /dev/null")
    return lines


def count(work: Path, config: str, piece: str, n_hops: int) -> int:
    match = COUNT_LINE.search((work / f"piece-{config}-{piece}-{n_hops}.count").read_text())
    assert match, f"no count for {config} {piece} {n_hops}"
    return int(match.group(1))


def main(
    piece: Annotated[list[str], typer.Option(help=f"Pieces (repeatable): {', '.join(PIECES[1:])}.")],
    config: Annotated[str, typer.Option(help=f"Configuration: {', '.join(CONFIGS)}.")] = "litert-fp32",
    hops: Annotated[tuple[int, int], typer.Option(help="The two hop counts differenced (at most 1000: 8 s).")] = (
        100,
        400,
    ),
    suite: Annotated[str, typer.Option(help="Root filesystem of scripts/pi_check.sh.")] = "bookworm",
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the results as JSON here.")] = None,
) -> None:
    unknown = [name for name in piece if name not in PIECES]
    if unknown or config not in CONFIGS:
        raise typer.BadParameter(f"unknown piece(s) {unknown} or configuration {config!r}")
    if not 0 < hops[0] < hops[1] <= 1000:
        raise typer.BadParameter(f"--hops {hops[0]} {hops[1]}: expected 0 < first < second <= 1000")
    rootfs = board_rootfs(suite)
    audio = write_inputs(rootfs, [8.0])[8.0]
    counted = list(dict.fromkeys(["setup", *piece, *(["render"] if "output" in piece else [])]))
    run_in_guest(rootfs, suite, "\n".join([*GUEST_PREAMBLE, *guest_lines(config, counted, hops, audio)]) + "\n")
    work = rootfs / GUEST_WORK.lstrip("/")
    per_hop = {
        name: (count(work, config, name, hops[1]) - count(work, config, name, hops[0])) / (hops[1] - hops[0])
        for name in counted
    }
    results: list[dict[str, Any]] = []
    for name in piece:
        own = per_hop[name] - per_hop["render" if name == "output" else "setup"]
        results.append({"piece": name, "instructions_per_hop": own, "instructions_per_audio_s": own / HOP_S})
    lines = [
        f"Retired aarch64 instructions per hop of each piece (`{config}`, 1 thread, bundled pack and example, "
        f"`-cpu {CPU}`, {hops[1]} - {hops[0]} hops differenced, the set-up's {per_hop['setup'] / 1e3:.1f} k per hop "
        "subtracted):",
        "",
        "| piece | k instructions per hop | M per audio second |",
        "|---|---|---|",
        *(
            f"| {row['piece']} | {row['instructions_per_hop'] / 1e3:.1f} | {row['instructions_per_audio_s'] / 1e6:.2f} |"
            for row in results
        ),
    ]
    settings = {"config": config, "hops": list(hops), "suite": suite, "cpu": CPU, "command": " ".join(sys.argv)}
    emit({"settings": settings, "results": results}, "\n".join(lines) + "\n", json_path, None)


if __name__ == "__main__":
    typer.run(main)
