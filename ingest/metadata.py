"""Upload metadata (commit, branch, build, job, build URL, start time), validated."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from ingest.errors import InvalidMetadata
from ingest.pipeline import UploadMeta

FIELDS = ("commit", "branch", "build", "job", "build_url", "started_at")
_LIMITS = {"commit": 64, "branch": 255, "build": 255, "job": 255, "build_url": 2000}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BRANCH_REF = re.compile(r"^refs/heads/")


def parse_metadata(fields: Mapping[str, str]) -> UploadMeta:
    """Validate the metadata fields of an upload; raise ``InvalidMetadata`` (422)."""
    values = {name: clean_text(name, fields.get(name)) for name in _LIMITS}
    if values["branch"]:
        values["branch"] = _BRANCH_REF.sub("", values["branch"])
    if values["commit"] and re.search(r"\s", values["commit"]):
        raise InvalidMetadata("commit must not contain spaces")
    if values["build_url"]:
        check_build_url(values["build_url"])
    return UploadMeta(
        commit=values["commit"],
        branch=values["branch"],
        build=values["build"],
        job=values["job"] or "default",
        build_url=values["build_url"],
        started_at=parse_started_at(fields.get("started_at")),
    )


def clean_text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if _CONTROL.search(value):
        raise InvalidMetadata(f"{name} contains control characters")
    if len(value) > _LIMITS[name]:
        raise InvalidMetadata(f"{name} is longer than {_LIMITS[name]} characters")
    return value


def check_build_url(url: str) -> None:
    # Only web links: a javascript: URL would become a live link in every page.
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidMetadata("build_url must be an http:// or https:// URL")


def parse_started_at(value: str | None) -> datetime | None:
    """ISO 8601; a time without a zone is taken as UTC."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidMetadata(
            f"started_at {value!r} is not an ISO 8601 time (e.g. 2026-11-26T09:30:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-05:00 is past the last datetime in UTC
        raise InvalidMetadata(f"started_at {value!r} is out of range") from None
