"""This checkout against an earlier revision, on this machine, in one run: real-time factor of the pipeline fed one
hop per call, per configuration, the two versions interleaved round by round so that a busy machine slows both.

    .venv/bin/python benchmarks/bench_versions.py --against 77726ea [--config dsp --config litert-fp32 ...]
        [--seconds 8] [--rounds 5] [--json out.json] [--markdown out.md]

The earlier revision is exported with ``git archive`` into a temporary directory; each (round, version,
configuration) runs in its own process with that version's ``edge`` first on the path and times
``open_session(...).process(hop)`` over the first ``seconds`` of the bundled example (1 thread, no drops, default
rig, sim output). RTF = compute seconds / audio seconds; the table gives the median over rounds and the ratio.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from edge.bench import emit

ROOT = Path(__file__).resolve().parents[1]
CONFIGS: dict[str, dict[str, Any]] = {
    "dsp": {"use_models": False},
    "onnx-fp32": {"runtime": "onnx", "precision": "fp32"},
    "onnx-int8": {"runtime": "onnx", "precision": "int8"},
    "litert-fp32": {"runtime": "litert", "precision": "fp32"},
    "litert-int8": {"runtime": "litert", "precision": "int8"},
}
TIMED = """
import json, sys, time
import numpy as np
from edge.audio_source import read_audio_file
from edge.pack import load_pack
from edge.session import open_session
from edge.stream import DEVICE_STREAM
rate = DEVICE_STREAM.sample_rate_hz
config = json.loads(sys.argv[1]); seconds = float(sys.argv[2]); example = sys.argv[3]
samples = read_audio_file(example)[: int(seconds * rate)]
pack = load_pack(None) if config.get("use_models", True) else None
session = open_session(pack, None, "sim://", runtime=config.get("runtime"), precision=config.get("precision", "fp32"),
                       n_threads=1, realtime_budget=None)
hop = session.stream.hop
for start in range(0, rate, hop):  # warm-up: one second
    session.process(samples[start : start + hop])
session.reset()
started = time.perf_counter()
for start in range(0, len(samples) - hop + 1, hop):
    session.process(samples[start : start + hop])
elapsed = time.perf_counter() - started
session.close()
print(json.dumps({"rtf": elapsed / (len(samples) // hop * hop / rate)}))
"""


def export_revision(revision: str, target: Path) -> None:
    """The tree of ``revision`` of this repository, written to ``target``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def time_version(root: Path, config: dict[str, Any], seconds: float) -> float:
    """RTF of one run of the pipeline of the checkout at ``root`` in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", TIMED, json.dumps(config), str(seconds), str(ROOT / "edge/data/example.flac")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=True,
        capture_output=True,
        text=True,
    )
    return float(json.loads(result.stdout.strip().splitlines()[-1])["rtf"])


def main(
    against: Annotated[str, typer.Option(help="The earlier git revision (e.g. main's commit before a change).")],
    config: Annotated[
        Optional[list[str]], typer.Option(help=f"Configurations (repeatable): {', '.join(CONFIGS)}.")
    ] = None,
    seconds: Annotated[float, typer.Option(help="Seconds of the example per run (at most 8).")] = 8.0,
    rounds: Annotated[int, typer.Option(min=1, help="Interleaved rounds (median reported).")] = 5,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the results as JSON here.")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write the Markdown table here.")] = None,
) -> None:
    configs = config or ["dsp", "litert-fp32", "onnx-fp32"]
    unknown = [name for name in configs if name not in CONFIGS]
    if unknown:
        raise typer.BadParameter(f"unknown configuration(s) {unknown}; choose from {list(CONFIGS)}")
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    rtf: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="sense-versions-") as tmp:
        earlier = Path(tmp)
        export_revision(against, earlier)
        for _ in range(rounds):
            for name in configs:
                for version, root in ((against, earlier), ("this", ROOT)):
                    rtf.setdefault((name, version), []).append(time_version(root, CONFIGS[name], seconds))
    results = [
        {
            "config": name,
            "rtf_earlier": statistics.median(rtf[(name, against)]),
            "rtf_this": statistics.median(rtf[(name, "this")]),
            "runs_earlier": rtf[(name, against)],
            "runs_this": rtf[(name, "this")],
        }
        for name in configs
    ]
    lines = [
        f"Real-time factor on this machine, 1 thread, one hop per call, {seconds:g} s of the example, median of "
        f"{rounds} interleaved rounds: revision {against} against this checkout ({head} and its working tree).",
        "",
        f"| configuration | RTF {against} | RTF this | faster by |",
        "|---|---|---|---|",
    ]
    for row in results:
        lines.append(
            f"| {row['config']} | {row['rtf_earlier']:.4f} | {row['rtf_this']:.4f} | "
            f"{row['rtf_earlier'] / row['rtf_this']:.2f}× |"
        )
    emit(
        {
            "settings": {
                "against": against,
                "this": head,
                "seconds": seconds,
                "rounds": rounds,
                "command": " ".join(sys.argv),
            },
            "results": results,
        },
        "\n".join(lines) + "\n",
        json_path,
        markdown,
    )


if __name__ == "__main__":
    typer.run(main)
