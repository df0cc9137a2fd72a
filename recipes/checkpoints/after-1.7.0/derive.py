"""Checkpoints derived from sense-default 1.7.0's separator for session 11's cheaper candidates (none shipped):

    .venv/bin/python recipes/checkpoints/after-1.7.0/derive.py

writes into this folder
- ``init-blocks-0-1-3.pt``: 1.7.0's blocks 0, 1 and 3 as a 3-block separator (dilations 1, 2, 8; R7's start);
- ``init-taps-0-2.pt``: 1.7.0 with each temporal conv's oldest and newest taps (kernel 2, dilations 2, 4, 8, 16:
  the same frames and state shapes; R8's and R11's start);
- ``soup-three-blocks.pt``: the mean of the two 3-block fine-tunes in ../default-1.7.0 (R6);
- ``wise-kernel-2.pt``: 0.25 x init-taps-0-2 + 0.75 x kernel-2-separator.pt (R10)."""

from pathlib import Path

import torch

from export.students.band_split import NarrowBandBlock

HERE = Path(__file__).parent
V170 = HERE.parent / "default-1.7.0"


def separator(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(str(path), map_location="cpu", weights_only=False)["separator"]


def mix(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], weight_b: float) -> dict[str, torch.Tensor]:
    if set(a) != set(b):
        raise SystemExit(f"the checkpoints hold different parameters: {sorted(set(a) ^ set(b))}")
    return {k: (1 - weight_b) * a[k] + weight_b * b[k] if a[k].is_floating_point() else a[k] for k in a}


def save(state: dict[str, torch.Tensor], name: str, note: str) -> None:
    torch.save({"separator": state, "step": 0, "best": None, "derived": note}, str(HERE / name))
    print(f"wrote {HERE / name}: {note}")


base = separator(V170 / "best-separator.pt")
renumber = {"0": "0", "1": "1", "3": "2"}
blocks = {}
for key, value in base.items():
    module, _, rest = key.partition(".")
    if module in ("temporal", "cross_band"):
        index, _, tail = rest.partition(".")
        if index in renumber:
            blocks[f"{module}.{renumber[index]}.{tail}"] = value
    else:
        blocks[key] = value
save(blocks, "init-blocks-0-1-3.pt", "1.7.0's blocks 0, 1, 3")
taps = {
    key: NarrowBandBlock.conv_weight_in_current_layout(value)[:, :, [0, 2]].contiguous()
    if key.startswith("temporal.") and key.endswith(".conv.weight")
    else value
    for key, value in base.items()
}
save(taps, "init-taps-0-2.pt", "1.7.0, each temporal conv's taps 0 and 2")
save(
    mix(separator(V170 / "three-blocks-separator.pt"), separator(V170 / "three-blocks-uniform-separator.pt"), 0.5),
    "soup-three-blocks.pt",
    "0.5 x three-blocks + 0.5 x three-blocks-uniform",
)
if (HERE / "kernel-2-separator.pt").exists():
    save(mix(taps, separator(HERE / "kernel-2-separator.pt"), 0.75), "wise-kernel-2.pt", "0.25 init + 0.75 kernel-2")
