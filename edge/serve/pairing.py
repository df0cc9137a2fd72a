"""The pairing token every API call and WebSocket presents, and the rate limit on wrong ones (standard library).

A token is 128 random bits (``secrets``), compared in constant time. A client address that presents
:data:`MAX_FAILURES` wrong or missing tokens within :data:`FAILURE_WINDOW_S` is refused outright — even with the
right token — for :data:`LOCKOUT_S`, so guessing is hopeless and hammering is cheap to turn away. At most
:data:`MAX_TRACKED_CLIENTS` addresses are remembered (the oldest forgotten first): memory stays bounded.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

TOKEN_BYTES = 16
MAX_FAILURES = 5
FAILURE_WINDOW_S = 60.0
LOCKOUT_S = 60.0
MAX_TRACKED_CLIENTS = 1024


@dataclass(frozen=True)
class Verdict:
    """``ok``; else refused (wrong/missing token) or ``limited`` (too many wrong ones: ``retry_after_s``)."""

    ok: bool
    limited: bool = False
    retry_after_s: float = 0.0


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class Pairing:
    """Holds the current token (:meth:`rotate` replaces it) and each client address's recent failures."""

    def __init__(self, token: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._token = token or new_token()
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def token(self) -> str:
        return self._token

    def rotate(self) -> str:
        """A new token; the old one stops working at once."""
        self._token = new_token()
        return self._token

    def matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self._token.encode())

    def check(self, presented: str | None, client: str) -> Verdict:
        """Whether ``client`` (an address) may go on with the token it ``presented`` (None: none given)."""
        now = self._clock()
        with self._lock:
            until = self._locked_until.get(client)
            if until is not None:
                if now < until:
                    return Verdict(False, True, until - now)
                del self._locked_until[client]
            if self.matches(presented):
                return Verdict(True)
            failures = self._failures.setdefault(client, deque(maxlen=MAX_FAILURES))
            self._failures.move_to_end(client)
            failures.append(now)
            while len(self._failures) > MAX_TRACKED_CLIENTS:
                forgotten, _ = self._failures.popitem(last=False)
                self._locked_until.pop(forgotten, None)
            if len(failures) == MAX_FAILURES and now - failures[0] <= FAILURE_WINDOW_S:
                self._locked_until[client] = now + LOCKOUT_S
                failures.clear()
                return Verdict(False, True, LOCKOUT_S)
            return Verdict(False)
