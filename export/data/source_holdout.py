"""Which *sources* of sound training may use, and which are held out for evaluation.

A source is one way a stem's sound was made: a General MIDI soundfont, a drum kit, a synthesiser family, a
speaker/voice. Students are judged on material whose every stem comes from sources they never trained or tuned
on (out-of-source); held-out seeds of the same sources (in-source) only measure memorisation of those sounds.

Source names are ``"<kind>:<name>"``, e.g. ``"soundfont:TimGM6mb"``, ``"synth:pulse"``, ``"kit:HardElectro1"``,
``"drumsynth:noise_kit"``, ``"voice:espeak:en-us+f3"``. :func:`check_training_source` is the guard every data
generator calls for each stem it renders for training, beside the held-out-seed guard of
:mod:`export.evaluate.heldout`.
"""

from __future__ import annotations

from pathlib import Path

from edge.errors import ConfigError

SOUNDFONTS = {
    "FluidR3_GM": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),  # Debian fluid-soundfont-gm
    "TimGM6mb": Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),  # Debian timgm6mb-soundfont
    "MuseScore_General": Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),  # musescore-general-soundfont-small
}
"""General MIDI soundfonts by name -> file (Debian package in the comment)."""
SOUNDFONT_PACKAGES = {
    "FluidR3_GM": "fluid-soundfont-gm",
    "TimGM6mb": "timgm6mb-soundfont",
    "MuseScore_General": "musescore-general-soundfont-small",
}
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
ESPEAK_LANGUAGES = ("en", "en-us", "en-gb-x-rp")

HELDOUT_SOURCES: frozenset[str] = frozenset(
    {
        # two whole soundfonts: every instrument, kit and voice patch in them
        "soundfont:TimGM6mb",
        "soundfont:MuseScore_General",
        # two synthesiser families (chiptune pulse waves; detuned supersaw stacks) and one drum-synth family
        "synth:pulse",
        "synth:supersaw",
        "drumsynth:noise_kit",
        # three whole Hydrogen drum kits (one electronic, two acoustic)
        "kit:HardElectro1",
        "kit:ColomboAcousticDrumkit",
        "kit:Millo_MultiLayered3",
        # speakers/voices: two espeak-ng voice variants (in every language)
        *(f"voice:espeak:{language}+{variant}" for language in ESPEAK_LANGUAGES for variant in ("f3", "m7")),
    }
)
"""Sources reserved for out-of-source evaluation: training and tuning must never render a stem from them."""


def is_heldout_source(source: str) -> bool:
    return source in HELDOUT_SOURCES


def check_training_source(source: str) -> str:
    """Return ``source`` if training may use it, else a ConfigError (it is held out for evaluation)."""
    if is_heldout_source(source):
        raise ConfigError(
            f"source {source!r} is held out for out-of-source evaluation "
            f"(export.data.source_holdout.HELDOUT_SOURCES); training may not use it"
        )
    return source


def soundfont_path(name: str) -> Path:
    """The file of soundfont ``name``, or a ConfigError with the Debian package to install."""
    if name not in SOUNDFONTS:
        raise ConfigError(f"unknown soundfont {name!r}; expected one of {sorted(SOUNDFONTS)}")
    path = SOUNDFONTS[name]
    if not path.exists():
        raise ConfigError(
            f"soundfont {name} not found at {path}; install it with: "
            f"sudo apt-get install --no-install-recommends {SOUNDFONT_PACKAGES[name]}"
        )
    return path
