"""``sense learn`` and ``sense sounds``: the user's own sounds, learned from a few recordings."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

sounds_app = typer.Typer(
    help="The user's own sounds: list, test, remove (learn them with 'sense learn').", no_args_is_help=True
)

PackOption = Annotated[Optional[str], typer.Option(help="Model pack directory or .zip. Default: the bundled pack.")]
DirOption = Annotated[
    Optional[Path],
    typer.Option(
        "--sounds-dir", help="Where user sounds live. Default: $SENSE_SOUNDS_DIR or ~/.local/share/sense/sounds."
    ),
]


def _store(pack: str | None, sounds_dir: Path | None):
    from edge.pack import load_pack
    from edge.user_sounds.store import SoundStore

    return SoundStore(load_pack(pack), sounds_dir)


def _record(count: int, seconds: float, device: str | None, folder: Path) -> list[Path]:
    """Record ``count`` takes of ``seconds`` from the microphone, each after a 3-2-1 countdown."""
    import time

    import numpy as np
    import soundfile

    from edge.stream import DEVICE_STREAM
    from edge.audio_source import microphone_source

    paths = []
    for take in range(1, count + 1):
        for remaining in (3, 2, 1):
            typer.echo(f"take {take}/{count}: make the sound in {remaining}…")
            time.sleep(1.0)
        typer.echo(f"recording {seconds:g} s")
        audio = np.concatenate(list(microphone_source(device, 1024, seconds)))
        path = folder / f"take-{take}.wav"
        soundfile.write(path, audio, DEVICE_STREAM.sample_rate_hz)
        paths.append(path)
    return paths


def learn_command(
    name: Annotated[str, typer.Argument(help="Name of the sound, e.g. kettle, front-door (lower case, digits, '-').")],
    clips: Annotated[
        Optional[list[Path]], typer.Argument(help="3 to 10 short recordings of the sound (any format).")
    ] = None,
    mic: Annotated[bool, typer.Option("--mic", help="Record the takes from the microphone, with a countdown.")] = False,
    takes: Annotated[int, typer.Option(min=3, max=10, help="With --mic: how many takes.")] = 5,
    seconds: Annotated[float, typer.Option(min=0.5, max=10.0, help="With --mic: seconds per take.")] = 3.0,
    device: Annotated[Optional[str], typer.Option(help="With --mic: the input device.")] = None,
    pattern: Annotated[str, typer.Option(help="Pattern the rig plays when the sound is heard.")] = "pulse",
    priority: Annotated[int, typer.Option(help="Preset priority (music 0, speech 5, bundled alerts 8-12).")] = 10,
    group: Annotated[str, typer.Option(help="Actuator group the pattern plays on.")] = "all",
    pack: PackOption = None,
    sounds_dir: DirOption = None,
) -> None:
    """Learn a sound of your own (a kettle, your door, an appliance) from a few recordings."""
    store = _store(pack, sounds_dir)
    with tempfile.TemporaryDirectory() as tmp:
        paths = _record(takes, seconds, device, Path(tmp)) if mic else list(clips or [])
        sound, calibration = store.learn(name, paths, pattern, priority, group)
    typer.echo(
        f"learned {sound.name!r} from {len(sound.clips)} recordings ({sound.embedding_source} embeddings of "
        f"{store.pack.name}): threshold {sound.threshold:.3f}; leave-one-out recordings caught "
        f"{calibration.loo_recall:.0%} (weakest score {min(calibration.clip_scores):.3f}); strongest of "
        f"{calibration.n_negative_steps} negative steps (speech, noise, music) {calibration.max_negative_score:.3f}"
    )
    if calibration.loo_recall < 1.0:
        typer.echo(
            "warning: some recordings score no higher than speech or music; record the sound closer, "
            "with less background, or add takes",
            err=True,
        )


@sounds_app.command("list")
def list_command(
    pack: PackOption = None,
    sounds_dir: DirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The learned sounds, their rig preset and calibration."""
    store = _store(pack, sounds_dir)
    rows = [
        {
            "name": s.name,
            "recordings": len(s.clips),
            "pattern": s.pattern,
            "priority": s.priority,
            "group": s.group,
            "threshold": s.threshold,
            "embedding": s.embedding_source,
            "loo_recall": s.calibration.get("loo_recall"),
        }
        for s in store.sounds.values()
    ]
    if as_json:
        typer.echo(json.dumps({"dir": str(store.dir), "sounds": rows}, indent=2))
        return
    if not rows:
        typer.echo(f"no user sounds for pack {store.pack.name} in {store.dir} (add one: sense learn NAME CLIP...)")
    for row in rows:
        typer.echo(
            f"{row['name']}: {row['recordings']} recordings, pattern {row['pattern']} on {row['group']} at "
            f"priority {row['priority']}, threshold {row['threshold']:.3f} ({row['embedding']})"
        )


@sounds_app.command("test")
def test_command(
    name: Annotated[str, typer.Argument(help="A learned sound.")],
    sound: Annotated[Path, typer.Argument(help="A recording to look for it in.")],
    pack: PackOption = None,
    sounds_dir: DirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """When a learned sound is heard in a recording (the first time and how often)."""
    from edge.audio_source import read_audio_file

    store = _store(pack, sounds_dir)
    times_s = store.detections_s(name, read_audio_file(sound))
    if as_json:
        typer.echo(
            json.dumps({"name": name, "file": str(sound), "detections_s": [round(float(t), 3) for t in times_s]})
        )
    elif len(times_s):
        typer.echo(f"{name} heard in {sound} first at {times_s[0]:.2f} s ({len(times_s)} tagger steps)")
    else:
        typer.echo(f"{name} not heard in {sound}")


@sounds_app.command("remove")
def remove_command(
    name: Annotated[str, typer.Argument(help="A learned sound.")], pack: PackOption = None, sounds_dir: DirOption = None
) -> None:
    """Forget a learned sound and its recordings."""
    store = _store(pack, sounds_dir)
    store.remove(name)
    typer.echo(f"removed {name}")


def register(app: typer.Typer) -> None:
    app.command("learn")(learn_command)
    app.add_typer(sounds_app, name="sounds")
