"""factory_boy factories bound to the test's session (persistence: flush, never commit).

Each makes only the rows a test needs; traits give the everyday shapes:
``ResultFactory(failing=True)``, ``flaky``, ``slow``, ``skipped``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from dashboard.extensions import db
from dashboard.models import (
    ApiToken,
    Case,
    CoverageFile,
    CoverageReport,
    Project,
    Quarantine,
    Result,
    Run,
    User,
)

# A week ago at 09:00 UTC: recent enough that factory-made runs fall inside the
# default 30-day window whenever the suite runs, fixed for the whole session.
BASE_TIME = (datetime.now(UTC) - timedelta(days=7)).replace(
    hour=9, minute=0, second=0, microsecond=0
)


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class ProjectFactory(BaseFactory):
    class Meta:
        model = Project

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    default_branch = "main"


class ApiTokenFactory(BaseFactory):
    """``ApiTokenFactory(secret="ss_...")`` stores the hash of that secret."""

    class Meta:
        model = ApiToken
        exclude = ("secret",)

    project = factory.SubFactory(ProjectFactory)
    secret = factory.Sequence(lambda n: f"ss_test-token-{n:04d}")
    name = "ci"
    token_hash = factory.LazyAttribute(lambda o: ApiToken.hash_token(o.secret))
    prefix = factory.LazyAttribute(lambda o: o.secret[:9])


class UserFactory(BaseFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    password_hash = "not-a-real-hash"
    is_admin = False


class RunFactory(BaseFactory):
    class Meta:
        model = Run

    project = factory.SubFactory(ProjectFactory)
    build = factory.Sequence(lambda n: f"build-{n}")
    job = "default"
    branch = "main"
    commit_sha = factory.Sequence(lambda n: f"{n:040x}")
    # Seconds apart: in order, and still inside the week however many runs a session makes.
    started_at = factory.Sequence(lambda n: BASE_TIME + timedelta(seconds=n))


class CaseFactory(BaseFactory):
    class Meta:
        model = Case

    project = factory.SubFactory(ProjectFactory)
    file = "tests/test_example.py"
    classname = "tests.test_example"
    name = factory.Sequence(lambda n: f"test_case_{n}")
    suite = ""
    identity = factory.LazyAttribute(
        lambda o: Case.identity_of(o.file, o.classname, o.name, o.suite)
    )


class ResultFactory(BaseFactory):
    class Meta:
        model = Result

    run = factory.SubFactory(RunFactory)
    case = factory.SubFactory(CaseFactory, project=factory.SelfAttribute("..run.project"))
    outcome = "passed"
    duration_s = 0.05
    attempts = 1
    retry_flake = False

    class Params:
        failing = factory.Trait(
            outcome="failed",
            failure_type="AssertionError",
            message="assert 1 == 2",
            trace="def test():\n>   assert 1 == 2\nE   assert 1 == 2",
            fingerprint="AssertionError: assert <n> == <n>",
        )
        flaky = factory.Trait(outcome="passed", attempts=2, retry_flake=True)
        slow = factory.Trait(duration_s=12.5)
        skipped = factory.Trait(outcome="skipped", duration_s=0.0, message="not on this platform")


class CoverageReportFactory(BaseFactory):
    class Meta:
        model = CoverageReport

    run = factory.SubFactory(RunFactory)
    format = "cobertura"
    lines_valid = 100
    lines_covered = 80
    branches_valid = 20
    branches_covered = 10


class CoverageFileFactory(BaseFactory):
    class Meta:
        model = CoverageFile

    report = factory.SubFactory(CoverageReportFactory)
    path = factory.Sequence(lambda n: f"src/module_{n}.py")
    lines_valid = 10
    lines_covered = 8
    branches_valid = 4
    branches_covered = 2


class QuarantineFactory(BaseFactory):
    class Meta:
        model = Quarantine

    case = factory.SubFactory(CaseFactory)
    project = factory.SelfAttribute("case.project")
    reason = "flaky on CI"
    created_by = "admin"


HISTORY_TRAITS = {
    "P": {},
    "F": {"failing": True},
    "E": {"failing": True, "outcome": "error"},
    "S": {"skipped": True},
    "R": {"flaky": True},
}


def result_history(
    case: Case,
    outcomes: str,
    *,
    start: datetime = BASE_TIME,
    step: timedelta = timedelta(hours=1),
    **run_fields,
) -> list[Result]:
    """One run and one result of ``case`` per letter of ``outcomes``, ``step`` apart.

    P passed, F failed, E error, S skipped, R passed after a failed attempt (a
    retry flake). ``run_fields`` go to every run (branch, job, commit_sha, ...).
    """
    results = []
    for index, letter in enumerate(outcomes):
        run = RunFactory(project=case.project, started_at=start + index * step, **run_fields)
        results.append(ResultFactory(run=run, case=case, **HISTORY_TRAITS[letter]))
    return results


# Lines valid, lines covered, branches valid, branches covered (None: no branch data).
FileCounts = tuple[int, int, int | None, int | None]


def coverage_run(project: Project, files: dict[str, FileCounts], **run_fields) -> Run:
    """A run with a coverage report whose totals add up its files, as ingest stores
    them (branch totals NULL when no file has branch data). ``run_fields`` go to the run."""
    run = RunFactory(project=project, **run_fields)
    with_branches = [c for c in files.values() if c[2] is not None]
    report = CoverageReportFactory(
        run=run,
        lines_valid=sum(c[0] for c in files.values()),
        lines_covered=sum(c[1] for c in files.values()),
        branches_valid=sum(c[2] for c in with_branches) if with_branches else None,
        branches_covered=sum(c[3] or 0 for c in with_branches) if with_branches else None,
    )
    for path, (lines_valid, lines_covered, branches_valid, branches_covered) in files.items():
        CoverageFileFactory(
            report=report,
            path=path,
            lines_valid=lines_valid,
            lines_covered=lines_covered,
            branches_valid=branches_valid,
            branches_covered=branches_covered,
        )
    return run


def user_with_password(password: str, **fields) -> User:
    """A user who signs in with ``password``.

    Hashed with few PBKDF2 rounds rather than the production scrypt (~0.1 s per
    hash), so tests that sign in stay fast; the check accepts either method.
    """
    from werkzeug.security import generate_password_hash

    return UserFactory(
        password_hash=generate_password_hash(password, method="pbkdf2:sha256:1000"), **fields
    )


def recount(*runs: Run) -> None:
    """Set runs' summary counts from their results, as ingest does (factories
    leave them at 0, and the runs list and infrastructure rule read them)."""
    from ingest.store import refresh_run_totals

    db.session.flush()
    for run in runs:
        refresh_run_totals(db.session, run)
    db.session.flush()


def run_with_results(
    project: Project,
    started_at: datetime,
    outcomes: dict[Case, str | dict],
    *,
    wall_seconds: float | None = None,
    **run_fields,
) -> Run:
    """One run in which each case has the outcome of its ``HISTORY_TRAITS`` letter
    (a dict value may also be a dict of result fields), counted as ingest counts it.

    The wall time defaults to the summed case time plus 10%: a serial run without
    notable setup. ``run_fields`` go to the run (branch, job, commit_sha, ...).
    """
    run = RunFactory(project=project, started_at=started_at, **run_fields)
    for case, outcome in outcomes.items():
        fields = dict(HISTORY_TRAITS[outcome]) if isinstance(outcome, str) else dict(outcome)
        ResultFactory(run=run, case=case, **fields)
    recount(run)
    run.wall_seconds = run.case_seconds * 1.1 if wall_seconds is None else wall_seconds
    db.session.flush()
    return run
