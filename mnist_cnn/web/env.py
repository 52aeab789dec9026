"""Numbers from environment variables: the app's limits and schedules can be set without editing code."""

from __future__ import annotations

import logging
import os
from typing import TypeVar

log = logging.getLogger(__name__)

Number = TypeVar("Number", int, float)


def env_number(name: str, default: Number, kind: type[Number] = int) -> Number:
    """``$name`` read as ``kind`` (int or float); ``default`` when unset, or when it is not such a number (with
    a warning: a typo in a Space's variables must not stop the app)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return kind(value)
    except ValueError:
        log.warning("Ignoring %s=%r (not %s)", name, value, "a whole number" if kind is int else "a number")
        return default
