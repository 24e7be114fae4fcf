"""Filters and paging read from the URL, so every view can be bookmarked and shared."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Generic, TypeVar
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

WINDOWS = (7, 14, 30, 90)
DEFAULT_WINDOW = 30
PER_PAGE_CHOICES = (25, 50, 100)
DEFAULT_PER_PAGE = 50
MAX_TEXT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Filters:
    """What a list or chart is narrowed to. Unknown or malformed values fall back
    to defaults rather than failing: a hand-edited URL still shows a page."""

    window: int = DEFAULT_WINDOW
    branch: str | None = None
    job: str | None = None
    status: str | None = None
    q: str | None = None
    sort: str | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @classmethod
    def from_args(cls, args: MultiDict | dict) -> Filters:
        return cls(
            window=_choice(args.get("window"), WINDOWS, DEFAULT_WINDOW),
            branch=clean_text(args.get("branch")),
            job=clean_text(args.get("job")),
            status=clean_text(args.get("status")),
            q=clean_text(args.get("q")),
            sort=clean_text(args.get("sort")),
            page=max(_int(args.get("page"), 1), 1),
            per_page=_choice(args.get("per_page"), PER_PAGE_CHOICES, DEFAULT_PER_PAGE),
        )

    def with_(self, **changes) -> Filters:
        """A copy with some fields changed; changing a filter goes back to page 1."""
        if "page" not in changes:
            changes["page"] = 1
        return replace(self, **changes)

    def query_string(self, **changes) -> str:
        """The URL query for these filters (defaults left out), with ``changes`` applied."""
        values = asdict(self.with_(**changes) if changes else self)
        defaults = asdict(Filters())
        kept = {k: v for k, v in values.items() if v not in (None, "") and v != defaults[k]}
        return urlencode(kept)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _choice(value, choices: tuple[int, ...], default: int) -> int:
    number = _int(value, default)
    return number if number in choices else default


def clean_text(value) -> str | None:
    """A text filter as every screen and endpoint reads it: trimmed, bounded,
    blank meaning "not given"."""
    if value is None:
        return None
    # Control characters (NUL above all) never match a branch or job, and
    # PostgreSQL refuses NUL in text parameters outright.
    value = _CONTROL.sub("", str(value)).strip()[:MAX_TEXT]
    return value or None


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a longer list."""

    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(items: list[T], filters: Filters) -> Page[T]:
    """Slice an already computed list (analytics results are computed whole)."""
    start = filters.offset
    return Page(items[start : start + filters.per_page], filters.page, filters.per_page, len(items))
