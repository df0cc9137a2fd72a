"""The default runtime follows measured cost (edge/runners/cost.py): cheapest first, int8 named for size only."""

from __future__ import annotations

import pytest

from edge.pack import TEST_PACK_NAME, bundled_pack_path, load_pack
from edge.runners import Runtime, importable_runtimes, preferred_runtimes, resolve_runtime
from edge.runners.cost import MEASURED_COST, board_profile, int8_note, int8_pays, runtimes_by_cost


@pytest.mark.parametrize("machine", ["aarch64", "x86_64"])
def test_runtimes_are_ranked_by_their_measured_cost(machine: str) -> None:
    ranked = runtimes_by_cost("fp32", machine)
    costs = [MEASURED_COST[machine][(runtime, "fp32")] for runtime in ranked]
    assert ranked == ["litert", "onnx"] and costs == sorted(costs)
    assert not int8_pays("onnx", machine) and not int8_pays("litert", machine)


def test_boards_without_measurements_are_ranked_like_the_pi() -> None:
    assert board_profile("arm64") == "aarch64" and board_profile("riscv64") == "aarch64"
    assert board_profile("AMD64") == "x86_64"


def test_the_int8_note_gives_the_numbers() -> None:
    note = int8_note("aarch64")
    assert note.startswith("int8 is for size only: on aarch64")
    pi = MEASURED_COST["aarch64"]
    for runtime in ("litert", "onnx"):
        assert f"{runtime} {pi[(runtime, 'int8')]:g} vs {pi[(runtime, 'fp32')]:g}" in note
    assert note.endswith("the default is fp32 on litert, the cheapest measured")


def test_the_resolver_tries_the_cheapest_installed_runtime_first() -> None:
    separator = load_pack(bundled_pack_path(TEST_PACK_NAME)).separator
    assert separator is not None
    assert preferred_runtimes() == [Runtime.LITERT, Runtime.ONNX]
    expected = importable_runtimes()[0]  # LiteRT where it loads; ONNX otherwise
    assert resolve_runtime(separator, None, "fp32")[0] is expected
