"""Guest side of ``bench_instructions.py --stages``: the pipeline's stages of ``sense run`` up to one of them, on a
file, one hop per call, so that counting each level and differencing neighbours gives each stage's cost.

    python benchmarks/stage_instructions.py FILE --upto render [--no-models | --runtime onnx --precision fp32]

The session comes from :func:`edge.session.open_session` exactly as ``sense run`` opens it (bundled pack, default
rig, its ``sim://`` output, 1 thread, no drops); the loop calls the pipeline's own stage methods in its order:

- ``source``: decode the file and cut it into hop blocks (``sense run``'s file source);
- ``stft``: + framer and causal STFT magnitude;
- ``separator``: + the separator (its masks times the mixture, drum onsets);
- ``tagger``: + the tagger (every N hops);
- ``render``: + the analysis record and the haptic renderer;
- ``output``: + writing each hop to the outputs.

What ``sense run`` costs beyond ``output`` is its loop: telemetry, timers, the signal and watchdog checks, the summary.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

LEVELS = ("source", "stft", "separator", "tagger", "render", "output")


def main(
    path: Annotated[str, typer.Argument(help="Sound file (the benchmark writes 16 kHz WAVs).")],
    upto: Annotated[str, typer.Option(help=f"Last stage to run: {', '.join(LEVELS)}.")] = "output",
    no_models: Annotated[bool, typer.Option("--no-models", help="DSP only, as sense run --no-models.")] = False,
    runtime: Annotated[Optional[str], typer.Option(help="onnx or litert.")] = None,
    precision: Annotated[str, typer.Option(help="fp32 or int8.")] = "fp32",
) -> None:
    from edge import audio_source
    from edge.pack import load_pack
    from edge.run import SOURCE_BLOCK_SAMPLES
    from edge.session import open_session

    if upto not in LEVELS:
        raise typer.BadParameter(f"--upto {upto}: expected one of {', '.join(LEVELS)}")
    level = LEVELS.index(upto)
    pack = None if no_models else load_pack(None)
    session = open_session(pack, None, None, runtime=runtime, precision=precision, n_threads=1, realtime_budget=None)
    pipeline = session.pipeline
    n_hops = 0
    with session:
        for block in audio_source.file_source(path, SOURCE_BLOCK_SAMPLES):
            if level == 0:
                continue
            hops = pipeline.framer.process(block)
            if not len(hops):
                continue
            mixture_mag = pipeline.magnitude(hops)
            stem_mag = drum_onsets = tag_probs = None
            if level >= LEVELS.index("separator") and pipeline.separator is not None:
                stem_mag, drum_onsets = pipeline.separate(mixture_mag)
            if level >= LEVELS.index("tagger") and pipeline.tagger is not None:
                tag_probs = pipeline.tagger.process(mixture_mag)
            if level >= LEVELS.index("render"):
                analysis = pipeline.analysis(hops, mixture_mag, 0, stem_mag, tag_probs, drum_onsets)
                intensities = pipeline.renderer.process(analysis)
                if level >= LEVELS.index("output"):
                    pipeline.write(analysis.t_s, intensities, hops)
            n_hops += len(hops)
            pipeline.telemetry.n_hops = n_hops
    print(f"{upto}: {n_hops} hops")


if __name__ == "__main__":
    typer.run(main)
