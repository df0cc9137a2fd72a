"""systemd's notify protocol (sd_notify(3)), without libsystemd: READY=1, WATCHDOG=1 and STOPPING=1 as datagrams
to ``$NOTIFY_SOCKET``. Outside systemd (no ``$NOTIFY_SOCKET``) every call does nothing.

``sense run`` under the unit of :mod:`edge.service` says READY=1 once its pipeline is built and WATCHDOG=1 as hops
flow, at most once per half of ``$WATCHDOG_USEC``; a pipeline that stops flowing is restarted by systemd.
"""

from __future__ import annotations

import os
import socket
import time


class SystemdNotifier:
    """Sends notify messages to ``socket_path`` (an abstract socket when it starts with '@')."""

    def __init__(self, socket_path: str | None, watchdog_interval_s: float | None = None) -> None:
        self.socket_path = socket_path
        self.watchdog_interval_s = watchdog_interval_s
        self._last_ping_s = float("-inf")

    @classmethod
    def from_environment(cls) -> "SystemdNotifier":
        """From ``$NOTIFY_SOCKET`` and ``$WATCHDOG_USEC`` (honoured only when ``$WATCHDOG_PID`` is ours or unset)."""
        watchdog_usec = os.environ.get("WATCHDOG_USEC", "")
        watchdog_pid = os.environ.get("WATCHDOG_PID", "")
        interval_s = None
        if watchdog_usec.isdigit() and int(watchdog_usec) > 0 and watchdog_pid in ("", str(os.getpid())):
            interval_s = int(watchdog_usec) / 1e6 / 2
        return cls(os.environ.get("NOTIFY_SOCKET") or None, interval_s)

    def send(self, message: str) -> bool:
        """Send one message; False when not under systemd, the socket is gone or full (never raises, never blocks)."""
        if not self.socket_path:
            return False
        address = "\0" + self.socket_path[1:] if self.socket_path.startswith("@") else self.socket_path
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)  # a busy systemd never stalls the pipeline
                sock.sendto(message.encode(), address)
        except OSError:
            return False
        return True

    def ready(self) -> None:
        self.send("READY=1\nSTATUS=pipeline running")

    def alive(self) -> None:
        """A hop went through: ping the watchdog if half its interval has passed since the last ping."""
        if self.watchdog_interval_s is None:
            return
        now_s = time.monotonic()
        if now_s - self._last_ping_s >= self.watchdog_interval_s:
            self._last_ping_s = now_s
            self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")
