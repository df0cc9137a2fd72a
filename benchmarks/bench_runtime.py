"""Per-stage latency and real-time factor of the pipeline, 1 thread, on both runtimes and precisions.

    .venv/bin/python benchmarks/bench_runtime.py [--pack PATH] [--seconds 8] [--repeats 5] [--threads 1]

Feeds the bundled example one 8 ms hop at a time (as a sound card would) through the whole pipeline to the
simulated vest; repeats each configuration and reports medians; the ratio column compares each configuration's
real-time factor with ONNX fp32 measured in the same run.
"""

from __future__ import annotations

import argparse
import platform
import statistics

import numpy as np

from edge.audio_source import read_audio_file
from edge.outputs import RoutedOutput, open_output
from edge.pack import load_pack
from edge.pipeline import STAGES, Pipeline
from edge.rig import default_rig
from edge.run import EXAMPLE_SOUND

CONFIGURATIONS = [("onnx", "fp32"), ("onnx", "int8"), ("litert", "fp32"), ("litert", "int8")]


def measure(pack_path: str | None, runtime: str, precision: str, samples: np.ndarray, n_threads: int) -> dict:
    pack = load_pack(pack_path)
    rig = default_rig()
    output = open_output("sim://", rig.n_actuators)
    pipeline = Pipeline(pack, rig.make_renderer(pack.separator.names, pack.tagger.names),
                        [RoutedOutput(output, np.arange(rig.n_actuators))], runtime, precision, n_threads)
    with pipeline:
        for start in range(0, len(samples), pipeline.hop):
            pipeline.process(samples[start : start + pipeline.hop])
    return pipeline.telemetry.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", default=None)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    samples = read_audio_file(EXAMPLE_SOUND)
    samples = np.tile(samples, int(np.ceil(args.seconds * 16_000 / len(samples))))[: int(args.seconds * 16_000)]
    results: dict[tuple[str, str], list[dict]] = {c: [] for c in CONFIGURATIONS}
    for _ in range(args.repeats):  # interleave configurations so machine noise hits them alike
        for runtime, precision in CONFIGURATIONS:
            results[(runtime, precision)].append(measure(args.pack, runtime, precision, samples, args.threads))
    print(f"# pipeline benchmark: {args.seconds:.0f} s of audio, hop 8 ms, {args.threads} thread(s), "
          f"median of {args.repeats}; {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    header = "| runtime | precision | " + " | ".join(f"{s} p50/p95 ms" for s in STAGES) + " | RTF | RTF / onnx fp32 |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    base_rtf = statistics.median(r["real_time_factor"] for r in results[("onnx", "fp32")])
    for (runtime, precision), runs in results.items():
        cells = []
        for stage in STAGES:
            p50 = statistics.median(r["stages"][stage]["p50_ms"] for r in runs)
            p95 = statistics.median(r["stages"][stage]["p95_ms"] for r in runs)
            cells.append(f"{p50:.3f}/{p95:.3f}")
        rtf = statistics.median(r["real_time_factor"] for r in runs)
        print(f"| {runtime} | {precision} | " + " | ".join(cells) + f" | {rtf:.4f} | {rtf / base_rtf:.2f} |")


if __name__ == "__main__":
    main()
