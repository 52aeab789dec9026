"""Who may save a correction now. The event is private, but anyone can post it: at most 30 corrections a
minute from one session and 300 an hour from one client address, and never a drawing that was just saved.

Counts live in memory only, and for no longer than their window. Addresses are kept as keyed hashes (the
key is random and never leaves the process), so not even memory holds a visitor's address in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from mnist_cnn.web.env import env_number


@dataclass(frozen=True)
class CorrectionLimits:
    per_session_minute: int = 30  # FEEDBACK_SESSION_PER_MINUTE
    per_address_hour: int = 300  # FEEDBACK_ADDRESS_PER_HOUR
    # FEEDBACK_PROXY_HOPS: proxies in front of the app that each append the address they saw to
    # X-Forwarded-For (a Space has one); the entry that many from the right is the visitor's. 0 trusts
    # no header: the address is the connection's.
    proxy_hops: int = 0
    recent_drawings: int = 10_000  # drawings remembered, to refuse the same one saved again

    @classmethod
    def from_env(cls) -> CorrectionLimits:
        on_a_space = bool(os.environ.get("SPACE_ID"))
        return cls(
            per_session_minute=env_number("FEEDBACK_SESSION_PER_MINUTE", cls.per_session_minute),
            per_address_hour=env_number("FEEDBACK_ADDRESS_PER_HOUR", cls.per_address_hour),
            proxy_hops=env_number("FEEDBACK_PROXY_HOPS", 1 if on_a_space else 0),
        )


def client_address(request: Any, proxy_hops: int) -> str:
    """The visitor's address from a ``gr.Request``: the connection's, or, behind ``proxy_hops`` trusted
    proxies, the entry they appended to X-Forwarded-For (entries further left are the client's own say)."""
    host = getattr(getattr(request, "client", None), "host", None) or "unknown"
    if proxy_hops <= 0:
        return host
    headers = getattr(request, "headers", None) or {}
    forwarded = [part.strip() for part in (headers.get("x-forwarded-for") or "").split(",") if part.strip()]
    return forwarded[-proxy_hops] if len(forwarded) >= proxy_hops else host


class CorrectionGuard:
    """Sliding-window rate limits per session and per address, and the drawings saved lately."""

    def __init__(self, limits: CorrectionLimits):
        self.limits = limits
        self.lock = threading.Lock()
        self.key = secrets.token_bytes(32)
        self.sessions: dict[str, deque[float]] = {}
        self.addresses: dict[bytes, deque[float]] = {}
        self.recent: OrderedDict[bytes, None] = OrderedDict()
        self.swept = -math.inf  # when the tables were last swept, on the clock ``admit`` is given

    def admit(self, session: str, address: str, drawing: bytes, now: float | None = None) -> str | None:
        """Count one correction of ``drawing`` (its pixels) and return None, or say why it is refused (and
        count nothing). Call ``release`` if it is then not saved after all."""
        now = time.monotonic() if now is None else now
        fingerprint = hashlib.sha256(drawing).digest()
        address_key = hmac.new(self.key, address.encode(), "sha256").digest()
        with self.lock:
            self._sweep(now)
            if fingerprint in self.recent:
                return "This drawing is already saved. Draw another one to tell it more."
            per_session = self.sessions.setdefault(session, deque())
            per_address = self.addresses.setdefault(address_key, deque())
            _forget_before(per_session, now - 60)
            _forget_before(per_address, now - 3600)
            if len(per_session) >= self.limits.per_session_minute:
                wait = math.ceil(per_session[0] + 60 - now)
                return (
                    f"That is a lot of corrections: at most {self.limits.per_session_minute} a minute. "
                    f"Try again in {wait} s."
                )
            if len(per_address) >= self.limits.per_address_hour:
                wait = math.ceil((per_address[0] + 3600 - now) / 60)
                return (
                    f"Too many corrections from your network: at most {self.limits.per_address_hour} an hour. "
                    f"Try again in {wait} min."
                )
            per_session.append(now)
            per_address.append(now)
            self.recent[fingerprint] = None
            if len(self.recent) > self.limits.recent_drawings:
                self.recent.popitem(last=False)
        return None

    def release(self, drawing: bytes) -> None:
        """A drawing admitted but not saved (the disk failed) may be sent again."""
        with self.lock:
            self.recent.pop(hashlib.sha256(drawing).digest(), None)

    def _sweep(self, now: float) -> None:
        """Drop sessions and addresses with nothing in their window (once a minute): a caller that opens a
        new session per request must not grow the server."""
        if now - self.swept < 60:
            return
        self.swept = now
        for table, window in ((self.sessions, 60), (self.addresses, 3600)):
            for key in [key for key, times in table.items() if not times or times[-1] < now - window]:
                del table[key]


def _forget_before(times: deque[float], start: float) -> None:
    while times and times[0] < start:
        times.popleft()
