"""Failure fingerprints: one root cause, one group.

The failure type plus the message with the parts that vary from run to run
(numbers, hex addresses, temporary paths, UUIDs, timestamps) replaced by
placeholders, hashed to a fixed-size key.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

# Order matters: the specific shapes go before the plain numbers inside them.
_VOLATILE = [
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"),
        "<time>",
    ),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(\.\d+)?\b"), "<time>"),
    (
        re.compile(
            r"(/tmp|/var/folders|/private/var|[A-Za-z]:\\\\Users\\\\[^\\\\]+\\\\AppData\\\\Local\\\\Temp)[^\s'\"]*"
        ),
        "<tmp>",
    ),
    (re.compile(r"\bpytest-of-[^\s/]+/pytest-\d+/[^\s'\"]*"), "<tmp>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
]
_WHITESPACE = re.compile(r"\s+")
_MAX_NORMALISED_CHARS = 500


def normalise_message(message: str) -> str:
    text = message
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    return _WHITESPACE.sub(" ", text).strip()[:_MAX_NORMALISED_CHARS]


@lru_cache(maxsize=4096)
def failure_fingerprint(failure_type: str | None, message: str | None) -> str:
    """A 32-hex-digit key grouping failures with the same cause.

    Cached: one root cause usually fails many tests with the very same message.
    """
    normalised = f"{failure_type or ''}: {normalise_message(message or '')}"
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:32]
