"""Write parsed reports to the database, in bulk, inside the caller's transaction.

Test cases go through a temporary staging table: rows are bulk-loaded into it
(``COPY`` on PostgreSQL, ``executemany`` on SQLite), then two set-based
statements upsert the case identities and the results. The same SQL runs on
both engines, and 100,000 cases never become 100,000 ORM objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from operator import attrgetter

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dashboard.models import Case, CoverageFile, CoverageReport, Result, Run, Upload, UtcDateTime
from ingest.fingerprint import failure_fingerprint
from ingest.records import ParsedCase, ParsedCoverage, ParsedTestReport

FAILED_OUTCOMES = ("failed", "error")

_staging_metadata = MetaData()
STAGING = Table(
    "ingest_staging",
    _staging_metadata,
    # No key or index: the table is written once and read by one join, and an
    # index would cost more to build than it saves.
    Column("identity", String(64)),
    Column("file", String(1000)),
    Column("classname", String(1000)),
    Column("name", String(1000)),
    Column("suite", String(1000)),
    Column("outcome", String(8)),
    Column("duration_s", Float),
    Column("attempts", Integer),
    Column("retry_flake", Boolean),
    Column("failure_type", String(200)),
    Column("message", Text),
    Column("trace", Text),
    Column("fingerprint", String(64)),
    prefixes=["TEMPORARY"],
)
STAGING_COLUMNS = [c.name for c in STAGING.columns]


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def upsert(session: Session, table):
    """``INSERT`` with ``ON CONFLICT`` support for the session's engine."""
    module = postgresql if dialect_name(session) == "postgresql" else sqlite
    return module.insert(table)


# --- runs -------------------------------------------------------------------


