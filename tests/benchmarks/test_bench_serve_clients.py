"""benchmarks/bench_serve_clients.py on short settings: what it records and that every client was served — never speed."""

from __future__ import annotations

import json
from pathlib import Path

import bench_serve_clients
from edge.pack import TEST_PACK_NAME, bundled_pack_path


def test_the_serve_benchmark_alternates_phases_and_counts_what_each_client_got(tmp_path: Path) -> None:
    out = tmp_path / "serve.json"
    bench_serve_clients.main(
        seconds=3.0,
        clients=4,
        rounds=1,
        pack=str(bundled_pack_path(TEST_PACK_NAME)),
        threads=1,
        json_path=out,
        markdown=tmp_path / "serve.md",
    )
    report = json.loads(out.read_text())
    quiet, busy = report["phases"]
    assert (quiet["clients"], busy["clients"]) == (0, 4)
    assert quiet["frames_per_client_per_s_min"] is None and quiet["clients_connected_to_the_end"] is None
    assert busy["clients_connected_to_the_end"] == 4 and busy["frames_per_client_per_s_min"] > 0
    for phase in (quiet, busy):
        assert phase["n_hops"] > 0 and phase["dropped_hops"] >= 0 and phase["server_threads"] >= 2
        hop = phase["hop_ms"]
        assert 0 <= hop["p50_ms"] <= hop["p95_ms"] <= hop["p99_ms"] <= hop["max_ms"]
    assert report["n_threads"] == 1 and report["machine"]["cpu"]
    assert "| 2 | 4 |" in (tmp_path / "serve.md").read_text()
    assert set(report["summary"]) == {"0", "4"} and report["summary"]["4"]["dropped_per_1000_hops_median"] >= 0
