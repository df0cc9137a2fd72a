"""Students: the default configurations meet their budgets; the separator streams exactly like offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge.model_stages import SeparatorStage, TaggerStage
from edge.pack import load_pack
from edge.runners import open_runner
from export.distill import HOP, N_BINS, make_separator, make_tagger
from export.model_stats import count_macs, count_parameters
from export.recipe import load_recipe
from export.recipe_run import ALGORITHMIC_LATENCY_MS
from export.students.band_split import BandSplitConfig, BandSplitSeparator, band_widths
from export.students.labels import STUDENT_LABELS, label_index_map, map_teacher_probabilities
from tests.export.conftest import DEFAULT_RECIPE
from tests.streaming import assert_streaming_equals_offline, random_block_sizes

SEPARATOR_MAX_PARAMETERS = 1_000_000
SEPARATOR_MAX_GMAC_PER_S = 0.25
TAGGER_MAX_PARAMETERS = 500_000
TAGGER_MAX_GMAC_PER_S = 0.03
MAX_LATENCY_MS = 32.0
HOPS_PER_SECOND = 16_000 / HOP


def test_default_separator_budget() -> None:
    recipe = load_recipe(DEFAULT_RECIPE)
    separator = make_separator(recipe).eval()
    assert separator.n_stems == 4
    assert count_parameters(separator) <= SEPARATOR_MAX_PARAMETERS
    macs = count_macs(separator, (torch.rand(1, 1, N_BINS), *separator.initial_states()))
    assert macs * HOPS_PER_SECOND / 1e9 <= SEPARATOR_MAX_GMAC_PER_S
    assert ALGORITHMIC_LATENCY_MS <= MAX_LATENCY_MS


def test_default_tagger_budget() -> None:
    recipe = load_recipe(DEFAULT_RECIPE)
    tagger = make_tagger(recipe).eval()
    assert len(recipe.tagger.labels) >= 20
    assert count_parameters(tagger) <= TAGGER_MAX_PARAMETERS
    macs = count_macs(tagger, (torch.rand(1, recipe.tagger.context_frames, N_BINS),))
    assert macs * HOPS_PER_SECOND / recipe.tagger.every_n_hops / 1e9 <= TAGGER_MAX_GMAC_PER_S


def test_band_widths_cover_every_bin() -> None:
    widths = band_widths(257, ((2, 8), (4, 8), (8, 8), (16, 9)))
    assert sum(widths) == 257 and min(widths) == 2
    with pytest.raises(ValueError):
        band_widths(100, ((16, 9),))


def test_separator_is_causal() -> None:
    torch.manual_seed(0)
    separator = BandSplitSeparator(BandSplitConfig(n_channels=8, dilations=(1, 2))).eval()
    x = torch.rand(1, 40, N_BINS) * 3
    changed = x.clone()
    changed[:, 25:] = torch.rand(1, 15, N_BINS) * 3
    with torch.no_grad():
        a = separator(x, *separator.initial_states())[0]
        b = separator(changed, *separator.initial_states())[0]
    assert torch.equal(a[:, :25], b[:, :25]), "a change at frame 25 altered earlier masks"
    assert not torch.equal(a[:, 25:], b[:, 25:])
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_separator_streams_like_offline_in_torch() -> None:
    torch.manual_seed(1)
    separator = BandSplitSeparator(BandSplitConfig(n_channels=8, dilations=(1, 2, 4))).eval()
    x = torch.rand(2, 90, N_BINS) * 3
    with torch.no_grad():
        offline = separator(x, *separator.initial_states(2))[0]
        states = separator.initial_states(2)
        pieces, start = [], 0
        for size in random_block_sizes(90, np.random.default_rng(0), 17):
            out = separator(x[:, start : start + size], *states) if size else None
            if out is not None:
                pieces.append(out[0])
                states = list(out[1:])
            start += size
    torch.testing.assert_close(torch.cat(pieces, dim=1), offline, atol=1e-5, rtol=0)


@pytest.mark.parametrize("runtime,precision", [("onnx", "fp32"), ("onnx", "int8"), ("litert", "fp32")])
def test_exported_separator_streams_like_offline(tiny_run, runtime: str, precision: str) -> None:
    pack = load_pack(tiny_run.out / "pack")
    magnitude = (np.random.default_rng(3).random((150, N_BINS)) * 4).astype(np.float32)
    assert_streaming_equals_offline(
        lambda: SeparatorStage(open_runner(pack, pack.separator, runtime, precision)),
        magnitude,
        n_trials=3,
        max_block=40,
        atol=1e-5,
    )


@pytest.mark.parametrize("runtime,precision", [("onnx", "fp32"), ("litert", "int8")])
def test_exported_tagger_streams_like_offline(tiny_run, runtime: str, precision: str) -> None:
    pack = load_pack(tiny_run.out / "pack")
    magnitude = (np.random.default_rng(4).random((200, N_BINS)) * 4).astype(np.float32)
    probabilities = assert_streaming_equals_offline(
        lambda: TaggerStage(open_runner(pack, pack.tagger, runtime, precision)), magnitude, n_trials=2, max_block=50
    )
    assert probabilities.shape == (200, len(pack.tagger.names))


def test_label_mapping_takes_the_max_of_each_labels_classes() -> None:
    names = ("Speech", "Music", "Dog", "Bark", "Siren")
    index_map = label_index_map(names, ("speech", "dog", "siren"))
    probabilities = np.array([[0.9, 0.1, 0.2, 0.7, 0.0]], np.float32)
    np.testing.assert_allclose(map_teacher_probabilities(probabilities, index_map), [[0.9, 0.7, 0.0]])
    assert len(STUDENT_LABELS) >= 20
