"""The separator's band split and merge run batched: the same checkpoints load, the outputs equal the per-band
forward pass of before, the exported graph has a few operators instead of a few per band, and the warm start reads
weights back from both graphs (also into a separator on other input features); the stem prior does what it says."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from edge.errors import ConfigError
from edge.pack import load_pack
from export.distill import N_BINS, make_separator, stem_prior, warm_start_separator
from export.onnx_export import export_onnx
from export.recipe import load_recipe
from export.students.band_split import BandSplitConfig, BandSplitSeparator
from export.students.onnx_weights import load_weights_from_onnx
from tests.export.conftest import (
    CHECKPOINTS,
    DEFAULT_RECIPE,
    ONSET_BRANCH,
    ONSET_CLASSES,
    SHIPPED_SEPARATOR,
    separator_signature,
)

MAX_GRAPH_NODES = 200
"""Executed ONNX nodes (Constant nodes aside) of the default separator with its onset branch; 775 ran the bands
one by one."""


def per_band_forward(
    model: BandSplitSeparator, magnitude: torch.Tensor, *states: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """The forward pass as it was before the bands were batched (one Linear call per band and direction) and
    before frames left the innermost axis of the temporal blocks (their states then: (B, D, K, history))."""
    features = torch.log1p(magnitude)
    bands = torch.split(features, list(model.widths), dim=2)
    x = torch.stack([encode(band) for encode, band in zip(model.encoders, bands)], dim=2)
    new_states = []
    n_trunk = len(model.temporal)
    for block, cross_band, state in zip(model.temporal, model.cross_band, states[:n_trunk]):
        h = block.norm(x).permute(0, 3, 2, 1)
        extended = torch.cat([state, h], dim=3)
        new_states.append(extended[:, :, :, extended.shape[3] - block.n_history_frames :])
        conv = block.conv
        h = torch.relu(
            nn.functional.conv2d(extended, conv.weight.transpose(2, 3), conv.bias, dilation=(1, conv.dilation[0]))
        ).permute(0, 3, 2, 1)
        x = cross_band(x + block.pointwise(h))
    x = model.out_norm(x)
    batch, n_frames = magnitude.shape[:2]
    masks = [
        decode(x[:, :, k]).reshape(batch, n_frames, model.n_stems, width)
        for k, (decode, width) in enumerate(zip(model.decoders, model.widths))
    ]
    outputs = [torch.sigmoid(torch.cat(masks, dim=3))]
    if model.onset_branch is not None:
        logits, *onset_states = model.onset_branch(magnitude, *states[n_trunk:])
        outputs.append(torch.sigmoid(logits))
        new_states += onset_states
    return (*outputs, *new_states)


def test_checkpoints_load_with_their_keys_and_conv_weights_turned(trained) -> None:
    state = torch.load(str(CHECKPOINTS / "last-separator.pt"), map_location="cpu", weights_only=False)["separator"]
    own = trained.state_dict()
    assert sorted(own) == sorted(state)  # the index tables of the band split stay out of the state dict
    turned = [key for key in state if own[key].shape != state[key].shape]
    assert turned == [f"temporal.{i}.conv.weight" for i in range(len(trained.temporal))]
    for key in (key for key in state if not key.startswith("onset_branch.")):  # the branch: from onset-branch.pt
        torch.testing.assert_close(own[key].flatten(), state[key].flatten(), atol=0, rtol=0)  # same values, same order
    resaved = BandSplitSeparator(BandSplitConfig(n_onset_classes=ONSET_CLASSES))
    resaved.load_state_dict(own)  # and the new layout loads as it is
    assert all(torch.equal(resaved.state_dict()[key], value) for key, value in own.items())


def test_batched_bands_equal_the_forward_pass_of_before(trained) -> None:
    magnitude = torch.rand(2, 70, N_BINS, generator=torch.Generator().manual_seed(0)) * 4
    states = [torch.rand(s, generator=torch.Generator().manual_seed(i)) for i, s in enumerate(trained.state_shapes(2))]
    n_trunk = len(trained.temporal)
    old_states = [s.transpose(2, 3) for s in states[:n_trunk]] + states[n_trunk:]  # (B, D, H, K) -> (B, D, K, H)
    with torch.no_grad():
        batched = trained(magnitude, *states)
        reference = per_band_forward(trained, magnitude, *old_states)
    assert len(batched) == len(reference)
    new_states = [s.transpose(2, 3) for s in batched[2 : 2 + n_trunk]]
    for new, old in zip([*batched[:2], *new_states, *batched[2 + n_trunk :]], reference):
        torch.testing.assert_close(new, old, atol=1e-5, rtol=0)


def test_unstacked_parameters_invert_the_stacks() -> None:
    torch.manual_seed(2)
    model = BandSplitSeparator(BandSplitConfig(n_channels=8, dilations=(1,), band_groups=((3, 4), (5, 3)))).eval()
    assert len(set(model.widths)) > 1
    unstacked = {
        **model.unstacked_parameters("band_split", *model.encoder_weight()),
        **model.unstacked_parameters("band_merge", *model.decoder_weight()),
    }
    own = model.state_dict()
    assert sorted(unstacked) == sorted(k for k in own if k.startswith(("encoders.", "decoders.")))
    for key, value in unstacked.items():
        assert torch.equal(value, own[key]), key
    with pytest.raises(ValueError, match="band_split or band_merge"):
        model.unstacked_parameters("temporal", *model.encoder_weight())


def test_exported_graph_has_a_few_operators_none_per_band(trained, tmp_path: Path) -> None:
    import onnx

    path = export_onnx(trained, separator_signature(trained), tmp_path / "separator.onnx")
    ops = Counter(node.op_type for node in onnx.load(str(path)).graph.node if node.op_type != "Constant")
    assert sum(ops.values()) <= MAX_GRAPH_NODES, ops
    assert not {"Shape", "Unsqueeze", "Reshape", "Split"} & set(ops), ops  # no shape arithmetic, no per-band pieces
    assert ops["Gather"] == 2  # the bins of the bands, the band of each bin
    n_layers = 4 * len(trained.temporal) + 2 + 2  # trunk Linears and Convs, band split and merge, onset in and out
    assert ops["MatMul"] + ops["Conv"] == n_layers + len(trained.onset_branch.convs), ops


def test_warm_start_reads_back_a_batched_graph_and_the_shipped_pack(trained, tmp_path: Path) -> None:
    path = export_onnx(trained, separator_signature(trained), tmp_path / "separator.onnx")
    example = (torch.rand(1, 12, N_BINS) * 4, *trained.initial_states(1))
    torch.manual_seed(9)
    model = BandSplitSeparator(BandSplitConfig(n_onset_classes=ONSET_CLASSES)).eval()
    assert load_weights_from_onnx(model, path, example) == []
    for key, value in trained.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key].numpy(), value.numpy(), atol=1e-7, err_msg=key)
    pack = load_pack(None)  # sense-default 1.9.0: its masks graph and its onset graph (1.4.0's onset branch)
    assert pack.onsets is not None
    shipped = make_separator(load_recipe(DEFAULT_RECIPE)).eval()  # as the recipe makes it (3 blocks, a stem prior)
    artifacts = [pack.root / spec.artifact("onnx", "fp32").file for spec in (pack.separator, pack.onsets)]
    assert warm_start_separator(shipped, *artifacts) == []
    state = torch.load(str(SHIPPED_SEPARATOR), map_location="cpu", weights_only=False)["separator"]
    branch = torch.load(str(ONSET_BRANCH), map_location="cpu", weights_only=False)["onset_branch"]
    expected = {**state, **{f"onset_branch.{k}": v for k, v in branch.items()}}
    assert set(expected) == set(shipped.state_dict())
    for key, value in shipped.state_dict().items():
        np.testing.assert_allclose(value.numpy(), expected[key].numpy(), atol=1e-6, err_msg=key)


def test_training_resumes_from_a_checkpoint_of_the_older_conv_layout() -> None:
    from export.distill import match_optimizer_state_to_parameters

    state = torch.load(str(CHECKPOINTS / "last-separator.pt"), map_location="cpu", weights_only=False)
    model = BandSplitSeparator(BandSplitConfig(n_onset_classes=ONSET_CLASSES))
    model.load_state_dict(state["separator"])
    optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
    optimizer.load_state_dict(state["optimizer"])
    match_optimizer_state_to_parameters(optimizer)
    conv = model.temporal[0].conv.weight
    stored = next(iter(s for s in state["optimizer"]["state"].values() if s["exp_avg"].shape == (32, 32, 1, 3)))
    assert optimizer.state[conv]["exp_avg"].shape == conv.shape != stored["exp_avg"].shape
    magnitude = torch.rand(1, 8, N_BINS) * 4
    model(magnitude, *model.initial_states(1))[0].mean().backward()
    optimizer.step()  # failed to broadcast (32, 32, 1, 3) moments against (32, 32, 3, 1) gradients without the match
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_stem_prior_pulls_pitched_masks_towards_their_band_and_leaves_drums() -> None:
    stems = ("vocals", "drums", "bass", "other")
    plain = BandSplitSeparator(BandSplitConfig(n_channels=8, dilations=(1,))).eval()
    weights = (0.5, 0.0, 0.25, 1.0)
    with_prior = BandSplitSeparator(
        BandSplitConfig(n_channels=8, dilations=(1,), stem_prior=stem_prior(stems, weights))
    ).eval()
    with_prior.load_state_dict(plain.state_dict())  # the prior adds no parameter: the same checkpoint loads
    magnitude = torch.rand(1, 6, N_BINS) * 4
    masks = plain(magnitude, *plain.initial_states(1))[0]
    pulled = with_prior(magnitude, *with_prior.initial_states(1))[0]
    hz = torch.arange(N_BINS) * 16_000 / 512
    not_drums = 1 - masks[:, :, 1]
    torch.testing.assert_close(pulled[:, :, 1], masks[:, :, 1])
    torch.testing.assert_close(pulled[:, :, 0], 0.5 * masks[:, :, 0] + 0.5 * not_drums * ((hz >= 250) & (hz < 4000)))
    torch.testing.assert_close(pulled[:, :, 2], 0.75 * masks[:, :, 2] + 0.25 * not_drums * (hz < 250))
    torch.testing.assert_close(pulled[:, :, 3], not_drums * (hz >= 4000))  # weight 1: the prior alone
    with pytest.raises(ValueError, match="0 for the percussive stem"):
        BandSplitSeparator(BandSplitConfig(stem_prior=stem_prior(stems, (0.5, 0.5, 0.5, 0.5))))


def test_warm_start_onto_other_features_or_a_stem_prior_from_a_pack_without(trained, tmp_path: Path) -> None:
    artifact = export_onnx(trained, separator_signature(trained), tmp_path / "separator.onnx")  # log1p, no prior
    prior = stem_prior(("vocals", "drums", "bass", "other"), (0.5, 0.0, 0.75, 0.25))
    for config in (BandSplitConfig(log_floor=1e-3), BandSplitConfig(stem_prior=prior)):
        changed = BandSplitSeparator(replace(config, n_onset_classes=ONSET_CLASSES))
        assert warm_start_separator(changed, artifact) == []  # the same weights, for another function
        for key, value in trained.state_dict().items():
            torch.testing.assert_close(changed.state_dict()[key], value, msg=key)
    narrow = BandSplitSeparator(BandSplitConfig(n_channels=16, n_onset_classes=ONSET_CLASSES))
    with pytest.raises(ConfigError, match="does not reproduce the artifact"):
        warm_start_separator(narrow, artifact)
