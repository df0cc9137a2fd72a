"""Causal streaming separators from PyPI, built with random weights and run one hop per call (for bench_peers).

- **HS-TasNet** (PyPI ``hs-tasnet``, ``hs_tasnet.HSTasNet``): the package's defaults are the paper's model
  (44.1 kHz stereo, 4 sources, 1024-sample window and 512-sample hop, LSTMs of 500 / 1000). It is streamed the
  way its authors stream it: ``HSTasNet.init_stateful_transform_fn()`` returns a closure (their sounddevice
  callback) that takes one 512-sample chunk, runs the model on the last 1024 samples with the LSTM hidden
  states carried over, overlap-adds and returns 512 samples of the 4 sources. Algorithmic latency: the
  1024-sample window (23.2 ms). torch's oneDNN kernels are turned off while it streams (:func:`onednn_off`): for
  a one-step LSTM oneDNN sets up its primitive on every call, which made it 2-3x slower here.
- **Conv-TasNet, causal** (PyPI ``asteroid``, ``asteroid.models.ConvTasNet(causal=True)``, channel-wise layer
  norm, the paper's best configuration N=512 L=16 B=128 H=512 Sc=128 P=3 X=8 R=3 that asteroid defaults to,
  4 sources, 8 kHz mono). asteroid has no streaming state, so :class:`ConvTasNetStream` runs the model's own
  modules block by block with the state a causal temporal convolutional network needs, kept explicitly: the
  last L - stride input samples for the encoder, each of the 24 dilated depthwise convolutions' past
  (P - 1) x dilation input frames (1530 frames of 512 channels in all), and the decoder's overlap-add tail.
  Its output equals ``model(wav)`` on the same samples (after the L - stride zeros the state starts with), which
  tests/benchmarks checks. This is the cheapest exact way to stream it; re-running the model on a window as
  long as its receptive field (:func:`convtasnet_receptive_field_samples`: 1531 frames = 12256 samples,
  1.53 s at 8 kHz) for every hop would give the same output at ~1500x the compute per hop. Its 1x1 and
  depthwise convolutions on the few new frames run as one matrix product / one multiply-add per tap (the same
  arithmetic; for one frame the taps take a third of the time of torch's depthwise convolution call). Algorithmic latency: the L = 16-sample
  encoder window plus what a hop buffers beyond one stride (2 ms at its own 8-sample hop, 9 ms at 64 samples).

Neither package imports cleanly here (their ``__init__`` pulls torchaudio, torchcodec, librosa, training
code): the model modules are imported through :func:`export.teachers.package_import.import_model_module`
with those modules stubbed, as export.teachers does for demucs and openunmix.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any, Callable

import numpy as np

from export.teachers.package_import import import_model_module

HS_TASNET_UNAVAILABLE = (
    "torchaudio",
    "torchaudio.functional",
    "torchcodec",
    "torchcodec.encoders",
    "librosa",
    "sounddevice",
    "matplotlib",
    "matplotlib.pyplot",
)
"""Imported at the top of hs_tasnet/hs_tasnet.py, used only by its file / plotting / sound-card helpers."""
ASTEROID_UNAVAILABLE = ("torchaudio",)
CONVTASNET_RATE_HZ = 8_000
CONVTASNET_N_SOURCES = 4


# ------------------------------------------------------------------------------------------------ HS-TasNet


def hstasnet_model(small: bool = False) -> Any:
    """``HSTasNet`` with the package's (the paper's) defaults, random weights; ``small``: the paper's small one."""
    module = import_model_module("hs_tasnet", "hs_tasnet", unavailable=HS_TASNET_UNAVAILABLE)
    return module.HSTasNet(small=small).eval()


def hstasnet_latency_s(model: Any) -> float:
    """The window a streamed output chunk depends on: one segment (past chunk + new chunk)."""
    return model.segment_len / model.sample_rate


