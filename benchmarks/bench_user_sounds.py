"""User sounds: learn each of several sounds from 5 recordings, then measure on material it never saw.

    .venv/bin/python benchmarks/bench_user_sounds.py [--takes 5] [--held-out 8] [--music-seconds 600]
        [--speech-seconds 300] [--threshold-position 0.5] [--pack PATH] [--json out.json] [--markdown out.md]

Sounds: our synthetic event classes (export/data/sound_events.py: siren, alarm, doorbell, telephone, knock,
clapping; each take a new random instance), sampled ones (sonic-pi-samples: elec_bell, elec_chime,
drum_cowbell; takes vary gain, pitch ±4 % and decay) and two voices (espeak-ng calling "Anna!" in an en-gb and an
en-us+f3 voice; takes vary speed and pitch). Learning uses ``SoundStore.learn`` as ``sense learn`` does.

Per sound, held-out takes (new instances / speeds / pitches) are played 1.5 s into a 4 s scene three ways:
alone at another gain (-6..0 dB), in another room (a synthetic exponentially decaying reverb, RT60 0.3-0.8 s),
and over held-out music (Debian wesnoth-1.16-music, never used to learn or calibrate) at 0 dB and -12 dB
(music peak relative to the sound's peak).
Recall at 1 s: the share of scenes with a detection within 1 s of the onset. False alarms per hour: detection
episodes (hits closer than 1 s merged) over --music-seconds of that music and --speech-seconds of recorded
speech (asterisk-core-sounds-en-wav), per hour of material. Cost per hop: the tagger with its embedding output
and the prototype scoring, against the plain tagger, per 8 ms hop (the tagger runs every 8 hops).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import zlib
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import soundfile
import typer

from edge import DEVICE_SAMPLE_RATE_HZ
from edge.audio_source import read_audio_file, resample
from edge.bench import emit, machine_info, machine_line
from edge.pack import load_pack
from edge.runners import open_runner
from edge.user_sounds.store import SoundStore
from export.data.sound_events import synthesize_event

RATE = DEVICE_SAMPLE_RATE_HZ
SYNTHETIC = ("siren", "alarm", "doorbell", "telephone", "knock", "clapping")
SAMPLES_DIR = Path("/usr/share/sonic-pi/samples")
SAMPLED = ("elec_bell", "elec_chime", "drum_cowbell")
VOICES = (("anna-en-gb", "en-gb"), ("anna-en-us-f3", "en-us+f3"))
MUSIC_DIR = Path("/usr/share/games/wesnoth/1.16/data/core/music")
SPEECH_DIR = Path("/usr/share/asterisk/sounds")
ONSET_S = 1.5
SCENE_S = 4.0
EPISODE_GAP_S = 1.0


def _peak(audio: np.ndarray, peak: float = 0.8) -> np.ndarray:
    return (peak * audio / max(float(np.abs(audio).max()), 1e-9)).astype(np.float32)


def make_take(sound: str, rng: np.random.Generator) -> np.ndarray:
    """One new recording of ``sound`` (about 1-2 s)."""
    if sound in SYNTHETIC:
        return _peak(synthesize_event(sound, rng, rng.uniform(1.2, 2.0)))
    if sound in SAMPLED:
        audio = read_audio_file(SAMPLES_DIR / f"{sound}.flac")[: int(2.0 * RATE)]
        stretched = resample(audio, int(RATE * rng.uniform(0.96, 1.04)), RATE)  # pitch and length +-4 %
        decay = np.exp(-np.arange(len(stretched)) / (RATE * rng.uniform(0.4, 2.0)))
        return _peak(stretched * decay)
    voice = dict(VOICES)[sound]
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "voice.wav"
        subprocess.run(
            [
                "espeak-ng",
                "-v",
                voice,
                "-s",
                str(int(rng.uniform(130, 190))),
                "-p",
                str(int(rng.uniform(35, 65))),
                "-w",
                str(wav),
                "Anna!",
            ],
            check=True,
        )
        audio, rate = soundfile.read(wav, dtype="float32")
    return _peak(resample(audio, rate))


def room(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rt60_s = rng.uniform(0.3, 0.8)
    n = int(rt60_s * RATE)
    impulse = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    impulse[0] = 1.0 / 0.3
    wet = np.convolve(audio, impulse * 0.3)[: len(audio) + n]
    return _peak(wet, float(np.abs(audio).max()))


def load_material(directory: Path, pattern: str, seconds: float, skip: int = 0) -> np.ndarray:
    """Up to ``seconds`` of the files matching ``pattern`` under ``directory``, in sorted order, concatenated."""
    parts, total = [], 0
    for path in sorted(directory.rglob(pattern))[skip:]:
        audio = read_audio_file(path)
        parts.append(audio[: int(seconds * RATE) - total])
        total += len(parts[-1])
        if total >= seconds * RATE:
            break
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def scenes(take: np.ndarray, music: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    def place(sound: np.ndarray, background: np.ndarray) -> np.ndarray:
        scene = background.copy()
        start = int(ONSET_S * RATE)
        scene[start : start + len(sound)] += sound[: len(scene) - start]
        return scene

    silence = np.zeros(int(SCENE_S * RATE), np.float32)
    offset = int(rng.integers(0, max(1, len(music) - len(silence))))
    excerpt = _peak(music[offset : offset + len(silence)], float(np.abs(take).max()))
    return {
        "other take": place(take * 10 ** (rng.uniform(-6, 0) / 20), silence),
        "other room": place(room(take, rng), silence),
        "over music": place(take, excerpt),
        "over music -12 dB": place(take, excerpt * 10 ** (-12 / 20)),
    }


def episodes(times_s: np.ndarray) -> int:
    return int(len(times_s) and 1 + np.sum(np.diff(times_s) > EPISODE_GAP_S))


def hop_cost(store: SoundStore, pack: Any, n_calls: int = 400) -> dict[str, float]:
    """Per 8 ms hop: the plain tagger call, the tagger with its embedding output, and prototype scoring."""
    embedder = store.embedder
    tagger = pack.tagger
    window = np.abs(
        np.random.default_rng(0).standard_normal((1, tagger.context_frames, tagger.inputs[0].shape[-1]))
    ).astype(np.float32)
    plain = open_runner(pack, tagger, "onnx", "fp32", 1)

    def per_call_s(function: Any) -> float:
        for _ in range(20):
            function()
        started = time.perf_counter()
        for _ in range(n_calls):
            function()
        return (time.perf_counter() - started) / n_calls

    classifiers = [sound.classifier() for sound in store.sounds.values()]
    vector = embedder.step_embedding(window[0])[None]
    every = tagger.every_n_hops
    return {
        "tagger_ms_per_hop": per_call_s(lambda: plain.run({tagger.inputs[0].name: window})) * 1e3 / every,
        "tagger_with_embedding_ms_per_hop": per_call_s(lambda: embedder.step_embedding(window[0])) * 1e3 / every,
        "scoring_ms_per_hop": per_call_s(lambda: [c.scores(vector) for c in classifiers]) * 1e3 / every,
        "n_sounds": len(classifiers),
    }


def to_markdown(report: dict[str, Any]) -> str:
    s = report["settings"]
    lines = [
        f"User sounds, {s['takes']} recordings each, pack {s['pack']}, threshold at {s['threshold_position']:g} of the way from the strongest negative to the weakest recording; held-out: {s['held_out']} takes x 3 scenes per sound; "
        f"false alarms over {s['music_seconds']:.0f} s of held-out music and {s['speech_seconds']:.0f} s of speech. "
        f"Machine: {machine_line(report['machine'])}.",
        "",
        "| sound | kind | threshold | recall@1s other take | other room | over music 0 dB | over music -12 dB | median latency s | FA/h music | FA/h speech |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["sounds"]:
        lines.append(
            f"| {row['name']} | {row['kind']} | {row['threshold']:.3f} | {row['recall']['other take']:.2f} | "
            f"{row['recall']['other room']:.2f} | {row['recall']['over music']:.2f} | {row['recall']['over music -12 dB']:.2f} | {row['median_latency_s']:.2f} | "
            f"{row['false_alarms_per_hour']['music']:.1f} | {row['false_alarms_per_hour']['speech']:.1f} |"
        )
    cost = report["cost"]
    lines += [
        "",
        f"Cost per 8 ms hop (1 thread, onnx fp32): tagger {cost['tagger_ms_per_hop']:.4f} ms, tagger with its "
        f"embedding output {cost['tagger_with_embedding_ms_per_hop']:.4f} ms, scoring {cost['n_sounds']} sounds "
        f"{cost['scoring_ms_per_hop']:.4f} ms.",
        "",
    ]
    return "\n".join(lines)


def main(
    takes: Annotated[int, typer.Option(min=3, max=10)] = 5,
    held_out: Annotated[int, typer.Option(min=1)] = 8,
    music_seconds: Annotated[float, typer.Option()] = 600.0,
    speech_seconds: Annotated[float, typer.Option()] = 300.0,
    pack: Annotated[Optional[str], typer.Option()] = None,
    threshold_position: Annotated[
        float, typer.Option(help="Where the threshold sits between negatives (0) and recordings (1).")
    ] = 0.5,
    only: Annotated[Optional[str], typer.Option(help="Comma-separated sounds to run (default: all).")] = None,
    json_path: Annotated[Optional[Path], typer.Option("--json")] = None,
    markdown_path: Annotated[Optional[Path], typer.Option("--markdown")] = None,
) -> None:
    import edge.user_sounds.classifier as classifier_module

    classifier_module.THRESHOLD_POSITION = threshold_position
    loaded = load_pack(pack)
    music = load_material(MUSIC_DIR, "*.ogg", music_seconds)
    speech = load_material(SPEECH_DIR, "*.wav", speech_seconds)
    scene_music = load_material(MUSIC_DIR, "*.ogg", 120.0, skip=8)  # other tracks than the false-alarm music
    kinds = {
        **{s: "synthetic" for s in SYNTHETIC},
        **{s: "sampled" for s in SAMPLED if (SAMPLES_DIR / f"{s}.flac").exists()},
        **{name: "voice" for name, _ in VOICES},
    }
    if only:
        kinds = {name: kind for name, kind in kinds.items() if name in only.split(",")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SoundStore(loaded, Path(tmp) / "overlay")
        background = {"music": store.embedder.embed(music), "speech": store.embedder.embed(speech)}
        step_s = store.embedder.every_n_hops * store.embedder.hop / RATE
        for name, kind in kinds.items():
            rng = np.random.default_rng(zlib.crc32(name.encode()))
            paths = []
            for index in range(takes):
                path = Path(tmp) / f"{name}-{index}.wav"
                soundfile.write(path, make_take(name, rng), RATE)
                paths.append(path)
            sound, calibration = store.learn(name.replace("_", "-"), paths)
            classifier = sound.classifier()
            hits: dict[str, list[bool]] = {
                "other take": [],
                "other room": [],
                "over music": [],
                "over music -12 dB": [],
            }
            latencies = []
            for _ in range(held_out):
                for condition, scene in scenes(make_take(name, rng), scene_music, rng).items():
                    times_s = (np.flatnonzero(classifier.detects(store.embedder.embed(scene))) + 1) * step_s
                    in_time = times_s[(times_s > ONSET_S) & (times_s <= ONSET_S + 1.0)]
                    hits[condition].append(bool(len(in_time)))
                    if len(in_time):
                        latencies.append(float(in_time[0] - ONSET_S))
            false_alarms = {
                key: episodes((np.flatnonzero(classifier.detects(steps)) + 1) * step_s)
                * 3600.0
                / max(len(steps) * step_s, 1e-9)
                for key, steps in background.items()
            }
            rows.append(
                {
                    "name": name,
                    "kind": kind,
                    "threshold": sound.threshold,
                    "loo_recall": calibration.loo_recall,
                    "recall": {k: float(np.mean(v)) for k, v in hits.items()},
                    "median_latency_s": float(np.median(latencies)) if latencies else float("nan"),
                    "false_alarms_per_hour": false_alarms,
                }
            )
            print(f"{name}: {rows[-1]['recall']} FA/h {false_alarms}", flush=True)
        cost = hop_cost(store, loaded)
    report = {
        "settings": {
            "pack": f"{loaded.name} {loaded.version}",
            "takes": takes,
            "held_out": held_out,
            "threshold_position": threshold_position,
            "music_seconds": len(music) / RATE,
            "speech_seconds": len(speech) / RATE,
            "embedding": store.embedder.source,
        },
        "machine": machine_info(),
        "sounds": rows,
        "cost": cost,
    }
    emit(report, to_markdown(report), json_path, markdown_path)


if __name__ == "__main__":
    typer.run(main)
