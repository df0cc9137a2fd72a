"""The separator sense-default 1.7.0 ships: 1.5.0's weights moved three quarters of the way to the every-hop fine-tune
with the generator's songs weighted x10 (WiSE-FT-style weight interpolation; the onset branch is 1.4.0's in both):

    .venv/bin/python recipes/checkpoints/default-1.7.0/interpolate.py

writes recipes/checkpoints/default-1.7.0/best-separator.pt; copy it to the recipe's out_dir checkpoints as
best-separator.pt and run `sense export export recipes/default.toml` (then quantize, pack, ...)."""

from pathlib import Path

import torch

HERE = Path(__file__).parent
BASE = HERE.parent / "default-1.5.0" / "best-separator.pt"
FINE_TUNED = HERE.parent / "default-1.6.0" / "every1-gen10-separator.pt"
ALPHA = 0.75
"""Chosen on the validation songs only (interpolate_validate.py in default-1.6.1): of 0.25, 0.5 and 0.75 the one with
the largest out-of-source validation SDR whose generator-validation SDR stayed within 0.3 dB of 1.5.0's."""

base = torch.load(str(BASE), map_location="cpu", weights_only=False)["separator"]
tuned = torch.load(str(FINE_TUNED), map_location="cpu", weights_only=False)["separator"]
if set(base) != set(tuned):
    raise SystemExit(f"{BASE} and {FINE_TUNED} hold different parameters: {sorted(set(base) ^ set(tuned))}")
mixed = {
    key: (1 - ALPHA) * base[key] + ALPHA * tuned[key] if base[key].is_floating_point() else base[key] for key in base
}
torch.save(
    {
        "separator": mixed,
        "step": 0,
        "best": None,
        "interpolation": {"alpha": ALPHA, "from": str(BASE), "to": str(FINE_TUNED)},
    },
    str(HERE / "best-separator.pt"),
)
print(f"wrote {HERE / 'best-separator.pt'}: (1 - {ALPHA}) x {BASE.name} + {ALPHA} x {FINE_TUNED.name}")
