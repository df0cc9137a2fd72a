"""The causal streaming peers of bench_peers: built from their PyPI packages, streamed as the docs say, costed right.

No skips: hs-tasnet and asteroid are installed by scripts/setup.sh; without them these tests fail.
"""

from __future__ import annotations

import numpy as np
import pytest

import bench_peers
import causal_peers
from edge.stream import DEVICE_STREAM

RATE_HZ = DEVICE_STREAM.sample_rate_hz


@pytest.fixture(scope="module")
def torch_one_thread() -> object:
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    return torch


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return (np.random.default_rng(0).standard_normal(RATE_HZ // 5) * 0.1).astype(np.float32)  # 0.2 s


def test_hstasnet_streams_512_sample_chunks_of_four_stereo_sources(torch_one_thread: object) -> None:
    model = causal_peers.hstasnet_model()
    stream = causal_peers.hstasnet_stream(model)
    chunk = (np.random.default_rng(1).standard_normal((2, 512)) * 0.1).astype(np.float32)
    outputs = [stream(chunk) for _ in range(3)]
    assert all(out.shape == (4, 2, 512) and np.isfinite(out).all() for out in outputs)
    assert np.abs(outputs[2]).max() > 0
    assert not np.allclose(outputs[1], outputs[2])  # the LSTM state and the overlap-add carry over between calls
    assert causal_peers.hstasnet_latency_s(model) == pytest.approx(1024 / 44_100)  # the paper's 23 ms


@pytest.mark.parametrize("small", [False, True])
def test_hstasnet_contender_counts_every_weight_once_per_hop(
    torch_one_thread: object, clip: np.ndarray, small: bool
) -> None:
    contender = bench_peers.hstasnet(clip, small=small)
    model = causal_peers.hstasnet_model(small)
    hops_per_s = 44_100 / 512
    # every weight multiplies once per hop, except the transposed-conv decoder, which runs once per source (4)
    expected_macs = (contender.n_parameters + 3 * model.conv_decode.weight.numel()) * hops_per_s
    assert contender.n_parameters == sum(p.numel() for p in model.parameters())
    assert contender.macs_per_second == pytest.approx(expected_macs, rel=0.01)
    assert contender.algorithmic_latency_s == pytest.approx(1024 / 44_100)
    n_chunks = int(len(clip) / RATE_HZ * 44_100) // 512
    per_call = contender.run()
    assert len(per_call) == n_chunks and min(per_call) > 0
    measured = bench_peers.measure(contender, len(clip) / RATE_HZ, 1, 1, ours_rtf=0.01)
    assert measured.real_time_factor > 0 and measured.rtf_vs_ours == pytest.approx(measured.real_time_factor / 0.01)


@pytest.mark.parametrize("hop_samples", [8, 24, 64])
def test_convtasnet_stream_equals_the_models_own_forward(torch_one_thread: object, hop_samples: int) -> None:
    torch = torch_one_thread
    model = causal_peers.convtasnet_model()
    samples = (np.random.default_rng(2).standard_normal(1536) * 0.1).astype(np.float32)
    stream = causal_peers.ConvTasNetStream(model, hop_samples)
    for _ in range(2):  # reset() returns it to the initial state
        stream.reset()
        streamed = np.concatenate(
            [stream.process(samples[i : i + hop_samples]) for i in range(0, len(samples), hop_samples)], axis=-1
        )
        padded = np.concatenate([np.zeros(8, np.float32), samples])  # the state starts as L - stride zeros
        with torch.no_grad():  # type: ignore[attr-defined]
            offline = model(torch.from_numpy(padded)[None])[0].numpy()[:, : len(samples)]  # type: ignore[attr-defined]
        assert streamed.shape == (4, len(samples))
        np.testing.assert_allclose(streamed, offline, atol=1e-6 * np.abs(offline).max())


def test_convtasnet_receptive_field_is_what_the_docs_say(torch_one_thread: object) -> None:
    torch = torch_one_thread
    model = causal_peers.convtasnet_model()
    receptive = causal_peers.convtasnet_receptive_field_samples(model)
    assert receptive == (3 * 2 * (2**8 - 1)) * 8 + 16 == 12256  # R=3 repeats of X=8 blocks, P=3; L=16, stride 8
    samples = (np.random.default_rng(3).standard_normal(receptive + 400) * 0.1).astype(np.float32)
    nudged = samples.copy()
    nudged[0] += 0.5
    with torch.no_grad():  # type: ignore[attr-defined]
        a, b = (model(torch.from_numpy(x)[None])[0].numpy() for x in (samples, nudged))  # type: ignore[attr-defined]
    difference = np.abs(a - b).max(axis=0)
    # random weights damp a far input to ~1e-7 of the output, but frames are computed independently: exactly 0
    assert difference[receptive - 16 : receptive].max() > 0  # the last frame the first sample reaches
    assert difference[receptive:].max() == 0  # and nothing after


@pytest.mark.parametrize("hop_s", bench_peers.CONVTASNET_HOPS_S)
def test_convtasnet_contender_streams_at_its_hop(torch_one_thread: object, clip: np.ndarray, hop_s: float) -> None:
    contender = bench_peers.convtasnet(clip, hop_s, "test")
    hop = int(round(hop_s * 8_000))
    assert contender.algorithmic_latency_s == pytest.approx((16 + hop - 8) / 8_000)
    # 1000 encoder frames per second; nearly every weight multiplies once per frame (1x1 convolutions)
    assert contender.macs_per_second == pytest.approx(contender.n_parameters * 1000, rel=0.02)
    per_call = contender.run()
    assert len(per_call) == len(clip) // 2 // hop and min(per_call) > 0
