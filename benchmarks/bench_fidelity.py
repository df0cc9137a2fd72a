"""Haptic fidelity benchmark: how faithfully do the actuators follow the music? Side by side in one run.

Data (``--material``): out-of-source songs by default -- random scores whose every stem comes from a source no
training recipe may use (held-out soundfonts, synth families, drum kits, voices; export/data/varied_songs.py) --
or in-source songs of the training generator and soundfont (export/data/multitrack.py). Both are rendered one
instrument at a time, so every mixture has exact stems, exact drum onset times and sections where stems are off.

Systems (all on the same 8 ms hop grid, all driving the same rig's actuator groups):
- ours, oracle stems      — the rig's renderer fed the true stems' spectra;
- ours, separator         — the whole streaming pipeline with the bundled pack's separator (or --pack); drum
                            pulses come from its drum-onset head when it has one;
- ours, DSP-only          — the rig's renderer without a model (bands of the mixture stand in for stems);
- band-envelope baseline  — per group, the envelope of a fixed band of the mixture (bass 30-250 Hz,
                            drums 2-8 kHz, vocals/other 250-2000 Hz);
- low-pass baseline       — the envelope of everything below 500 Hz on every actuator (a "subwoofer vest").

Metrics:
- onset F-measure: drum onsets vs pulses on the drum actuators (rises of the drum group's mean intensity),
  mir_eval at +-30 ms, and the delay of matched pulses (mean, p95; positive = pulse after the onset);
- correlation (Pearson) of each routed group's mean intensity with its stem's RMS envelope;
- crosstalk: energy on the drum actuators in bass-only sections relative to sections with drums, in dB
  (lower is better; floored at -60 dB).

    .venv/bin/python benchmarks/bench_fidelity.py --n-songs 8 --markdown docs/fidelity.md
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable

import numpy as np
import typer
from rich.console import Console
from rich.progress import track
from rich.table import Table

from edge.analysis import analyse_signals
from edge.haptics.spec import MUSIC_PRESET
from edge.haptics.stages import AttackRelease
from edge.rig import Rig, load_rig
from edge.stream import DEVICE_STREAM

if TYPE_CHECKING:
    from export.data.multitrack import Multitrack

SAMPLE_RATE_HZ = DEVICE_STREAM.sample_rate_hz
N_FFT = DEVICE_STREAM.n_fft
HOP = DEVICE_STREAM.hop
ONSET_WINDOW_S = 0.03
PULSE_RISE = 0.1  # a pulse is a rise of the drum group's mean intensity by at least this within one hop
PULSE_MIN_GAP_S = 0.04
SECTION_EDGE_S = 0.15  # skip this much at each section start (tails of the previous section)
CROSSTALK_FLOOR_DB = -60.0
LOWPASS_HZ = 500.0
BASELINE_BANDS_HZ = {
    "bass": (30.0, 250.0),
    "drums": (2000.0, 8000.0),
    "vocals": (250.0, 2000.0),
    "other": (250.0, 2000.0),
}
STEMS = ("vocals", "drums", "bass", "other")

Renderer = Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray]


def stem_groups(rig: Rig) -> dict[str, np.ndarray]:
    """Actuator indices each stem is routed to in the music preset (union over its routes)."""
    groups: dict[str, set[int]] = {}
    for route in rig.spec.routes:
        if MUSIC_PRESET in route.presets and route.source in STEMS:
            members = range(rig.n_actuators) if route.group == "all" else rig.spec.groups[route.group]
            groups.setdefault(route.source, set()).update(members)
    return {stem: np.array(sorted(members)) for stem, members in groups.items()}


def _band_envelopes(mixture: np.ndarray, bands_hz: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    """Per named band: (n_frames,) amplitude envelope of the mixture, normalised to peak 1, 5/80 ms smoothing."""
    analysis = analyse_signals(mixture, SAMPLE_RATE_HZ, N_FFT, HOP)
    freqs_hz = np.arange(N_FFT // 2 + 1) * SAMPLE_RATE_HZ / N_FFT
    smoother = AttackRelease(1, SAMPLE_RATE_HZ / HOP, attack_s=0.005, release_s=0.08)
    envelopes = {}
    for name, (low, high) in bands_hz.items():
        mask = (freqs_hz >= low) & (freqs_hz < high)
        amplitude = np.sqrt((analysis.mixture_mag[:, mask] ** 2).mean(axis=1))
        smoother.reset()
        envelope = smoother.process((amplitude / max(amplitude.max(), 1e-12))[:, None])[:, 0]
        envelopes[name] = envelope
    return envelopes


def band_envelope_baseline(rig: Rig) -> Renderer:
    groups = stem_groups(rig)

    def render(mixture: np.ndarray, stems: dict[str, np.ndarray]) -> np.ndarray:
        envelopes = _band_envelopes(mixture, BASELINE_BANDS_HZ)
        out = np.zeros((len(mixture) // HOP, rig.n_actuators))
        for stem, members in groups.items():
            out[:, members] = np.maximum(out[:, members], envelopes[stem][:, None])
        return out

    return render


def lowpass_baseline(rig: Rig) -> Renderer:
    def render(mixture: np.ndarray, stems: dict[str, np.ndarray]) -> np.ndarray:
        envelope = _band_envelopes(mixture, {"low": (0.0, LOWPASS_HZ)})["low"]
        return np.repeat(envelope[:, None], rig.n_actuators, axis=1)

    return render


def ours_oracle(rig: Rig) -> Renderer:
    def render(mixture: np.ndarray, stems: dict[str, np.ndarray]) -> np.ndarray:
        renderer = rig.make_renderer(STEMS, ())
        return renderer.process(analyse_signals(mixture, SAMPLE_RATE_HZ, N_FFT, HOP, stems=stems))

    return render


def ours_dsp_only(rig: Rig) -> Renderer:
    def render(mixture: np.ndarray, stems: dict[str, np.ndarray]) -> np.ndarray:
        return rig.make_renderer((), ()).process(analyse_signals(mixture, SAMPLE_RATE_HZ, N_FFT, HOP))

    return render


def ours_separator(rig: Rig, pack_path: str | None) -> tuple[Renderer | None, str]:
    """The streaming pipeline with the pack's separator (no tagger: music only), or (None, why not)."""
    try:
        from edge.pack import load_pack
        from edge.session import open_session

        pack = load_pack(pack_path)
    except Exception as error:  # report the row as not run, with the reason
        return None, f"not run: {error}"
    if pack.separator is None:
        return None, f"not run: pack {pack_path or 'default'} has no separator"

    def render(mixture: np.ndarray, stems: dict[str, np.ndarray]) -> np.ndarray:
        with open_session(pack, rig, output=(), use_tagger=False, realtime_budget=None) as session:
            return session.process(mixture.astype(np.float32))

    return render, f"pack {pack.name} {pack.version}" if hasattr(pack, "version") else "pack"


