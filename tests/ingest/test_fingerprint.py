"""ingest.fingerprint: one root cause, one group."""

from __future__ import annotations

import pytest

from ingest.fingerprint import failure_fingerprint, normalise_message


@pytest.mark.parametrize(
    ("message", "normalised"),
    [
        ("expected 42 got 43", "expected <n> got <n>"),
        ("object at 0x7f3a2b1c", "object at <hex>"),
        ("id 123e4567-e89b-12d3-a456-426614174000 missing", "id <uuid> missing"),
        ("at 2026-11-26T10:00:01.123Z", "at <time>"),
        ("took 12:01:02", "took <time>"),
        ("no file /tmp/pytest-of-ci/pytest-3/test_x0/a.txt", "no file <tmp>"),
        ("commit 3f2a9c0d1e2b4a5c6d7e8f90", "commit <hex>"),
        ("  many\n\n  spaces  ", "many spaces"),
    ],
)
def test_volatile_parts_are_normalised(message, normalised):
    assert normalise_message(message) == normalised


def test_same_cause_same_fingerprint():
    first = failure_fingerprint("TimeoutError", "timed out after 30.5s on port 5432")
    second = failure_fingerprint("TimeoutError", "timed out after 31.0s on port 6543")
    assert first == second
    assert len(first) == 32


def test_type_and_message_both_matter():
    assert failure_fingerprint("ValueError", "x") != failure_fingerprint("TypeError", "x")
    assert failure_fingerprint("ValueError", "x") != failure_fingerprint("ValueError", "y")
    assert failure_fingerprint(None, None) == failure_fingerprint("", "")
