"""Saving live controls back to a rig file: validated by the rig loader first, written atomically.

The rig file keeps its text (comments, order, formatting): only its ``[controls]`` table is replaced (or appended).
The new text is parsed and validated exactly as ``load_rig`` would before anything is written, and written to a
temporary file in the same directory that then replaces the rig with ``os.replace``: a reader (or a power cut)
sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from edge.controls import LiveControls
from edge.errors import ConfigError
from edge.rig import RIGS_DIR, parse_controls, parse_rig

CONTROLS_COMMENT = "# Live controls (sense serve saves them here; sense run starts with them too)"
_CONTROLS_HEADER = re.compile(r"^\s*\[\s*controls\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")


def controls_toml(controls: LiveControls) -> str:
    """The ``[controls]`` table holding ``controls``."""
    lines = [CONTROLS_COMMENT, "[controls]", f"mode = {json.dumps(controls.mode)}", f"master = {controls.master!r}"]
    if controls.group_gains:
        gains = ", ".join(f"{json.dumps(group)} = {float(gain)!r}" for group, gain in controls.group_gains.items())
        lines.append(f"group_gains = {{ {gains} }}")
    if controls.preset_lock is not None:
        lines.append(f"preset_lock = {json.dumps(controls.preset_lock)}")
    lines.append(f"muted = {'true' if controls.muted else 'false'}")
    return "\n".join(lines) + "\n"


def with_controls(text: str, controls: LiveControls) -> str:
    """Rig TOML ``text`` with its ``[controls]`` table (and the comment we put above it) replaced by ``controls``."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _CONTROLS_HEADER.match(line)), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(lines)) if _ANY_HEADER.match(lines[i])), len(lines))
        if start > 0 and lines[start - 1] == CONTROLS_COMMENT:
            start -= 1
        lines = lines[:start] + lines[end:]
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n\n" + controls_toml(controls)


def write_atomically(path: Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` through a temporary file in its directory and ``os.replace``; permissions
    ``mode``, else those of the file it replaces (0o644 for a new one)."""
    if mode is None:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def save_controls(rig_path: str | Path, controls: LiveControls) -> Path:
    """Save ``controls`` into the rig file at ``rig_path`` (validated, atomic); returns the path. A bundled rig is
    refused: copy it and run with ``--rig`` the copy."""
    path = Path(rig_path).resolve()
    if path.parent == RIGS_DIR.resolve():
        raise ConfigError(
            f"rig {path}: a bundled rig is not saved over; copy it (cp {path} my-rig.toml) and start "
            f"with --rig my-rig.toml"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"rig {path}: cannot read: {error}") from None
    new_text = with_controls(text, controls)
    spec = parse_rig(new_text, str(path))  # the loader's own validation, before a byte is written
    if parse_controls(new_text, spec, str(path)) != controls:
        raise ConfigError(f"rig {path}: the [controls] table would not read back as saved; nothing written")
    try:
        write_atomically(path, new_text)
    except OSError as error:
        raise ConfigError(f"rig {path}: cannot write: {error}") from None
    return path
