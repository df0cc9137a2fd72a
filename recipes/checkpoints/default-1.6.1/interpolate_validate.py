"""Validation SDR of weight interpolations between two separator checkpoints (every hop), as in WiSE-FT:

    .venv/bin/python recipes/checkpoints/default-1.6.1/interpolate_validate.py A.pt B.pt 0.25,0.5,0.75

theta(a) = (1 - a) theta_A + a theta_B; prints the validation SDR per stem on the out-of-source, in-source and
generator validation songs."""

import sys, numpy as np, torch

torch.set_num_threads(1)
from export.recipe import load_recipe
from export.distill import make_separator
from export.separator_validation import VALIDATION_SETS, validation_songs, songs_sdr_db, GENERATOR_VALIDATION

a_path, b_path = sys.argv[1], sys.argv[2]
alphas = [float(a) for a in sys.argv[3].split(",")]
recipe = load_recipe("recipes/default.toml")
stems = tuple(recipe.separator.stems)
A = torch.load(a_path, weights_only=False)["separator"]
B = torch.load(b_path, weights_only=False)["separator"]
songs = {n: validation_songs(recipe, p) for n, p in VALIDATION_SETS.items()}
songs["generator"] = validation_songs(recipe, "", GENERATOR_VALIDATION)
for alpha in alphas:
    model = make_separator(recipe)
    mixed = {k: (1 - alpha) * A[k] + alpha * B[k] if A[k].is_floating_point() else A[k] for k in A}
    print("missing/unexpected", model.load_state_dict(mixed, strict=False))
    model.onset_branch = None
    model.n_onset_classes = 0
    model.eval()
    line = [f"alpha {alpha}"]
    for name, s in songs.items():
        by = songs_sdr_db(model, s, stems)
        line.append(
            f"{name}: "
            + " ".join(f"{k[:3]} {v:.2f}" for k, v in by.items())
            + f" mean {np.mean(list(by.values())):.3f}"
        )
    print(" | ".join(line), flush=True)
