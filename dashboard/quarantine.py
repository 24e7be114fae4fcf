"""Quarantine: a person's decision to stop a case from failing CI, with a reason.

The pages, the API and the weekly review share these operations. A quarantine
is *active* while it has not been lifted and has not expired; CI reads the
active ones (``GET /api/v1/projects/<slug>/quarantine``). Expired ones stay in
the table, unlifted, so the weekly review can list them and a person decides.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from dashboard.extensions import db
from dashboard.models import Case, Project, Quarantine, utcnow

MAX_REASON_CHARS = 2000
MAX_CREATED_BY_CHARS = 200
MAX_ID = 2**31 - 1  # the id columns are 32-bit integers


class QuarantineError(ValueError):
    """A quarantine change that cannot be made, with a message for people."""


class UnknownCase(QuarantineError):
    """The project has no such case."""


class AlreadyQuarantined(QuarantineError):
    """The case already has an active quarantine."""


class NotQuarantined(QuarantineError):
    """The case has no quarantine to lift."""


# --- queries ---------------------------------------------------------------------------


def active_condition(now: datetime) -> ColumnElement[bool]:
    """SQL: the quarantine is in force at ``now`` (not lifted, not expired)."""
    return Quarantine.lifted_at.is_(None) & (
        Quarantine.expires_at.is_(None) | (Quarantine.expires_at > now)
    )


def active_quarantines(project: Project, now: datetime | None = None) -> list[Quarantine]:
    """The quarantines CI should honour now, oldest first, with their cases loaded."""
    return _quarantines(project, active_condition(now or utcnow()))


def expired_quarantines(project: Project, now: datetime | None = None) -> list[Quarantine]:
    """Quarantines whose expiry has passed but that nobody lifted (for the weekly review)."""
    now = now or utcnow()
    expired = Quarantine.lifted_at.is_(None) & (Quarantine.expires_at <= now)
    return _quarantines(project, expired)


def _quarantines(project: Project, condition: ColumnElement[bool]) -> list[Quarantine]:
    query = (
        select(Quarantine)
        .options(joinedload(Quarantine.case))
        .where(Quarantine.project_id == project.id, condition)
        .order_by(Quarantine.created_at, Quarantine.id)
    )
    return list(db.session.scalars(query))


def find_case(
    project: Project,
    *,
    case_id: int | None = None,
    file: str | None = None,
    classname: str | None = None,
    name: str | None = None,
    suite: str | None = None,
) -> Case:
    """A case of ``project`` by id, or by its identity (file, classname, name; the
    suite matters only for cases without a classname)."""
    if case_id is not None:
        # An id no column can hold is unknown, not a database error.
        case = db.session.get(Case, case_id) if 0 < case_id <= MAX_ID else None
        if case is None or case.project_id != project.id:
            raise UnknownCase(f"project {project.slug!r} has no case {case_id}")
        return case
    if not name:
        raise QuarantineError("identify the case by `case_id`, or by `file`, `classname`, `name`")
    identity = Case.identity_of(file or "", classname or "", name, suite or "")
    case = db.session.scalar(
        select(Case).where(Case.project_id == project.id, Case.identity == identity)
    )
    if case is None:
        shown = "::".join(part for part in (file, classname, name) if part)
        raise UnknownCase(f"project {project.slug!r} has no case {shown!r}")
    return case


# --- changes ---------------------------------------------------------------------------


def quarantine_case(
    project: Project,
    case: Case,
    reason: str,
    created_by: str,
    expires_at: datetime | None = None,
    *,
    now: datetime | None = None,
) -> Quarantine:
    """Quarantine ``case``; refused without a reason, with a past expiry, or when
    the case is already quarantined (lift it first to change the terms)."""
    now = now or utcnow()
    reason = _clean_reason(reason)
    if case.project_id != project.id:
        raise UnknownCase(f"project {project.slug!r} has no case {case.id}")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise QuarantineError("the expiry needs a time zone (use UTC)")
        if expires_at <= now:
            raise QuarantineError("the expiry must be in the future")
    if _open_quarantines(project, case, active_condition(now)):
        raise AlreadyQuarantined(f"{case.display_name} is already quarantined")
    quarantine = Quarantine(
        project_id=project.id,
        case_id=case.id,
        reason=reason,
        created_by=(created_by or "")[:MAX_CREATED_BY_CHARS],
        created_at=now,
        expires_at=expires_at,
    )
    db.session.add(quarantine)
    db.session.commit()
    return quarantine


def lift_quarantine(project: Project, case: Case, *, now: datetime | None = None) -> Quarantine:
    """Lift the case's quarantine. Expired but unlifted ones are closed too, so
    lifting is also how the weekly review acknowledges an expiry."""
    now = now or utcnow()
    open_ones = _open_quarantines(project, case, Quarantine.lifted_at.is_(None))
    if not open_ones:
        raise NotQuarantined(f"{case.display_name} is not quarantined")
    for quarantine in open_ones:
        quarantine.lifted_at = now
    db.session.commit()
    return open_ones[-1]


def _open_quarantines(
    project: Project, case: Case, condition: ColumnElement[bool]
) -> list[Quarantine]:
    query = (
        select(Quarantine)
        .where(Quarantine.project_id == project.id, Quarantine.case_id == case.id, condition)
        .order_by(Quarantine.created_at, Quarantine.id)
    )
    return list(db.session.scalars(query))


def _clean_reason(reason: str | None) -> str:
    # PostgreSQL text cannot hold NUL; no person means one in a reason.
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise QuarantineError("a reason is required: say why this test is quarantined")
    if len(reason) > MAX_REASON_CHARS:
        raise QuarantineError(f"the reason is too long (at most {MAX_REASON_CHARS} characters)")
    return reason


# --- parsing and formats ---------------------------------------------------------------


def parse_expiry(value: str | None) -> datetime | None:
    """An expiry from a form or JSON: empty means none; a date means the end of
    that day (UTC); a date-time without a zone is taken as UTC."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        if len(value) == len("2026-11-30"):
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
        raise QuarantineError(
            f"cannot read the expiry {value[:40]!r}: use YYYY-MM-DD or an ISO 8601 date-time"
        ) from None