@contextlib.contextmanager
def onednn_off() -> Iterator[None]:
    """torch's oneDNN (mkldnn) kernels off, without its TF32 warning (LSTM one step at a time: 2-3x faster)."""
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def hstasnet_stream(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The authors' streaming closure, fresh state: (channels, hop) float32 chunk -> (sources, channels, hop)."""
    return model.init_stateful_transform_fn()


# ----------------------------------------------------------------------------------------------- Conv-TasNet


def convtasnet_model(
    n_sources: int = CONVTASNET_N_SOURCES, sample_rate_hz: int = CONVTASNET_RATE_HZ, **kwargs: Any
) -> Any:
    """asteroid's causal ``ConvTasNet`` (its defaults otherwise), random weights."""
    module = import_model_module("asteroid", "models.conv_tasnet", unavailable=ASTEROID_UNAVAILABLE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # asteroid warns about torch APIs it uses, not about our arguments
        return module.ConvTasNet(n_sources, causal=True, norm_type="cLN", sample_rate=sample_rate_hz, **kwargs).eval()


def _depthwise_contexts_frames(model: Any) -> list[int]:
    """Past input frames each block's dilated depthwise convolution needs: (kernel - 1) x dilation."""
    contexts = []
    for block in model.masker.TCN:
        depth = block.shared_block[3][0]
        contexts.append((depth.kernel_size[0] - 1) * depth.dilation[0])
    return contexts


def convtasnet_receptive_field_samples(model: Any) -> int:
    """Input samples one output frame depends on: encoder frames of the TCN's receptive field, in samples."""
    filterbank = model.encoder.filterbank
    n_frames = 1 + sum(_depthwise_contexts_frames(model))
    return (n_frames - 1) * filterbank.stride + filterbank.kernel_size


def convtasnet_latency_s(model: Any, hop_samples: int) -> float:
    """Streamed ``hop_samples`` at a time: the L-sample encoder window plus the samples a hop buffers beyond one
    stride (L + hop - stride; 2 ms at its own 8-sample hop; the same rule gives HS-TasNet's and our window)."""
    filterbank = model.encoder.filterbank
    return (filterbank.kernel_size + hop_samples - filterbank.stride) / model.sample_rate


class ConvTasNetStream:
    """A causal asteroid ConvTasNet run ``hop_samples`` at a time with explicit, resettable state.

    ``process(hop)``: (hop_samples,) float32 at the model's rate -> (n_sources, hop_samples) float32; the
    concatenated outputs equal ``model(np.concatenate([zeros(L - stride), samples]))[..., :n_samples]``.
    """

    def __init__(self, model: Any, hop_samples: int) -> None:
        import torch

        filterbank = model.encoder.filterbank
        masker = model.masker
        if not masker.causal or not masker.skip_chan or hop_samples % filterbank.stride:
            raise ValueError(
                f"ConvTasNetStream needs a causal model with skip connections and a hop that is a multiple of "
                f"the encoder stride {filterbank.stride}, got causal={masker.causal}, skip_chan="
                f"{masker.skip_chan}, hop_samples={hop_samples}"
            )
        self.model = model
        self.hop_samples = hop_samples
        self.n_sources = masker.n_src
        self._torch = torch
        self._overlap_samples = filterbank.kernel_size - filterbank.stride
        self._contexts_frames = _depthwise_contexts_frames(model)
        self._hidden_channels = masker.hid_chan
        self.reset()

    def reset(self) -> None:
        zeros = self._torch.zeros
        self._input_tail = zeros(1, 1, self._overlap_samples)
        self._pasts = [zeros(1, self._hidden_channels, n) for n in self._contexts_frames]
        self._output_tail = zeros(1, self.n_sources, self._overlap_samples)

    def process(self, hop: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            wav = torch.cat([self._input_tail, torch.from_numpy(np.ascontiguousarray(hop, np.float32))[None, None]], -1)
            self._input_tail = wav[..., -self._overlap_samples :]
            tf_rep = self.model.forward_encoder(wav)  # (1, N, hop / stride)
            masks = self._masks(tf_rep)
            decoded = self.model.forward_decoder(self.model.apply_masks(tf_rep, masks))  # (1, sources, hop + L - S)
            decoded[..., : self._overlap_samples] += self._output_tail
            self._output_tail = decoded[..., self.hop_samples :].clone()
            return decoded[0, :, : self.hop_samples].numpy()

    def _masks(self, tf_rep: Any) -> Any:
        torch = self._torch
        masker = self.model.masker
        n_frames = tf_rep.shape[-1]
        output = _pointwise(masker.bottleneck[1], masker.bottleneck[0](tf_rep))
        skip = torch.zeros(())
        for i, block in enumerate(masker.TCN):
            shared = block.shared_block  # in 1x1, PReLU, norm, (depthwise, chop), PReLU, norm
            hidden = shared[2](shared[1](_pointwise(shared[0], output)))
            with_past = torch.cat([self._pasts[i], hidden], -1)
            self._pasts[i] = with_past[..., n_frames:]
            hidden = shared[5](shared[4](_depthwise(shared[3][0], with_past, n_frames)))
            output = output + _pointwise(block.res_conv, hidden)
            skip = skip + _pointwise(block.skip_conv, hidden)
        score = _pointwise(masker.mask_net[1], masker.mask_net[0](skip))
        return masker.output_act(score.view(1, masker.n_src, masker.out_chan, n_frames))


def _pointwise(conv: Any, x: Any) -> Any:
    """A 1x1 ``Conv1d`` on (1, C_in, T) as one matrix product (what it computes, and as fast as the conv call)."""
    import torch

    return torch.addmm(conv.bias[:, None], conv.weight[:, :, 0], x[0])[None]


def _depthwise(conv: Any, with_past: Any, n_frames: int) -> Any:
    """The last ``n_frames`` outputs of a dilated depthwise ``Conv1d`` (no padding) over (1, C, past + T), one
    multiply-add per tap (for one frame ~3x faster than torch's oneDNN depthwise call, which sets up a primitive
    per call)."""
    dilation, n_taps = conv.dilation[0], conv.kernel_size[0]
    start = with_past.shape[-1] - n_frames - (n_taps - 1) * dilation
    output = conv.bias[None, :, None].expand(1, -1, n_frames)
    for tap in range(n_taps):
        offset = start + tap * dilation
        output = output + conv.weight[None, :, 0, tap : tap + 1] * with_past[..., offset : offset + n_frames]
    return output
