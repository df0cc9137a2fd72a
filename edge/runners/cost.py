"""What each runtime and precision costs, as measured, and the choices that follow from it.

The default runtime is the one that was measured cheapest on the board, not a fixed favourite; the default
precision is fp32 because int8 was measured *more* expensive than fp32 on every runtime and board (its artifacts
are a quarter of the size: int8 is for size only until the int8 graphs get fully-integer kernels).

Costs are of the whole ``sense run`` pipeline on the bundled pack, 1 thread, after issue 16's renderer work
(docs/hot_path.md, docs/benchmarks.md):

- ``aarch64`` (Raspberry Pi 4 profile; sense-default 1.9.0, after the second hot-path round, the direct LiteRT
  runner, the band powers in one product, the LiteRT separator in one XNNPACK partition, the runner's hot path and
  the tagger's context buffer, the LiteRT states kept in the interpreter; ``benchmarks/results/instructions-session12.json``, the repeatable counter): M aarch64 instructions per audio second, counted under qemu
  (``benchmarks/bench_instructions.py``, docs/benchmarks.md) — deterministic, so it decides;
- ``x86_64``: real-time factor of ``sense bench`` (README table: sense-default 1.2.0, one run on a shared 2-core
  EPYC; the ranking is the same in every later run, e.g. 1.8.0's: LiteRT fp32 0.0235, int8 0.0336, ONNX fp32 0.0627,
  int8 0.0833).
"""

from __future__ import annotations

import platform

MEASURED_COST: dict[str, dict[tuple[str, str], float]] = {
    "aarch64": {("onnx", "fp32"): 304.0, ("onnx", "int8"): 335.4, ("litert", "fp32"): 154.5, ("litert", "int8"): 211.3},
    "x86_64": {
        ("onnx", "fp32"): 0.0783,
        ("onnx", "int8"): 0.0905,
        ("litert", "fp32"): 0.0472,
        ("litert", "int8"): 0.0677,
    },
}
COST_UNIT = {
    "aarch64": "M instructions per audio second (Pi 4 profile, benchmarks/bench_instructions.py)",
    "x86_64": "real-time factor (sense bench)",
}
BOARD_ALIASES = {"arm64": "aarch64", "amd64": "x86_64"}
DEFAULT_BOARD = "aarch64"
"""A machine with no measurements of its own is ranked by the Pi profile's counts (what SENSE is built for)."""


def board_profile(machine: str | None = None) -> str:
    """The measured profile for ``machine`` (default: this one's ``platform.machine()``)."""
    name = (machine or platform.machine()).lower()
    name = BOARD_ALIASES.get(name, name)
    return name if name in MEASURED_COST else DEFAULT_BOARD


def runtimes_by_cost(precision: str = "fp32", machine: str | None = None) -> list[str]:
    """Runtime names, cheapest first at ``precision`` on this machine's profile (unmeasured ones last)."""
    costs = MEASURED_COST[board_profile(machine)]
    names = sorted({runtime for runtime, _ in costs})
    return sorted(names, key=lambda runtime: costs.get((runtime, precision), float("inf")))


def int8_pays(runtime: str, machine: str | None = None) -> bool:
    """Whether int8 was measured cheaper than fp32 on ``runtime`` on this machine's profile."""
    costs = MEASURED_COST[board_profile(machine)]
    return costs.get((runtime, "int8"), float("inf")) < costs.get((runtime, "fp32"), float("inf"))


def int8_note(machine: str | None = None) -> str:
    """One sentence on what int8 buys on this machine's profile, with the measured numbers."""
    board = board_profile(machine)
    costs = MEASURED_COST[board]
    pairs = ", ".join(
        f"{runtime} {costs[(runtime, 'int8')]:g} vs {costs[(runtime, 'fp32')]:g}"
        for runtime in runtimes_by_cost("fp32", machine)
        if (runtime, "int8") in costs and (runtime, "fp32") in costs
    )
    cheaper = [runtime for runtime in runtimes_by_cost("fp32", machine) if int8_pays(runtime, machine)]
    if cheaper:
        return f"int8 is cheaper than fp32 on {', '.join(cheaper)} here ({board}, int8 vs fp32 {COST_UNIT[board]}: {pairs})"
    return (
        f"int8 is for size only: on {board} it costs more than fp32 on every runtime (int8 vs fp32, "
        f"{COST_UNIT[board]}: {pairs}); the default is fp32 on {runtimes_by_cost('fp32', machine)[0]}, "
        "the cheapest measured"
    )
