"""Every result of one run: narrowed by outcome and by a search, sorted, paged.

The run screen shows what stands out (failures, retries, the slowest tests);
this lists the rest too, so that one can answer "which tests were skipped in
this build?" or "did test_x run in this job?" without a report file at hand.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from dashboard.analytics.catalog import matching
from dashboard.analytics.runs import (
    CaseExecution,
    case_order,
    execution_json,
    execution_query,
    executions,
)
from dashboard.analytics.scope import FAILED_OUTCOMES
from dashboard.extensions import db
from dashboard.filters import Filters, Page
from dashboard.models import Case, Result, Run

# The list's outcome filter (URL parameter ``status``): "failing" is either
# failed outcome, "retried" a pass that needed a retry.
FAILING, RETRIED = "failing", "retried"
RESULT_STATUSES = (
    (FAILING, "failed or error"),
    ("failed", "failed"),
    ("error", "error"),
    (RETRIED, "passed after a retry"),
    ("skipped", "skipped"),
    ("passed", "passed"),
)
STATUS_VALUES = tuple(value for value, _ in RESULT_STATUSES)

# Sort keys (URL parameter ``sort``, ``-`` for descending). The default puts
# what needs looking at first: errors, failures, retried passes, skips, passes.
DEFAULT_SORT = "status"
SORT_KEYS = ("status", "name", "duration", "attempts")


def _retried_pass() -> ColumnElement[bool]:
    return and_(Result.outcome == "passed", Result.retry_flake.is_(True))


def status_condition(status: str | None) -> ColumnElement[bool] | None:
    """SQL for one value of the outcome filter; ``None`` (no filter) for any other."""
    if status == FAILING:
        return Result.outcome.in_(FAILED_OUTCOMES)
    if status == RETRIED:
        return _retried_pass()
    if status in STATUS_VALUES:
        return Result.outcome == status
    return None


def sort_or_default(sort: str | None) -> str:
    """``sort`` if it names a sort key (with or without ``-``), else the default."""
    return sort if (sort or "").removeprefix("-") in SORT_KEYS else DEFAULT_SORT


def _status_rank() -> ColumnElement[int]:
    return case(
        (Result.outcome == "error", 0),
        (Result.outcome == "failed", 1),
        (_retried_pass(), 2),
        (Result.outcome == "skipped", 3),
        else_=4,
    )


def _order(sort: str) -> tuple:
    key = sort.removeprefix("-")
    descending = sort.startswith("-")
    first = {
        "status": _status_rank(),
        "duration": Result.duration_s,
        "attempts": Result.attempts,
    }.get(key)
    if first is None:  # name: the tests' readable order, file by file
        return tuple(c.desc() for c in case_order()) if descending else case_order()
    return (first.desc() if descending else first, *case_order())


def run_results(run: Run, filters: Filters) -> Page[CaseExecution]:
    """One page of the run's results matching ``filters.status`` and ``filters.q``,
    in ``filters.sort`` order (see ``SORT_KEYS``)."""
    search = matching(filters.q)
    narrowing = [c for c in (status_condition(filters.status), search) if c is not None]
    total = db.session.scalar(_counted(run, narrowing, searched=search is not None)) or 0
    if filters.offset >= total:  # past the end: no query, and no huge OFFSET
        return Page([], filters.page, filters.per_page, total)
    query = (
        execution_query(run.id)
        .where(*narrowing)
        .order_by(*_order(sort_or_default(filters.sort)))
        .offset(filters.offset)
        .limit(filters.per_page)
    )
    items = executions(query)
    return Page(items, filters.page, filters.per_page, total)


def _counted(run: Run, narrowing: list[ColumnElement[bool]], *, searched: bool) -> Select:
    # Without a search the count needs no case row: the run's index answers it.
    query = select(func.count()).select_from(Result)
    if searched:
        query = query.join(Case, Case.id == Result.case_id)
    return query.where(Result.run_id == run.id, *narrowing)


def result_json(result: CaseExecution) -> dict:
    return {
        **execution_json(result),
        "retry_flake": result.retry_flake,
        "message": result.message,
    }
