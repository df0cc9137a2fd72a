"""Feasibility: 1.5.0's separator (frozen) run every N hops, the hops between get masks from the held trunk output
plus a small 'refresh' of the current frame's band features (the change since the trunk ran). Only the refresh trains.

    .venv/bin/python recipes/checkpoints/default-1.6.1/refresh_every_n.py CHECKPOINT EVERY STEPS HIDDEN TAG \
        [GENERATOR_WEIGHT] [frozen|trunk] [d|dyb]

(session 10: out/default-1/checkpoints/best-separator.pt = 1.5.0's, every 3, 1500 steps, hidden 32, generator x5;
mode d: refresh-every3-d.log, mode dyb: refresh-every3-dyb.log; checkpoints were written to /work/notes/s10.)"""

import sys, time, numpy as np, torch
from torch import nn

torch.set_num_threads(1)
from export.recipe import load_recipe
from export.distill import make_separator, load_separator_data, SeparatorBatches, separator_loss
from export.separator_validation import VALIDATION_SETS, validation_songs, songs_sdr_db, GENERATOR_VALIDATION
from export.students.band_split import log_features

start, every, steps, hidden, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
gen_weight = float(sys.argv[6]) if len(sys.argv) > 6 else 5.0
train_trunk = len(sys.argv) > 7 and sys.argv[7] == "trunk"
mode = sys.argv[8] if len(sys.argv) > 8 else "d"


class Refresh(nn.Module):
    def __init__(self, d, hidden, mode, n_bands=33):
        super().__init__()
        self.mode = mode
        self.up = nn.Linear(d * (2 if "y" in mode else 1), hidden)
        self.band_mix = nn.Linear(n_bands, n_bands) if "b" in mode else None
        self.down = nn.Linear(hidden, d, bias=False)
        nn.init.zeros_(self.down.weight)

    def forward(self, change, held_y):
        h = torch.cat([change, held_y], -1) if "y" in self.mode else change
        h = torch.relu(self.up(h))
        if self.band_mix is not None:
            h = torch.relu(self.band_mix(h.transpose(2, 3)).transpose(2, 3))
        return self.down(h)


class Refreshed(nn.Module):
    def __init__(self, model, n, refresh):
        super().__init__()
        self.model, self.n, self.refresh = model, n, refresh

    def initial_states(self, batch=1):
        return self.model.initial_states(batch)

    def forward(self, magnitude, *states):
        m, n, T = self.model, self.n, magnitude.shape[1]
        x = m.band_split(log_features(magnitude, m.config.log_floor), *m.encoder_weight())
        y = x[:, ::n]
        new_states = []
        for temporal, cross, state in zip(m.temporal, m.cross_band, states):
            y, s = temporal(y, state)
            y = cross(y)
            new_states.append(s)
        held_y = y.repeat_interleave(n, 1)[:, :T]
        held_x = x[:, ::n].repeat_interleave(n, 1)[:, :T]
        z = held_y + self.refresh(x - held_x, held_y)
        masks = torch.sigmoid(m.band_merge(m.out_norm(z), *m.decoder_weight()))
        return (masks if m.stem_prior is None else m.stem_prior(masks), *new_states)


recipe = load_recipe("recipes/default.toml")
object.__setattr__(recipe.training, "generator_song_weight", gen_weight)
stems = tuple(recipe.separator.stems)
model = make_separator(recipe)
model.load_state_dict(torch.load(start, weights_only=False)["separator"], strict=False)
model.onset_branch = None
model.n_onset_classes = 0
refresh = Refresh(model.n_channels, hidden, mode)
net = Refreshed(model, every, refresh)
for p in model.parameters():
    p.requires_grad_(train_trunk)
songs = {n: validation_songs(recipe, p) for n, p in VALIDATION_SETS.items()}
songs["generator"] = validation_songs(recipe, "", GENERATOR_VALIDATION)


def validate(t):
    net.eval()
    line = [t]
    for name, s in songs.items():
        by = songs_sdr_db(net, s, stems)
        line.append(
            f"{name}: "
            + " ".join(f"{k[:3]} {v:.2f}" for k, v in by.items())
            + f" mean {np.mean(list(by.values())):.3f}"
        )
    print(" | ".join(line), flush=True)
    net.train()


validate("step 0 (held, no refresh)")
batches = SeparatorBatches(load_separator_data(recipe, "train"), recipe, np.random.default_rng(11))
params = [p for p in net.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, 1e-3 if not train_trunk else 3e-4)
t0 = time.time()
for step in range(1, steps + 1):
    mixture, target, _, _ = batches.ground_truth(8)
    loss = separator_loss(net(mixture, *model.initial_states(8))[0], mixture, target, 1.0)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(params, 5.0)
    opt.step()
    if step % 250 == 0:
        validate(f"step {step} ({time.time() - t0:.0f} s)")
        torch.save(
            {
                "separator": model.state_dict(),
                "refresh": refresh.state_dict(),
                "step": step,
                "every": every,
                "hidden": hidden,
            },
            f"/work/notes/s10/{tag}-{step}.pt",
        )
