"""Guest side of ``bench_instructions.py --pieces``: one piece of the pipeline called once per hop on the bundled
example, after a common set-up, so that counting two hop counts and differencing gives the piece's instructions per
hop (the set-up, counted alone as the piece ``setup``, is subtracted by the host).

    python benchmarks/piece_instructions.py FILE PIECE N_HOPS [--no-models | --runtime litert --precision fp32]

The set-up opens the session as ``sense run`` does (bundled pack, default rig, ``sim://``, 1 thread) and computes,
for the first N_HOPS hops of FILE, the hops, their magnitudes and, with models, the separated stems, drum onsets
and tag probabilities. Pieces (:data:`PIECES`):

- ``setup``: nothing more (its per-hop count is what every other piece's count includes);
- ``stft``: ``Pipeline.magnitude`` of each hop (framer excluded);
- ``separator-graph`` / ``onsets-graph`` / ``tagger-graph``: the bare LiteRT interpreter's ``invoke`` of that
  model's artifact, every hop (the tagger every ``every_n_hops`` hops), its inputs set once: the graph alone;
- ``separator`` / ``onsets`` / ``tagger``: the model stage's ``process`` of each hop (the graph, its runner and the
  stage's own Python);
- ``separate``: ``Pipeline.separate`` (separator, onsets, stem magnitudes);
- ``render``: the analysis record and the renderer of each hop, on the set-up's stems, onsets and tags;
- ``output``: ``render``, then ``Pipeline.write`` of each hop's intensities to the outputs (the host reports it
  beyond ``render``).
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Optional

import numpy as np
import typer

PIECES = (
    "setup",
    "stft",
    "separator-graph",
    "onsets-graph",
    "tagger-graph",
    "separator",
    "onsets",
    "tagger",
    "separate",
    "render",
    "output",
)


def bare_graph(pack: Any, role: str, runtime: str, precision: str) -> Callable[[], None]:
    """The ``invoke`` of a fresh LiteRT interpreter of ``role``'s artifact, its inputs set once (one frame)."""
    from edge.runners.litert_runner import interpreter_class

    if runtime != "litert":
        raise typer.BadParameter(f"the *-graph pieces count the bare LiteRT interpreter; got --runtime {runtime}")
    spec = getattr(pack, role)
    if spec is None:
        raise typer.BadParameter(f"the pack has no {role} model")
    interpreter = interpreter_class()(model_path=str(pack.root / spec.artifact(runtime, precision).file), num_threads=1)
    for detail in interpreter.get_input_details():
        interpreter.resize_tensor_input(
            detail["index"], [1 if d < 0 else d for d in detail["shape_signature"]], strict=False
        )
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.full(detail["shape"], 0.1, dtype=detail["dtype"]))
    return interpreter.invoke  # type: ignore[no-any-return]


def main(
    path: Annotated[str, typer.Argument(help="Sound file (the benchmark writes 16 kHz WAVs).")],
    piece: Annotated[str, typer.Argument(help=f"One of: {', '.join(PIECES)}.")],
    n_hops: Annotated[int, typer.Argument(min=1, help="Hops to run the piece on.")],
    no_models: Annotated[bool, typer.Option("--no-models", help="DSP only, as sense run --no-models.")] = False,
    runtime: Annotated[Optional[str], typer.Option(help="onnx or litert.")] = None,
    precision: Annotated[str, typer.Option(help="fp32 or int8.")] = "fp32",
) -> None:
    from edge import audio_source
    from edge.pack import load_pack
    from edge.run import SOURCE_BLOCK_SAMPLES
    from edge.session import open_session

    if piece not in PIECES:
        raise typer.BadParameter(f"piece {piece!r}: expected one of {', '.join(PIECES)}")
    pack = None if no_models else load_pack(None)
    session = open_session(pack, None, None, runtime=runtime, precision=precision, n_threads=1, realtime_budget=None)
    p = session.pipeline
    hops: list[np.ndarray] = []
    for block in audio_source.file_source(path, SOURCE_BLOCK_SAMPLES):
        framed = p.framer.process(block)
        hops.extend(framed[i : i + 1] for i in range(len(framed)))
    if len(hops) < n_hops:
        raise typer.BadParameter(f"{path} has {len(hops)} hops; {n_hops} asked for")
    hops = hops[:n_hops]
    mags = [p.magnitude(hop) for hop in hops]
    separated = [p.separate(mag) if p.separator is not None else (None, None) for mag in mags]
    tags = [p.tagger.process(mag) if p.tagger is not None else None for mag in mags]
    if (
        piece in ("separator", "onsets", "tagger", "separate")
        and getattr(p, piece.replace("separate", "separator")) is None
    ):
        raise typer.BadParameter(f"piece {piece}: this session has no {piece} (DSP only?)")
    if piece.endswith("-graph"):
        role = piece.removesuffix("-graph")
        invoke = bare_graph(pack, role, runtime or "litert", precision)
        every = p.tagger.every_n_hops if role == "tagger" and p.tagger is not None else 1
    analyses = []
    with session:
        for k, (hop, mag, (stems, onsets), tag) in enumerate(zip(hops, mags, separated, tags)):
            if piece == "stft":
                p.magnitude(hop)
            elif piece.endswith("-graph"):
                if k % every == 0:
                    invoke()
            elif piece == "separator":
                p.separator.process(mag)  # type: ignore[union-attr]
            elif piece == "onsets":
                p.onsets.process(mag)  # type: ignore[union-attr]
            elif piece == "tagger":
                p.tagger.process(mag)  # type: ignore[union-attr]
            elif piece == "separate":
                p.separate(mag)
            elif piece in ("render", "output"):
                analysis = p.analysis(hop, mag, 0, stems, tag, onsets)
                if piece == "render":
                    p.renderer.process(analysis)
                else:
                    analyses.append((analysis.t_s, p.renderer.process(analysis), hop))
        if piece == "output":  # rendered above, written here: the writes alone differ from "render"
            for t_s, intensities, hop in analyses:
                p.write(t_s, intensities, hop)
    print(f"{piece}: {n_hops} hops")


if __name__ == "__main__":
    typer.run(main)
