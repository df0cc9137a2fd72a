"""Cross-process locks on devices: two runs must not drive one I2C address at once (``serial://`` uses pyserial's
exclusive open for the same).

A lock is an ``flock`` on a file named after the device in :func:`lock_dir` (``$SENSE_LOCK_DIR``, else
``/run/lock/sense``, else ``<tmp>/sense-locks``); the holder writes its pid there so a refusal can name it. The
kernel drops the lock when the holder exits, however it ends.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
from pathlib import Path

from edge.errors import OutputError

ENV_LOCK_DIR = "SENSE_LOCK_DIR"
SYSTEM_LOCK_DIR = Path("/run/lock/sense")


def lock_dir() -> Path:
    """Where the lock files live (created when missing)."""
    chosen = os.environ.get(ENV_LOCK_DIR)
    candidates = [Path(chosen)] if chosen else [SYSTEM_LOCK_DIR, Path(tempfile.gettempdir()) / "sense-locks"]
    for candidate in candidates:
        try:
            candidate.mkdir(mode=0o1777, parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            continue
    raise OutputError(
        f"no writable directory for device locks (tried {', '.join(map(str, candidates))}; set {ENV_LOCK_DIR})"
    )


_HELD: dict[str, list[int]] = {}
"""Locks this process holds: lock file path -> [file descriptor, number of holders]. Within one process the drivers'
reservations (:meth:`edge.buses.i2c.I2CBus.reserve`) keep two users apart; the lock keeps other processes out."""
_HELD_LOCK = threading.Lock()


class DeviceLock:
    """An exclusive lock on device ``name`` (a file-name-safe string) for this process; ``release()`` frees it."""

    def __init__(self, name: str, what: str) -> None:
        path = lock_dir() / f"{name}.lock"
        self.key = str(path)
        self._held = False
        with _HELD_LOCK:
            held = _HELD.get(self.key)
            if held is not None:
                held[1] += 1
                self._held = True
                return
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                os.close(fd)
                raise OutputError(
                    f"{what}: in use by another program ({f'pid {holder}, ' if holder else ''}another "
                    f"`sense run` or `sense calibrate`; lock {path}); stop it first"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            _HELD[self.key] = [fd, 1]
            self._held = True

    def release(self) -> None:
        """Free the lock (the last holder in this process closes the file, which drops the flock). Idempotent."""
        with _HELD_LOCK:
            if not self._held:
                return
            self._held = False
            held = _HELD[self.key]
            held[1] -= 1
            if held[1] == 0:
                del _HELD[self.key]
                os.close(held[0])