def pulse_times_s(intensity: np.ndarray) -> np.ndarray:
    """Times (end of hop) of pulses: frames where the intensity rises by >= PULSE_RISE, PULSE_MIN_GAP_S apart."""
    rise = np.diff(intensity, prepend=0.0)
    times = []
    last = -np.inf
    for frame in np.flatnonzero(rise >= PULSE_RISE):
        t_s = (frame + 1) * HOP / SAMPLE_RATE_HZ
        if t_s - last >= PULSE_MIN_GAP_S:
            times.append(t_s)
            last = t_s
    return np.array(times)


def stem_envelope(stem: np.ndarray) -> np.ndarray:
    """(n_frames,) RMS of the last n_fft samples at the end of each hop."""
    n_frames = len(stem) // HOP
    padded = np.concatenate([np.zeros(N_FFT - HOP), stem[: n_frames * HOP]]).astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:n_frames]
    return np.sqrt((windows**2).mean(axis=1))


def _frames_in(intervals: list[tuple[float, float]], n_frames: int) -> np.ndarray:
    t_s = np.arange(1, n_frames + 1) * HOP / SAMPLE_RATE_HZ
    mask = np.zeros(n_frames, dtype=bool)
    for start, end in intervals:
        mask |= (t_s >= start + SECTION_EDGE_S) & (t_s < end)
    return mask


