"""A project's settings: checking what people type, and reading the owners file.

The settings page saves through ``update_settings``; the weekly review reads
owners through ``parse_owners``. Each field has a parser that returns the value
to store or raises ``InvalidSetting`` with a message to show beside the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from zoneinfo import available_timezones

from dashboard.extensions import db
from dashboard.models import Project

MAX_OWNERS_CHARS = 20_000
MAX_OWNER_ERRORS_SHOWN = 5
# CODEOWNERS owners: @user, @org/team, or an email address.
OWNER_PATTERN = re.compile(r"^(@[A-Za-z0-9][\w.-]*(/[\w.-]+)?|[^@\s]+@[^@\s]+\.[^@\s]+)$")


class InvalidSetting(ValueError):
    """A value a field cannot take; the message is shown beside the field."""


@dataclass(frozen=True, slots=True)
class OwnerRule:
    """One line of the owners file: files matching ``pattern`` belong to ``owners``."""

    line: int
    pattern: str
    owners: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParsedOwners:
    rules: list[OwnerRule]
    errors: list[str]


def parse_owners(text: str | None) -> ParsedOwners:
    """CODEOWNERS-style lines ``pattern owner...``; blank lines and ``#`` comments skipped."""
    rules: list[OwnerRule] = []
    errors: list[str] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pattern, *owners = stripped.split()
        error = owner_line_error(pattern, owners)
        if error:
            errors.append(f"line {number}: {error}")
        else:
            rules.append(OwnerRule(number, pattern, tuple(owners)))
    return ParsedOwners(rules, errors)


def owner_line_error(pattern: str, owners: list[str]) -> str | None:
    if pattern.startswith("!") or "[" in pattern:
        return f"{pattern!r}: negation (!) and [ ] ranges are not supported"
    if not owners:
        return f"{pattern!r} needs at least one owner (@user, @org/team or an email)"
    bad = [owner for owner in owners if not OWNER_PATTERN.match(owner)]
    if bad:
        return f"{bad[0]!r} is not an owner; write @user, @org/team or an email"
    return None


# Field parsers


def parse_name(raw: str) -> str:
    return bounded_text(raw, 200, "Give the project a name.")


def parse_branch(raw: str) -> str:
    branch = bounded_text(raw, 255, "Name the default branch.")
    if any(ch.isspace() for ch in branch):
        raise InvalidSetting("A branch name has no spaces.")
    return branch


def bounded_text(raw: str, limit: int, missing: str) -> str:
    value = raw.strip()
    if not value:
        raise InvalidSetting(missing)
    if len(value) > limit:
        raise InvalidSetting(f"At most {limit} characters.")
    return value


def parse_timezone(raw: str) -> str:
    name = raw.strip()
    if name not in timezone_names():
        raise InvalidSetting(f"Unknown time zone {name!r}; use a name such as Europe/Paris or UTC.")
    return name


def parse_number(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise InvalidSetting("Enter a number.") from None
    if not math.isfinite(value):
        raise InvalidSetting("Enter a number.")
    return value


def parse_rate(raw: str) -> float:
    value = parse_number(raw)
    if not 0 <= value <= 1:
        raise InvalidSetting("Enter a number from 0 to 1, such as 0.1.")
    return value


def parse_min_executions(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidSetting("Enter a whole number of at least 2.") from None
    if value < 2:
        # A flip needs two executions in a row.
        raise InvalidSetting("Enter a whole number of at least 2.")
    return value


def parse_regression_pct(raw: str) -> float:
    value = parse_number(raw)
    if value <= 0:
        raise InvalidSetting("Enter a percentage above 0.")
    return value


def parse_regression_min_ms(raw: str) -> float:
    value = parse_number(raw)
    if value < 0:
        raise InvalidSetting("Enter a number of milliseconds, 0 or more.")
    return value


def parse_owners_setting(raw: str) -> str | None:
    """The owners text to store (trailing spaces trimmed), or None when empty."""
    if len(raw) > MAX_OWNERS_CHARS:
        raise InvalidSetting(f"At most {MAX_OWNERS_CHARS} characters.")
    errors = parse_owners(raw).errors
    if errors:
        more = len(errors) - MAX_OWNER_ERRORS_SHOWN
        shown = errors[:MAX_OWNER_ERRORS_SHOWN] + ([f"and {more} more"] if more > 0 else [])
        raise InvalidSetting("; ".join(shown))
    text = "\n".join(line.rstrip() for line in raw.splitlines()).strip()
    return text or None


def parse_token_name(raw: str) -> str:
    """A token's label may be empty; the column holds 200 characters."""
    name = raw.strip()
    if len(name) > 200:
        raise InvalidSetting("At most 200 characters.")
    return name


FIELDS: dict[str, Callable[[str], object]] = {
    "name": parse_name,
    "default_branch": parse_branch,
    "timezone": parse_timezone,
    "flip_rate_threshold": parse_rate,
    "min_executions": parse_min_executions,
    "regression_pct": parse_regression_pct,
    "regression_min_ms": parse_regression_min_ms,
    "branch_coverage_threshold": parse_rate,
    "owners": parse_owners_setting,
}


def validate_settings(changes: Mapping[str, str]) -> tuple[dict[str, object], dict[str, str]]:
    """The values to store and the error of each refused field.

    Fields missing from ``changes`` stay as they are; unknown keys are ignored.
    """
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for field, parse in FIELDS.items():
        if field not in changes:
            continue
        try:
            values[field] = parse(changes[field])
        except InvalidSetting as error:
            errors[field] = str(error)
    return values, errors


def update_settings(project: Project, changes: Mapping[str, str]) -> dict[str, str]:
    """Save ``changes`` if every field is valid; else save nothing and return the errors."""
    values, errors = validate_settings(changes)
    if errors:
        return errors
    for field, value in values.items():
        setattr(project, field, value)
    db.session.commit()
    return {}


def settings_values(project: Project) -> dict[str, str]:
    """The project's settings as a form shows them."""
    return {
        "name": project.name,
        "default_branch": project.default_branch,
        "timezone": project.timezone,
        "flip_rate_threshold": number_text(project.flip_rate_threshold),
        "min_executions": str(project.min_executions),
        "regression_pct": number_text(project.regression_pct),
        "regression_min_ms": number_text(project.regression_min_ms),
        "branch_coverage_threshold": number_text(project.branch_coverage_threshold),
        "owners": project.owners or "",
    }


def number_text(value: float) -> str:
    """``0.1``, ``25``, ``1500``: no trailing ``.0``, no float noise."""
    return format(value, ".15g")


# Names the system database lists that are not places: the server's own zone
# (which would change with the server) and a placeholder.
NOT_TIME_ZONES = frozenset({"localtime", "Factory"})


@cache
def timezone_names() -> frozenset[str]:
    """Every IANA time zone name (read from the system's database once).

    UTC, every project's default, is always there, so a host without a time
    zone database can still save its settings.
    """
    return (frozenset(available_timezones()) - NOT_TIME_ZONES) | {"UTC"}
