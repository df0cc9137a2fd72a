"""Fine-tune sense-default 1.5.0's separator to run its trunk on every other frame (each mask held one hop).

Usage, from the repository root with the default recipe's data rendered (out/default-1/data):
    .venv/bin/python recipes/checkpoints/default-1.5.0/every_other_hop_experiment.py [STEPS] [OUT_DIR]
Prints the mean validation SDR per stem (out of source, in source) every 300 steps and saves a checkpoint there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.distill import SeparatorBatches, load_separator_data, make_separator, separator_loss
from export.recipe import load_recipe
from export.separator_validation import VALIDATION_SETS, songs_sdr_db, validation_songs
from export.students.band_split import HeldMasks

HERE = Path(__file__).resolve().parent


def main(steps: int, out_dir: Path) -> None:
    torch.set_num_threads(1)
    recipe = load_recipe("recipes/default.toml")
    stems = tuple(recipe.separator.stems)
    model = make_separator(recipe)
    model.load_state_dict(torch.load(HERE / "best-separator.pt", weights_only=False)["separator"])
    strided = HeldMasks(model, 2)  # what `[separator] every_n_hops = 2` trains (recipes/checkpoints/default-1.6.0)
    songs = {name: validation_songs(recipe, prefix) for name, prefix in VALIDATION_SETS.items()}

    def validate(tag: str) -> None:
        strided.eval()
        line = [tag]
        for name, items in songs.items():
            by_stem = songs_sdr_db(strided, items, stems)
            line.append(f"{name}: {by_stem} mean {np.mean(list(by_stem.values())):.3f}")
        print(" | ".join(line), flush=True)
        strided.train()

    validate("step 0 (zero-shot)")
    batches = SeparatorBatches(load_separator_data(recipe, "train"), recipe, np.random.default_rng(11))
    optimizer = torch.optim.AdamW(model.parameters(), 3e-4)
    started = time.time()
    out_dir.mkdir(parents=True, exist_ok=True)
    for step in range(1, steps + 1):
        mixture, target, _, _ = batches.ground_truth(8)
        loss = separator_loss(strided(mixture, *model.initial_states(8))[0], mixture, target, 1.0)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        if step % 300 == 0:
            validate(f"step {step} ({time.time() - started:.0f} s)")
            torch.save({"separator": model.state_dict(), "step": step}, out_dir / f"every-other-hop-{step}.pt")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 1500,
        Path(sys.argv[2] if len(sys.argv) > 2 else "out/every-other-hop"),
    )