def evaluate(intensity: np.ndarray, song, groups: dict[str, np.ndarray]) -> dict[str, object]:
    """Metrics of one system on one song (see the module docstring)."""
    import mir_eval

    drums = intensity[:, groups["drums"]].mean(axis=1)
    reference = song.drum_onsets_s
    estimated = pulse_times_s(drums)
    f_measure, precision, recall = mir_eval.onset.f_measure(reference, estimated, window=ONSET_WINDOW_S)
    matches = mir_eval.util.match_events(reference, estimated, ONSET_WINDOW_S)
    delays_s = [estimated[j] - reference[i] for i, j in matches]
    correlations = {}
    for stem, members in groups.items():
        group_mean = intensity[:, members].mean(axis=1)
        envelope = stem_envelope(song.stems[stem])[: len(group_mean)]
        if group_mean.std() > 0 and envelope.std() > 0:
            correlations[stem] = float(np.corrcoef(group_mean, envelope)[0, 1])
        else:
            correlations[stem] = 0.0
    bass_only = _frames_in(song.intervals_with_only("bass"), len(drums))
    with_drums = _frames_in(song.intervals_with("drums"), len(drums))
    leak = float(np.mean(drums[bass_only] ** 2)) if bass_only.any() else float("nan")
    wanted = float(np.mean(drums[with_drums] ** 2)) if with_drums.any() else float("nan")
    # Undefined (nan) when the drum actuators never move while drums play.
    crosstalk_db = 10 * np.log10(max(leak, 1e-12) / wanted) if wanted > 0 else float("nan")
    return {
        "f_measure": float(f_measure),
        "precision": float(precision),
        "recall": float(recall),
        "delays_s": [float(d) for d in delays_s],
        "correlations": correlations,
        "crosstalk_db": float(crosstalk_db if np.isnan(crosstalk_db) else max(crosstalk_db, CROSSTALK_FLOOR_DB)),
    }


def aggregate(per_song: list[dict[str, object]]) -> dict[str, object]:
    delays_ms = np.array([d for song in per_song for d in song["delays_s"]]) * 1e3  # type: ignore[union-attr]
    stems = per_song[0]["correlations"].keys()  # type: ignore[union-attr]
    return {
        "f_measure": float(np.mean([s["f_measure"] for s in per_song])),
        "precision": float(np.mean([s["precision"] for s in per_song])),
        "recall": float(np.mean([s["recall"] for s in per_song])),
        "mean_delay_ms": float(delays_ms.mean()) if delays_ms.size else float("nan"),
        "p95_delay_ms": float(np.percentile(delays_ms, 95)) if delays_ms.size else float("nan"),
        "correlations": {stem: float(np.mean([s["correlations"][stem] for s in per_song])) for stem in stems},  # type: ignore[index]
        "crosstalk_db": float(np.nanmean([s["crosstalk_db"] for s in per_song])),
    }


