"""Projects and their API tokens: the operations the CLI and the settings page share."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from dashboard.extensions import db
from dashboard.models import ApiToken, Project, Run, utcnow

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
TOKEN_PREFIX = "ss_"


class ProjectError(ValueError):
    """A project operation that cannot be done, with a message for people."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly created token: ``secret`` exists only here, never in the database."""

    token: ApiToken
    secret: str


def get_project(slug: str) -> Project:
    if not SLUG_PATTERN.match(slug):
        # Never let a malformed slug (NUL bytes, say) reach the database driver.
        raise ProjectError(f"no project with slug {slug!r}")
    project = db.session.scalar(select(Project).where(Project.slug == slug))
    if project is None:
        raise ProjectError(f"no project with slug {slug!r}")
    return project


def list_projects() -> list[Project]:
    return list(db.session.scalars(select(Project).order_by(Project.slug)))


def create_project(slug: str, name: str | None = None, default_branch: str = "main") -> Project:
    if not SLUG_PATTERN.match(slug):
        raise ProjectError(
            f"invalid slug {slug!r}: use lower-case letters, digits and dashes (at most 64)"
        )
    if db.session.scalar(select(Project.id).where(Project.slug == slug)) is not None:
        raise ProjectError(f"a project with slug {slug!r} already exists")
    project = Project(slug=slug, name=name or slug, default_branch=default_branch)
    db.session.add(project)
    db.session.commit()
    return project


def create_token(project: Project, name: str = "") -> IssuedToken:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        project=project,
        name=name,
        token_hash=ApiToken.hash_token(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
    )
    db.session.add(token)
    db.session.commit()
    return IssuedToken(token=token, secret=secret)


def list_tokens(project: Project) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.project_id == project.id).order_by(ApiToken.id)
    return list(db.session.scalars(query))


def revoke_token(project: Project, token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.project_id != project.id:
        raise ProjectError(f"project {project.slug!r} has no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


def find_token(secret: str) -> ApiToken | None:
    """The token whose hash matches ``secret``, compared in constant time."""
    wanted = ApiToken.hash_token(secret)
    # With its project in the same query: callers need its slug next.
    query = select(ApiToken).where(ApiToken.token_hash == wanted)
    token = db.session.scalar(query.options(joinedload(ApiToken.project)))
    if token is None or not hmac.compare_digest(token.token_hash, wanted):
        return None
    return token


# The projects list's health figures cover the default branch's last week.
HEALTH_DAYS = 7


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    project: Project
    runs: int
    last_run_at: datetime | None
    latest_default_run: Run | None = None  # the default branch's newest run with tests
    week_runs: int = 0  # the default branch's runs with tests in the last HEALTH_DAYS
    week_green_runs: int = 0  # those without a failure

    @property
    def week_pass_rate(self) -> float | None:
        return self.week_green_runs / self.week_runs if self.week_runs else None


def list_project_summaries(
    now: datetime | None = None, only: Sequence[int] | None = None
) -> list[ProjectSummary]:
    """Every project (or those with ids in ``only``) with its number of runs, latest
    run, and its default branch's health: the newest run and the share of the last
    week's runs that passed. Three queries whatever the number of projects."""
    query = (
        select(Project, func.count(Run.id), func.max(Run.started_at))
        .outerjoin(Run, Run.project_id == Project.id)
        .group_by(Project.id)
        .order_by(Project.slug)
    )
    if only is not None:
        query = query.where(Project.id.in_(only))
    latest = _latest_default_runs()
    weeks = _default_branch_weeks((now or utcnow()) - timedelta(days=HEALTH_DAYS))
    return [
        ProjectSummary(
            project,
            runs,
            _as_utc(last),
            latest.get(project.id),
            *weeks.get(project.id, (0, 0)),
        )
        for project, runs, last in db.session.execute(query)
    ]


def _on_default_branch():
    return (Run.branch == Project.default_branch) & (Run.tests > 0)


def _latest_default_runs() -> dict[int, Run]:
    newest = (
        select(
            Run.id,
            func.row_number()
            .over(partition_by=Run.project_id, order_by=(Run.started_at.desc(), Run.id.desc()))
            .label("rank"),
        )
        .join(Project, Project.id == Run.project_id)
        .where(_on_default_branch())
        .subquery()
    )
    runs = select(Run).join(newest, newest.c.id == Run.id).where(newest.c.rank == 1)
    return {run.project_id: run for run in db.session.scalars(runs)}


def _default_branch_weeks(since: datetime) -> dict[int, tuple[int, int]]:
    green = func.count().filter(Run.failed + Run.errors == 0)
    query = (
        select(Run.project_id, func.count(), green)
        .join(Project, Project.id == Run.project_id)
        .where(_on_default_branch(), Run.started_at >= since)
        .group_by(Run.project_id)
    )
    return {
        project_id: (runs, green_runs) for project_id, runs, green_runs in db.session.execute(query)
    }


def _as_utc(value: datetime | None) -> datetime | None:
    # Aggregates bypass the column type, so SQLite hands back naive values.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FilterOptions:
    """The branches and jobs a project's filters offer."""

    branches: list[str]
    jobs: list[str]


def filter_options(project: Project, days: int = 90) -> FilterOptions:
    """Branches and jobs seen in the last ``days`` (default branch first)."""
    since = datetime.now(UTC) - timedelta(days=days)
    rows = db.session.execute(
        select(Run.branch, Run.job)
        .where(Run.project_id == project.id, Run.started_at >= since)
        .distinct()
    ).all()
    branches = sorted({b for b, _ in rows if b}, key=lambda b: (b != project.default_branch, b))
    jobs = sorted({j for _, j in rows if j})
    return FilterOptions(branches=branches, jobs=jobs)
