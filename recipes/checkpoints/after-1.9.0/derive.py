"""Checkpoints derived from sense-default 1.9.0's separator for session 12's cheaper candidates:

    .venv/bin/python recipes/checkpoints/after-1.9.0/derive.py [--channels 24]

writes ``init-channels-N.pt`` into this folder: 1.9.0 with N of its 32 channels kept, both in the residual stream
(one set for every block: the band encoders' outputs, the norms, the convs' inputs, the pointwise and channel-mix
outputs, the decoders' inputs) and inside each temporal block (the conv's outputs and the pointwise layer's inputs,
a set per block). A channel is kept for how much it is both written and read, a data-free score:

    residual channel c: (sum of squared weights that write c) x (sum of squared weights, times the norm's
                         gain where a LayerNorm comes first, that read c), each matrix scaled to unit mean
    block i's conv channel j: ||conv weights into j||^2 x ||pointwise weights out of j||^2

The LayerNorms then average over N channels instead of 32; the fine-tune (with 1.9.0 as the teacher) recovers that."""

import argparse
from pathlib import Path

import torch

from export.students.band_split import NarrowBandBlock

HERE = Path(__file__).parent
V190 = HERE.parent / "default-1.9.0" / "best-separator.pt"


def unit_mean(scores: torch.Tensor) -> torch.Tensor:
    return scores / scores.mean()


def residual_scores(state: dict[str, torch.Tensor], n_blocks: int, n_bands: int) -> torch.Tensor:
    """(D,) how much each residual channel is written times how much it is read."""
    written = unit_mean(sum(state[f"encoders.{k}.weight"].pow(2).sum(1) for k in range(n_bands)))
    read = unit_mean(
        state["out_norm.weight"].pow(2) * sum(state[f"decoders.{k}.weight"].pow(2).sum(0) for k in range(n_bands))
    )
    for i in range(n_blocks):
        conv = NarrowBandBlock.conv_weight_in_current_layout(state[f"temporal.{i}.conv.weight"])
        written = written + unit_mean(state[f"temporal.{i}.pointwise.weight"].pow(2).sum(1))
        written = written + unit_mean(state[f"cross_band.{i}.channel_mix.weight"].pow(2).sum(1))
        read = read + unit_mean(state[f"temporal.{i}.norm.weight"].pow(2) * conv.pow(2).sum((0, 2, 3)))
        read = read + unit_mean(
            state[f"cross_band.{i}.norm.weight"].pow(2) * state[f"cross_band.{i}.channel_mix.weight"].pow(2).sum(0)
        )
    return written * read


def pruned(state: dict[str, torch.Tensor], n_keep: int) -> dict[str, torch.Tensor]:
    n_blocks = len({key.split(".")[1] for key in state if key.startswith("temporal.")})
    n_bands = len({key.split(".")[1] for key in state if key.startswith("encoders.")})
    keep = residual_scores(state, n_blocks, n_bands).topk(n_keep).indices.sort().values
    out = dict(state)
    for k in range(n_bands):
        out[f"encoders.{k}.weight"] = state[f"encoders.{k}.weight"][keep]
        out[f"encoders.{k}.bias"] = state[f"encoders.{k}.bias"][keep]
        out[f"decoders.{k}.weight"] = state[f"decoders.{k}.weight"][:, keep]
    for name in ("out_norm.weight", "out_norm.bias"):
        out[name] = state[name][keep]
    for i in range(n_blocks):
        t, c = f"temporal.{i}.", f"cross_band.{i}."
        conv = NarrowBandBlock.conv_weight_in_current_layout(state[t + "conv.weight"])
        hidden_scores = conv.pow(2).sum((1, 2, 3)) * state[t + "pointwise.weight"].pow(2).sum(0)
        hidden = hidden_scores.topk(n_keep).indices.sort().values
        out[t + "conv.weight"] = conv[hidden][:, keep].contiguous()
        out[t + "conv.bias"] = state[t + "conv.bias"][hidden]
        out[t + "pointwise.weight"] = state[t + "pointwise.weight"][keep][:, hidden].contiguous()
        out[t + "pointwise.bias"] = state[t + "pointwise.bias"][keep]
        for name in ("norm.weight", "norm.bias"):
            out[t + name] = state[t + name][keep]
            out[c + name] = state[c + name][keep]
        out[c + "channel_mix.weight"] = state[c + "channel_mix.weight"][keep][:, keep].contiguous()
        out[c + "channel_mix.bias"] = state[c + "channel_mix.bias"][keep]
    return {key: value.contiguous() for key, value in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=24, help="channels to keep of 1.9.0's 32")
    args = parser.parse_args()
    state = torch.load(str(V190), map_location="cpu", weights_only=False)["separator"]
    target = HERE / f"init-channels-{args.channels}.pt"
    note = f"1.9.0 with {args.channels} of its 32 channels (derive.py)"
    torch.save({"separator": pruned(state, args.channels), "step": 0, "best": None, "derived": note}, str(target))
    print(f"wrote {target}: {note}")


if __name__ == "__main__":
    main()