def markdown_table(results: dict[str, dict[str, object]], notes: dict[str, str], stems: list[str]) -> str:
    header = (
        ["system", "onset F (±30 ms)", "P / R", "delay mean / p95 (ms)"]
        + [f"r {s}" for s in stems]
        + ["crosstalk (dB)"]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, result in results.items():
        if not result:
            lines.append(f"| {name} | {notes.get(name, 'not run')} |" + " |" * (len(header) - 2))
            continue
        correlations = result["correlations"]
        row = [
            name,
            f"{result['f_measure']:.3f}",
            f"{result['precision']:.2f} / {result['recall']:.2f}",
            f"{result['mean_delay_ms']:.1f} / {result['p95_delay_ms']:.1f}",
        ]
        row += [f"{correlations.get(s, float('nan')):.2f}" for s in stems]  # type: ignore[union-attr]
        row += [f"{result['crosstalk_db']:.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


MATERIALS = ("out-of-source", "in-source")


def song_for(material: str, index: int, seed: int) -> "Multitrack":
    """Song ``index`` of the material: out-of-source = every stem from a source no training recipe may use
    (export.evaluate.heldout.out_of_source_song); in-source = the training generator and soundfont, seed + index."""
    from export.data.multitrack import render_multitrack
    from export.evaluate.heldout import out_of_source_song

    if material == "out-of-source":
        return out_of_source_song(index).as_multitrack()
    return render_multitrack(seed + index)


def main(
    n_songs: Annotated[int, typer.Option(help="Number of songs.")] = 8,
    material: Annotated[
        str,
        typer.Option(
            help="out-of-source (held-out soundfonts, synths, kits, voices; the "
            "headline) or in-source (the training generator and soundfont)."
        ),
    ] = "out-of-source",
    seed: Annotated[
        int, typer.Option(help="In-source only: seed of the first song; songs use seed, seed+1, ….")
    ] = 1000,
    rig_path: Annotated[str, typer.Option("--rig", help="Rig file or bundled rig name.")] = "default-sim-vest",
    pack: Annotated[
        str | None, typer.Option(help="Model pack for the separator row (default: the bundled one).")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write all results as JSON here.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the table as Markdown here.")] = None,
) -> None:
    if material not in MATERIALS:
        raise typer.BadParameter(f"--material {material!r}: expected one of {', '.join(MATERIALS)}")
    rig = load_rig(rig_path)
    groups = stem_groups(rig)
    separator, separator_note = ours_separator(rig, pack)
    systems: dict[str, Renderer | None] = {
        "ours, oracle stems": ours_oracle(rig),
        "ours, separator": separator,
        "ours, DSP-only (no model)": ours_dsp_only(rig),
        "band-envelope DSP baseline": band_envelope_baseline(rig),
        "low-pass <500 Hz baseline": lowpass_baseline(rig),
    }
    per_system: dict[str, list[dict[str, object]]] = {name: [] for name in systems}
    started = time.perf_counter()
    for index in track(range(n_songs), description="songs"):
        song = song_for(material, index, seed)
        for name, render in systems.items():
            if render is not None:
                per_system[name].append(evaluate(render(song.mixture, song.stems), song, groups))
    results = {name: aggregate(songs) if songs else {} for name, songs in per_system.items()}
    notes = {"ours, separator": separator_note}
    stems = [s for s in STEMS if s in groups]
    table = markdown_table(results, notes, stems)
    console = Console()
    which = "held-out seeds" if material == "out-of-source" else f"seeds {seed}..{seed + n_songs - 1}"
    rich_table = Table(title=f"haptic fidelity: {n_songs} {material} songs ({which}), rig {rig.name}")
    for column in table.splitlines()[0].strip("| ").split(" | "):
        rich_table.add_column(column)
    for line in table.splitlines()[2:]:
        cells = line.strip("| ").split(" | ")
        rich_table.add_row(*(cells + [""] * (len(rich_table.columns) - len(cells))))
    console.print(rich_table)
    console.print(f"separator row: {separator_note}; {time.perf_counter() - started:.1f} s; numpy {np.__version__}")
    console.print(table, markup=False, highlight=False)
    meta = {
        "n_songs": n_songs,
        "material": material,
        "seed": seed,
        "rig": str(rig.path),
        "separator": separator_note,
        "command": " ".join(["benchmarks/bench_fidelity.py", *sys.argv[1:]]),
    }
    if json_out is not None:
        json_out.write_text(json.dumps({"meta": meta, "results": results, "per_song": per_system}, indent=1))
    if markdown is not None:
        markdown.write_text(table + "\n")


if __name__ == "__main__":
    typer.run(main)
