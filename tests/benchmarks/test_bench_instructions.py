"""The instruction-count benchmark's parts that run without the arm64 root filesystem: the TCG plugin, compiled
and loaded by the same dynamically linked qemu-user (here emulating x86-64, so a host program is the guest), counts
deterministically and linearly in the work done - the property the differencing of two input lengths relies on -
and the guest script runs every configuration at both lengths under it. The board scripts parse as bash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench_instructions import CONFIGS, GUEST_PLUGIN, RUN, STAGE_SCRIPT, guest_script, levels, stage_table
from edge.stream import DEVICE_STREAM

ROOT = Path(__file__).resolve().parents[2]


def _count(qemu: str, plugin: Path, out: Path, *program: str) -> int:
    subprocess.run([qemu, "-plugin", f"{plugin},out={out}", *program], check=True, capture_output=True)
    kind, value = out.read_text().split()
    assert kind == "instructions"
    return int(value)


def test_the_plugin_counts_deterministically_and_in_proportion_to_the_work(tmp_path: Path) -> None:
    qemu = shutil.which("qemu-x86_64")
    assert qemu, "qemu-user is installed by scripts/setup.sh"
    plugin = tmp_path / "insn_count.so"
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-O2",
            "-Wall",
            "-Werror",
            "-o",
            str(plugin),
            str(ROOT / "benchmarks/qemu/insn_count.c"),
        ],
        check=True,
    )
    data = os.urandom(1 << 20)
    for n_mib in (1, 2, 3):
        (tmp_path / f"{n_mib}.bin").write_bytes(data * n_mib)
    counts = [
        _count(qemu, plugin, tmp_path / "count", "/usr/bin/sha256sum", str(tmp_path / f"{n}.bin")) for n in (1, 2, 3)
    ]
    assert _count(qemu, plugin, tmp_path / "count", "/usr/bin/sha256sum", str(tmp_path / "1.bin")) == counts[0]
    per_mib = [counts[1] - counts[0], counts[2] - counts[1]]
    assert per_mib[0] > 1_000_000 and abs(per_mib[1] - per_mib[0]) / per_mib[0] < 0.001
    bad = subprocess.run([qemu, "-plugin", f"{plugin},colour=blue", "/bin/true"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown argument 'colour=blue'" in bad.stderr


def test_the_guest_script_runs_each_configuration_at_both_lengths_under_the_plugin() -> None:
    runs = [(name, RUN, length_s, 0) for name in CONFIGS for length_s in (2.0, 8.0)]
    script = guest_script(runs, {2.0: "/w/example-2s.wav", 8.0: "/w/example-8s.wav"})
    commands = [line for line in script.splitlines() if "-plugin" in line]  # the counted runs
    assert len(commands) == 2 * len(CONFIGS)
    onnx_int8_long = next(line for line in commands if "== onnx-int8-8s-0" in line)
    for part in (
        "-cpu cortex-a72",
        f"-plugin {GUEST_PLUGIN},out=",
        "/w/example-8s.wav",
        "--threads 1",
        "--no-drop",
        "--runtime onnx --precision int8",
    ):
        assert part in onnx_int8_long
    assert "--no-models" in next(line for line in commands if "== dsp-2s-0" in line)
    assert all("--pack" not in line for line in commands)  # the bundled pack unless one is given
    assert "PYTHONHASHSEED=0" in script.splitlines()[1]  # a random string-hash seed per run made counts vary 1.25 %
    warm_ups = [line for line in script.splitlines() if "warm-up" in line]
    assert len(warm_ups) == len(CONFIGS) and all("-plugin" not in line for line in warm_ups)
    for config in CONFIGS:  # each configuration's uncounted run comes before its first counted one
        lines = script.splitlines()
        first_counted = next(i for i, line in enumerate(lines) if f"== {config}-2s-0" in line)
        assert any(f"== {config} warm-up" in line for line in lines[:first_counted])


def test_a_given_pack_is_run_by_every_configuration() -> None:
    runs = [(name, RUN, 2.0, 0) for name in ("onnx-fp32", "litert-int8")]
    script = guest_script(runs, {2.0: "/w/example-2s.wav"}, pack="/w/pack")
    commands = [line for line in script.splitlines() if "-plugin" in line]  # the counted runs
    assert len(commands) == 2 and all(line.count("--pack /w/pack") == 1 for line in commands)


def test_with_stages_the_guest_script_also_runs_every_stage_prefix() -> None:
    runs = [("dsp", level, length_s, 0) for level in levels(True) for length_s in (1.0, 3.0)]
    commands = [
        line for line in guest_script(runs, {1.0: "/w/a.wav", 3.0: "/w/b.wav"}).splitlines() if "-plugin" in line
    ]
    assert len(commands) == 2 * len(levels(True))
    renderer_long = next(line for line in commands if "== dsp-render-3s-0" in line)
    assert f"{STAGE_SCRIPT} /w/b.wav --upto render --no-models" in renderer_long
    assert "edge.cli run /w/a.wav" in next(line for line in commands if "== dsp-1s-0" in line)


def test_the_stage_table_gives_each_stage_and_its_share() -> None:
    stages = {"source": 5e6, "stft": 10e6, "separator": 0.0, "tagger": 0.0, "render": 20e6, "output": 5e6, RUN: 10e6}
    rows = stage_table([{"config": "dsp", "instructions_per_audio_s": 50e6, "stages": stages}])
    assert (
        rows[2]
        == "| dsp | 5.0 (10 %) | 10.0 (20 %) | 0.0 (0 %) | 0.0 (0 %) | 20.0 (40 %) | 5.0 (10 %) | 10.0 (20 %) | 50.0 |"
    )


@pytest.mark.parametrize("config", ["dsp", "onnx-fp32"])
def test_every_stage_level_runs_here(tmp_path: Path, config: str) -> None:
    import soundfile

    from edge.audio_source import read_audio_file

    wav = tmp_path / "clip.wav"
    soundfile.write(str(wav), read_audio_file(ROOT / "edge/data/example.flac")[:4000], DEVICE_STREAM.sample_rate_hz)
    for level in levels(True)[:-1]:
        result = subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks/stage_instructions.py"),
                str(wav),
                "--upto",
                level,
                *CONFIGS[config],
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip() == f"{level}: {0 if level == 'source' else 4000 // 128} hops"


@pytest.mark.parametrize(
    "script", ["pi_check.sh", "pi_check_guest.sh", "device_setup.sh", "setup.sh", "apt_missing.sh"]
)
def test_board_scripts_parse(script: str) -> None:
    result = subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_pieces_guest_script_counts_every_piece_at_both_hop_counts_after_one_warm_up() -> None:
    from bench_pieces import guest_lines

    lines = guest_lines("litert-fp32", ["setup", "separator", "render"], (100, 400), "/w/example-8s.wav")
    counted = [line for line in lines if "-plugin" in line]
    assert len(counted) == 6 and "-plugin" not in lines[0] and "warm-up" in lines[0]
    separator_long = next(line for line in counted if "== piece-litert-fp32-separator-400" in line)
    for part in ("-cpu cortex-a72", "piece_instructions.py /w/example-8s.wav separator 400", "--runtime litert"):
        assert part in separator_long


@pytest.mark.parametrize("config", ["dsp", "litert-fp32"])
def test_every_piece_runs_here(tmp_path: Path, config: str) -> None:
    import soundfile

    from edge.audio_source import read_audio_file
    from piece_instructions import PIECES

    wav = tmp_path / "clip.wav"
    soundfile.write(str(wav), read_audio_file(ROOT / "edge/data/example.flac")[:4000], DEVICE_STREAM.sample_rate_hz)
    model_pieces = ("-graph", "separator", "onsets", "tagger", "separate")
    for piece in PIECES:
        result = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks/piece_instructions.py"), str(wav), piece, "20", *CONFIGS[config]],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if config == "dsp" and any(name in piece for name in model_pieces):
            assert result.returncode != 0 and "no " in result.stderr, (piece, result.stderr[-2000:])
            continue
        assert result.returncode == 0, (piece, result.stderr[-2000:])
        assert result.stdout.strip().endswith(f"{piece}: 20 hops")
    too_long = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/piece_instructions.py"), str(wav), "stft", "1000", *CONFIGS[config]],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    message = " ".join(too_long.stderr.replace("│", " ").split())  # typer's box wraps the message
    assert too_long.returncode != 0 and f"has {4000 // 128} hops; 1000 asked for" in message