def get_or_create_run(
    session: Session,
    project_id: int,
    *,
    build: str,
    job: str,
    started_at: datetime,
    commit: str | None,
    branch: str | None,
    build_url: str | None,
) -> Run:
    """The run for (project, build, job), created if new, locked for this transaction.

    Concurrent shards of one build race to insert the same row; ``ON CONFLICT
    DO NOTHING`` lets exactly one win, and the row lock then serialises their
    writes so that counts recomputed at the end see every shard.
    """
    insert_run = (
        upsert(session, Run.__table__)
        .values(
            project_id=project_id,
            build=build,
            job=job,
            started_at=started_at,
            commit_sha=commit,
            branch=branch,
            build_url=build_url,
        )
        .on_conflict_do_nothing(index_elements=["project_id", "build", "job"])
    )
    session.execute(insert_run)
    run = session.scalars(
        select(Run)
        .where(Run.project_id == project_id, Run.build == build, Run.job == job)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    run.commit_sha = run.commit_sha or commit
    run.branch = run.branch or branch
    run.build_url = run.build_url or build_url
    run.started_at = min(run.started_at, started_at)
    return run


def record_upload(session: Session, run: Run, **fields) -> bool:
    """Insert the upload's row; ``False`` when this run already has these exact bytes."""
    statement = (
        upsert(session, Upload.__table__)
        .values(run_id=run.id, **fields)
        .on_conflict_do_nothing(index_elements=["run_id", "sha256"])
        .returning(Upload.__table__.c.id)
    )
    return session.execute(statement).scalar() is not None


def refresh_run_totals(session: Session, run: Run) -> None:
    """Recount the run from its stored results (shards merged, nothing counted twice)."""
    rows = session.execute(
        select(
            Result.outcome,
            func.count(),
            func.sum(case((Result.retry_flake, 1), else_=0)),
            func.coalesce(func.sum(Result.duration_s), 0.0),
        )
        .where(Result.run_id == run.id)
        .group_by(Result.outcome)
    ).all()
    by_outcome = {outcome: count for outcome, count, _, _ in rows}
    run.passed = by_outcome.get("passed", 0)
    run.failed = by_outcome.get("failed", 0)
    run.errors = by_outcome.get("error", 0)
    run.skipped = by_outcome.get("skipped", 0)
    run.tests = sum(by_outcome.values())
    run.retry_flakes = sum(int(flakes or 0) for _, _, flakes, _ in rows)
    run.case_seconds = float(sum(seconds for _, _, _, seconds in rows))


# --- test results -------------------------------------------------------------


# The staging columns after the identity, read from a ParsedCase in one C call:
# this loop runs once per test case, 100,000 times for a large report.
_CASE_FIELDS = attrgetter(
    "file", "classname", "name", "suite", "outcome", "duration_s", "attempts",
    "retry_flake", "failure_type", "message", "trace",
)  # fmt: skip


def staging_rows(cases: Iterable[ParsedCase]) -> Iterator[tuple]:
    """One staging row per case: identity, the case's fields, failure fingerprint.

    Durations are already non-negative (the parsers clamp them, with a warning).
    """
    identity_of = Case.identity_of
    for parsed in cases:
        fields = _CASE_FIELDS(parsed)
        fingerprint = None
        if parsed.outcome in FAILED_OUTCOMES:
            fingerprint = failure_fingerprint(parsed.failure_type, parsed.message)
        identity = identity_of(fields[0], fields[1], fields[2], fields[3])
        yield (identity, *fields, fingerprint)


def load_staging(session: Session, cases: list[ParsedCase]) -> None:
    connection = session.connection()
    STAGING.create(connection)
    rows = staging_rows(cases)
    if dialect_name(session) == "postgresql":
        columns = ", ".join(STAGING_COLUMNS)
        cursor = connection.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY ingest_staging ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # A fresh temporary table has no statistics; without them the planner
        # may pick a nested-loop join over 100,000 rows.
        connection.exec_driver_sql("ANALYZE ingest_staging")
    else:
        placeholders = ", ".join("?" * len(STAGING_COLUMNS))
        # sqlite3 consumes the generator row by row: no second copy of the report.
        cursor = connection.connection.driver_connection.cursor()
        cursor.executemany(f"INSERT INTO ingest_staging VALUES ({placeholders})", rows)
        cursor.close()


CASE_COLUMNS = ["project_id", "file", "classname", "name", "suite", "identity", "first_seen_at"]
RESULT_COLUMNS = [
    "run_id", "case_id", "outcome", "duration_s", "attempts", "retry_flake",
    "failure_type", "message", "trace", "fingerprint",
]  # fmt: skip


def _staged_cases(project_id: int, seen_at: datetime) -> Select:
    return select(
        literal(project_id),
        STAGING.c.file,
        STAGING.c.classname,
        STAGING.c.name,
        STAGING.c.suite,
        STAGING.c.identity,
        literal(seen_at, UtcDateTime()),
    ).where(true())  # SQLite needs a WHERE to parse INSERT ... SELECT ... ON CONFLICT


def upsert_cases(session: Session, project_id: int, seen_at: datetime) -> None:
    """Add identities this project has not seen; keep the earliest first sighting.

    The fast path is a plain insert of the staged identities the project lacks
    (an anti-join): ``ON CONFLICT`` costs PostgreSQL a speculative insertion per
    row, nearly doubling a first upload. Only if a concurrent upload added some
    of the same new cases in the meantime does the unique index object, and the
    insert is redone the safe way.
    """
    cases = Case.__table__
    known = select(cases.c.id).where(
        cases.c.project_id == project_id, cases.c.identity == STAGING.c.identity
    )
    new_only = _staged_cases(project_id, seen_at).where(~known.exists())
    try:
        with session.begin_nested():
            session.execute(cases.insert().from_select(CASE_COLUMNS, new_only))
    except IntegrityError:
        statement = upsert(session, cases).from_select(
            CASE_COLUMNS, _staged_cases(project_id, seen_at)
        )
        session.execute(statement.on_conflict_do_nothing(index_elements=["project_id", "identity"]))
    backdate_first_sightings(session, project_id, seen_at)


def backdate_first_sightings(session: Session, project_id: int, seen_at: datetime) -> None:
    """A run older than the cases' first sighting (uploaded late) moves it back."""
    cases = Case.__table__
    later = and_(cases.c.project_id == project_id, cases.c.first_seen_at > seen_at)
    if session.execute(select(cases.c.id).where(later).limit(1)).first() is None:
        return  # the usual case: uploads arrive in order
    staged = select(STAGING.c.identity).scalar_subquery()
    session.execute(
        cases.update().where(later, cases.c.identity.in_(staged)).values(first_seen_at=seen_at)
    )


def _staged_results(project_id: int, run_id: int) -> Select:
    cases = Case.__table__
    return (
        select(
            literal(run_id),
            cases.c.id,
            STAGING.c.outcome,
            STAGING.c.duration_s,
            STAGING.c.attempts,
            STAGING.c.retry_flake,
            STAGING.c.failure_type,
            STAGING.c.message,
            STAGING.c.trace,
            STAGING.c.fingerprint,
        )
        .select_from(
            STAGING.join(
                cases,
                and_(cases.c.project_id == project_id, cases.c.identity == STAGING.c.identity),
            )
        )
        .where(true())
    )


def insert_results(session: Session, project_id: int, run_id: int) -> None:
    """The staged results of a run that has none yet: a plain bulk insert.

    Safe without ``ON CONFLICT``: the run row is locked for this transaction
    (``get_or_create_run``), so no other upload can add results to it meanwhile.
    """
    statement = Result.__table__.insert().from_select(
        RESULT_COLUMNS, _staged_results(project_id, run_id)
    )
    session.execute(statement)


def upsert_results(session: Session, project_id: int, run_id: int) -> None:
    """Insert the staged results; a case already in this run (another shard) merges.

    Merging follows the retry rules: any pass wins (and a pass next to a
    failure is a retry flake), else error over failure over skip; attempts and
    durations add up.
    """
    results = Result.__table__
    statement = upsert(session, results).from_select(
        RESULT_COLUMNS, _staged_results(project_id, run_id)
    )
    new = statement.excluded
    both = (results.c.outcome, new.outcome)
    any_pass = or_(*(o == "passed" for o in both))
    any_fail = or_(*(o.in_(FAILED_OUTCOMES) for o in both))
    merged_outcome = case(
        (any_pass, "passed"),
        (or_(*(o == "error" for o in both)), "error"),
        (or_(*(o == "failed" for o in both)), "failed"),
        else_="skipped",
    )
    statement = statement.on_conflict_do_update(
        index_elements=["run_id", "case_id"],
        set_={
            "outcome": merged_outcome,
            "attempts": results.c.attempts + new.attempts,
            "duration_s": results.c.duration_s + new.duration_s,
            "retry_flake": or_(results.c.retry_flake, new.retry_flake, and_(any_pass, any_fail)),
            "failure_type": func.coalesce(results.c.failure_type, new.failure_type),
            "message": func.coalesce(results.c.message, new.message),
            "trace": func.coalesce(results.c.trace, new.trace),
            "fingerprint": func.coalesce(results.c.fingerprint, new.fingerprint),
        },
    )
    session.execute(statement)


def run_has_results(session: Session, run: Run) -> bool:
    return (
        session.execute(select(Result.id).where(Result.run_id == run.id).limit(1)).first()
        is not None
    )


def store_test_report(session: Session, run: Run, report: ParsedTestReport) -> None:
    had_results = run_has_results(session, run)
    load_staging(session, report.cases)
    try:
        upsert_cases(session, run.project_id, run.started_at)
        if had_results:
            upsert_results(session, run.project_id, run.id)
        else:
            insert_results(session, run.project_id, run.id)
    finally:
        STAGING.drop(session.connection())
    if report.wall_seconds is not None:
        run.wall_seconds = max(run.wall_seconds or 0.0, report.wall_seconds)


# --- coverage -----------------------------------------------------------------


def store_coverage(session: Session, run: Run, report: ParsedCoverage) -> list[str]:
    """Add a coverage report to the run; returns warnings about merging.

    Shards of one run may each send coverage. Without line-level data the best
    honest merge is per file: the shard that covered more lines of a file wins.
    """
    warnings: list[str] = []
    session.execute(
        upsert(session, CoverageReport.__table__)
        .values(run_id=run.id, format=report.format)
        .on_conflict_do_nothing(index_elements=["run_id"])
    )
    coverage = session.scalars(select(CoverageReport).where(CoverageReport.run_id == run.id)).one()
    if session.scalar(select(func.count()).where(CoverageFile.report_id == coverage.id)):
        warnings.append(
            "this run already had coverage; files present in both were merged "
            "by keeping the report that covered more of their lines"
        )
    rows = [
        {
            "report_id": coverage.id,
            "path": f.path,
            "lines_valid": f.lines_valid,
            "lines_covered": f.lines_covered,
            "branches_valid": f.branches_valid,
            "branches_covered": f.branches_covered,
        }
        for f in report.files
    ]
    files = CoverageFile.__table__
    statement = upsert(session, files)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["report_id", "path"],
        set_={name: getattr(new, name) for name in rows[0] if name not in ("report_id", "path")},
        where=new.lines_covered > files.c.lines_covered,
    )
    session.execute(statement, rows)
    refresh_coverage_totals(session, coverage)
    return warnings


def refresh_coverage_totals(session: Session, coverage: CoverageReport) -> None:
    lines_valid, lines_covered, with_branches, branches_valid, branches_covered = session.execute(
        select(
            func.coalesce(func.sum(CoverageFile.lines_valid), 0),
            func.coalesce(func.sum(CoverageFile.lines_covered), 0),
            func.count(CoverageFile.branches_valid),
            func.coalesce(func.sum(CoverageFile.branches_valid), 0),
            func.coalesce(func.sum(CoverageFile.branches_covered), 0),
        ).where(CoverageFile.report_id == coverage.id)
    ).one()
    coverage.lines_valid = int(lines_valid)
    coverage.lines_covered = int(lines_covered)
    # No file with branch data means "no branch data", never 0%.
    coverage.branches_valid = int(branches_valid) if with_branches else None
    coverage.branches_covered = int(branches_covered) if with_branches else None
