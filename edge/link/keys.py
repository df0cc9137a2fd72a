"""Device keys of the link protocol: 32 random bytes, kept by the host in a key file as 64 hex characters."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from edge.errors import ConfigError
from edge.link.codec import KEY_BYTES


def generate_key() -> bytes:
    """A fresh random device key."""
    return secrets.token_bytes(KEY_BYTES)


def save_key(path: str | Path, key: bytes) -> Path:
    """Write ``key`` as hex to ``path`` (mode 0600, parent folders created)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.hex() + "\n")
    return path


def load_key(path: str | Path) -> bytes:
    """Read a key file written by :func:`save_key`; errors name the file and what was expected."""
    path = Path(path).expanduser()
    try:
        text = path.read_text().strip()
    except OSError as error:
        raise ConfigError(f"key file {path}: cannot read it ({error.strerror})") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"key file {path}: expected {2 * KEY_BYTES} hex characters") from None
    if len(key) != KEY_BYTES or key in (bytes(KEY_BYTES), b"\xff" * KEY_BYTES):
        raise ConfigError(f"key file {path}: expected {KEY_BYTES} bytes that are not all 0x00/0xFF, got {len(key)}")
    return key
