"""The separator's two graphs and the masks held between runs, in torch: ``masks_only()`` is the trunk alone with the
same parameters, ``OnsetStep`` is the onset branch alone, and ``HeldMasks`` computes what the device's stage does
(the separator on every n-th frame, each mask repeated), while the onset probabilities still come every frame."""

from __future__ import annotations

import pytest
import torch

from export.distill import N_BINS
from export.students.band_split import BandSplitConfig, BandSplitSeparator, HeldMasks, OnsetStep


@pytest.fixture(scope="module")
def separator() -> BandSplitSeparator:
    torch.manual_seed(4)
    return BandSplitSeparator(BandSplitConfig(n_channels=16, dilations=(1, 2), n_onset_classes=3)).eval()


def test_the_masks_graph_is_the_trunk_alone_with_the_same_parameters(separator: BandSplitSeparator) -> None:
    masks_only = separator.masks_only()
    assert masks_only.onset_branch is None and separator.onset_branch is not None
    assert "onset_branch" not in dict(masks_only.named_children()) and "onset_branch" in dict(
        separator.named_children()
    )
    shared = {id(p) for p in separator.parameters()}
    assert all(id(p) in shared for p in masks_only.parameters())
    assert len(list(masks_only.parameters())) == len(list(separator.parameters())) - len(
        list(separator.onset_branch.parameters())
    )
    magnitude = torch.rand(1, 11, N_BINS) * 3
    states = separator.initial_states(1)
    with torch.no_grad():
        full = separator(magnitude, *states)
        trunk = masks_only(magnitude, *states[:2])
        onsets = OnsetStep(separator.onset_branch)(magnitude, *states[2:])
    assert len(trunk) == 1 + 2 and len(onsets) == 1 + 3
    torch.testing.assert_close(trunk[0], full[0])  # masks
    torch.testing.assert_close(onsets[0], full[1])  # onset probabilities
    for mine, theirs in zip(trunk[1:] + onsets[1:], full[2:]):
        torch.testing.assert_close(mine, theirs)


@pytest.mark.parametrize("every", [2, 3])
def test_held_masks_run_the_separator_on_every_nth_frame_and_repeat_each_mask(
    separator: BandSplitSeparator, every: int
) -> None:
    magnitude = torch.rand(2, 14, N_BINS) * 3
    states = separator.initial_states(2)
    with torch.no_grad():
        held = HeldMasks(separator, every)(magnitude, *states)
        runs = separator(magnitude[:, ::every], *states)
        every_frame = separator(magnitude, *states)
    for frame in range(magnitude.shape[1]):
        torch.testing.assert_close(held[0][:, frame], runs[0][:, frame // every])
    torch.testing.assert_close(held[1], every_frame[1])  # the onsets: every frame, unaffected
    torch.testing.assert_close(held[2], runs[2])  # the trunk's states: those of the frames it ran on
    torch.testing.assert_close(held[-1], every_frame[-1])  # the onset branch's states: every frame
    assert not torch.allclose(held[0], every_frame[0])


def test_held_masks_every_hop_is_the_separator(separator: BandSplitSeparator) -> None:
    magnitude = torch.rand(1, 9, N_BINS) * 3
    with torch.no_grad():
        for mine, theirs in zip(
            HeldMasks(separator, 1)(magnitude, *separator.initial_states(1)),
            separator(magnitude, *separator.initial_states(1)),
        ):
            torch.testing.assert_close(mine, theirs)
    with pytest.raises(ValueError, match="every_n_hops=0"):
        HeldMasks(separator, 0)