_LINE_BREAKS = re.compile(r"[\r\n]+")


def pytest_node_id(file: str, classname: str, name: str) -> str:
    """The pytest node id of a case, for ``pytest --deselect``.

    JUnit reports from pytest carry ``classname`` as the dotted module path plus
    any class names (``tests.test_api.TestX``) and, in the xunit1 family, the
    ``file`` (``tests/test_api.py``). The node id is the file, then each class,
    then the test name: ``tests/test_api.py::TestX::test_name``.

    * With a ``.py`` file, the module's dotted path (or its longest dotted
      suffix, for reports written from another rootdir) is cut from the front
      of ``classname``; what remains are the classes.
    * Without a file (xunit2 omits it), the module ends before the first part
      that starts with an upper-case letter (pytest collects classes named
      ``Test*``), and the file is that module path with ``.py``.
    * Parametrised names (``test_x[1-2]``) are kept verbatim, as pytest wants.
    """
    parts = [p for p in classname.split(".") if p] if classname else []
    if file.endswith(".py"):
        classes = _classes_after_module(parts, file[: -len(".py")].replace("\\", "/").split("/"))
    elif not file:
        split = next((i for i, p in enumerate(parts) if p[:1].isupper()), len(parts))
        classes = parts[split:]
        file = "/".join(parts[:split]) + ".py" if split else ""
    else:
        classes = parts  # not a Python suite; the best we can do
    node = "::".join([file, *classes, name] if file else [*classes, name])
    return _LINE_BREAKS.sub(" ", node)


def _classes_after_module(parts: list[str], module: list[str]) -> list[str]:
    for start in range(len(module)):
        suffix = module[start:]
        if parts[: len(suffix)] == suffix:
            return parts[len(suffix) :]
    return [p for p in parts if p[:1].isupper()]


def display_line(case: Case) -> str:
    """A case's display name on one line (the ``text`` format)."""
    return _LINE_BREAKS.sub(" ", case.display_name)
