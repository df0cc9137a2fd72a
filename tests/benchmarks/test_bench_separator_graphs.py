"""benchmarks/bench_separator_graphs.py on the tiny test pack against itself: a row per runtime and precision, the
ONNX node counts of both sides, the time per hop and the before/after ratio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench_separator_graphs

TEST_PACK = Path(__file__).resolve().parents[2] / "edge" / "data" / "packs" / "sense-test"


def test_both_packs_are_streamed_through_every_shipped_artifact(tmp_path: Path) -> None:
    out = tmp_path / "graphs.json"
    bench_separator_graphs.main(TEST_PACK, TEST_PACK, rounds=3, hops=20, json_out=out)
    report = json.loads(out.read_text())
    rows = {(row["runtime"], row["precision"]): row for row in report["results"]}
    assert set(rows) == {("onnx", "fp32"), ("onnx", "int8"), ("litert", "fp32"), ("litert", "int8")}
    for (runtime, _), row in rows.items():
        nodes = row["nodes"]
        assert (
            (nodes["before"] == nodes["after"] > 0) if runtime == "onnx" else nodes == {"before": None, "after": None}
        )
        assert row["us_per_hop"]["before"] > 0 and row["us_per_hop"]["after"] > 0
        assert row["ratio"] == pytest.approx(row["us_per_hop"]["before"] / row["us_per_hop"]["after"])
    assert report["settings"]["hops"] == 20
