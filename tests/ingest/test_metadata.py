"""ingest.metadata: upload fields validated, with a clear reason when they are not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest.errors import InvalidMetadata
from ingest.metadata import parse_metadata, parse_started_at


def test_all_fields():
    meta = parse_metadata(
        {
            "commit": " abc123 ",
            "branch": "refs/heads/feature/x",
            "build": "1234",
            "job": "py3.12",
            "build_url": "https://ci.example.org/1234",
            "started_at": "2026-11-26T09:30:00Z",
        }
    )
    assert meta.commit == "abc123"
    assert meta.branch == "feature/x"
    assert (meta.build, meta.job) == ("1234", "py3.12")
    assert meta.started_at == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def test_defaults():
    meta = parse_metadata({"job": "  "})
    assert meta.job == "default"
    assert meta.commit is meta.branch is meta.build is meta.started_at is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"commit": "abc def"}, "commit must not contain spaces"),
        ({"branch": "main\x00"}, "branch contains control characters"),
        ({"job": "j" * 256}, "job is longer than 255 characters"),
        ({"build_url": "javascript:alert(1)"}, "build_url must be an http"),
        ({"build_url": "https://"}, "build_url must be an http"),
        ({"started_at": "yesterday"}, "not an ISO 8601 time"),
    ],
)
def test_bad_fields_are_refused(fields, message):
    with pytest.raises(InvalidMetadata, match=message) as raised:
        parse_metadata(fields)
    assert raised.value.status == 422


def test_started_at_zones():
    assert parse_started_at("2026-11-26T10:30:00+01:00") == datetime(
        2026, 11, 26, 9, 30, tzinfo=UTC
    )
    assert parse_started_at("2026-11-26 09:30") == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    parsed = parse_started_at("2026-11-26T09:30:00-05:00")
    assert parsed.tzinfo == UTC
    assert parsed == datetime(2026, 11, 26, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_started_at("") is None
