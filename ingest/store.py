"""Write parsed reports to the database, in bulk, inside the caller's transaction.

Test cases go through two temporary staging tables, one row per case and one
per case with failure details: rows are bulk-loaded into them (``COPY`` on
PostgreSQL, ``executemany`` on SQLite), then two set-based statements upsert the
case identities and the results. The same SQL runs on both engines, and
100,000 cases never become 100,000 ORM objects.

The staging tables live as long as their database connection: created when it
opens (``create_staging_tables``), emptied after each report. Creating and
dropping them in every upload cost PostgreSQL four catalog changes, each of
which every other connection then had to take in.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from operator import attrgetter
from typing import Literal

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from dashboard.models import (
    Case,
    CaseDay,
    CaseWeek,
    CoverageFile,
    CoverageReport,
    Result,
    Run,
    Upload,
    UtcDateTime,
    infrastructure_verdict,
    utc_day,
    week_of,
)
from ingest.fingerprint import failure_fingerprint
from ingest.records import ParsedCase, ParsedCoverage, ParsedTestReport

FAILED_OUTCOMES = ("failed", "error")

_staging_metadata = MetaData()
STAGING = Table(
    "ingest_staging",
    _staging_metadata,
    # No key or index: the table is written once and read by one join, and an
    # index would cost more to build than it saves.
    Column("position", Integer),  # in the report, from 1
    Column("identity", String(64)),
    Column("file", String(1000)),
    Column("classname", String(1000)),
    Column("name", String(1000)),
    Column("suite", String(1000)),
    Column("outcome", String(8)),
    Column("duration_s", Float),
    Column("attempts", Integer),
    Column("retry_flake", Boolean),
    prefixes=["TEMPORARY"],
    # Emptied at commit anyway, cheaply: kept from growing if an upload fails.
    postgresql_on_commit="DELETE ROWS",
)
# Failure details apart, for the few cases that have any: most cases pass, and
# SQLite's driver binds a NULL through its adapter lookup, slowly. Measured on
# 100,000 cases, 5% failing: loading 0.31 s with the four detail columns in
# every row, 0.16 s without them (and the details of the failures 0.01 s).
STAGED_DETAILS = Table(
    "ingest_staging_details",
    _staging_metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("failure_type", String(200)),
    Column("message", Text),
    Column("trace", Text),
    Column("fingerprint", String(64)),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
STAGING_TABLES = (STAGING, STAGED_DETAILS)
# In a pooled connection's ``info``: its staging tables exist for good.
STAGING_READY = "suitescope_staging_ready"


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
) -> tuple[Run, bool]:
    """The run for (project, build, job), locked for this transaction, and whether
    this call created it (then it holds nothing yet: no results, no coverage).

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
        .returning(Run.__table__.c.id)
    )
    created = session.execute(insert_run).scalar() is not None
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
    return run, created


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
    "file", "classname", "name", "suite", "outcome", "duration_s", "attempts", "retry_flake",
)  # fmt: skip


def staging_rows(cases: Iterable[ParsedCase]) -> Iterator[tuple]:
    """One staging row per case: position, identity, the case's fields.

    Durations are already non-negative (the parsers clamp them, with a warning).
    ``retry_flake`` goes as 0 or 1: SQLite's driver binds a ``bool`` through its
    adapter lookup, like a NULL (0.05 s more for 100,000 cases).
    """
    identity_of = Case.identity_of
    for position, parsed in enumerate(cases, 1):
        file, classname, name, suite, outcome, duration_s, attempts, retry_flake = _CASE_FIELDS(
            parsed
        )
        yield (
            position,
            identity_of(file, classname, name, suite),
            file, classname, name, suite, outcome, duration_s, attempts,
            1 if retry_flake else 0,
        )  # fmt: skip


def detail_rows(cases: Iterable[ParsedCase]) -> Iterator[tuple]:
    """A row for each case with failure details (a failure always has a fingerprint):
    position, failure type, message, trace, fingerprint."""
    for position, parsed in enumerate(cases, 1):
        failed = parsed.outcome in FAILED_OUTCOMES
        failure_type, message, trace = parsed.failure_type, parsed.message, parsed.trace
        if failed or failure_type is not None or message is not None or trace is not None:
            fingerprint = failure_fingerprint(failure_type, message) if failed else None
            yield (position, failure_type, message, trace, fingerprint)


ANALYZE_STAGING_FROM = 5_000


def is_large(cases: int) -> bool:
    """Whether a report stages enough cases to be analyzed (PostgreSQL), so that
    set-based plans (hashing the project's cases) pay off."""
    return cases >= ANALYZE_STAGING_FROM


def staging_ddl(dialect: Dialect) -> list[str]:
    return [
        str(CreateTable(table, if_not_exists=True).compile(dialect=dialect))
        for table in STAGING_TABLES
    ]


def create_staging_tables(dbapi_connection, dialect: Dialect, info: dict) -> None:
    """Create the staging tables of a new database connection, outside any transaction.

    Called by the engine's ``connect`` hook (``dashboard.database``); ``info``
    is the pooled connection's, where ``load_staging`` looks for them.
    """
    cursor = dbapi_connection.cursor()
    try:
        for statement in staging_ddl(dialect):
            cursor.execute(statement)
    except dialect.loaded_dbapi.Error:
        # A read-only database (a PostgreSQL standby, default_transaction_read_only)
        # refuses even temporary tables. Reads must still work: an upload then
        # creates them in its own transaction, where the refusal is the usual 503.
        dbapi_connection.rollback()
        return
    finally:
        cursor.close()
    info[STAGING_READY] = True


def load_staging(session: Session, cases: list[ParsedCase]) -> None:
    connection = session.connection()
    if not connection.connection.info.get(STAGING_READY):
        # A connection that did not open through our engine set-up: the tables
        # go with this transaction if it rolls back, so they are not noted.
        for statement in staging_ddl(connection.dialect):
            connection.exec_driver_sql(statement)
    loads = [(STAGING, staging_rows(cases)), (STAGED_DETAILS, detail_rows(cases))]
    if dialect_name(session) == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor:
            for table, rows in loads:
                columns = ", ".join(c.name for c in table.columns)
                with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        # A fresh temporary table has no statistics; without them the planner
        # may pick a nested-loop join over 100,000 rows. Below a few thousand
        # rows that plan is the right one anyway, and ANALYZE would cost a
        # typical 1,000-case upload about 5% of its time.
        if is_large(len(cases)):
            connection.exec_driver_sql(
                f"ANALYZE {STAGING.name} (identity), {STAGED_DETAILS.name} (position)"
            )
    else:
        # sqlite3 consumes the generators row by row: no second copy of the report.
        cursor = connection.connection.driver_connection.cursor()
        for table, rows in loads:
            placeholders = ", ".join("?" * len(table.columns))
            cursor.executemany(f"INSERT INTO {table.name} VALUES ({placeholders})", rows)
        cursor.close()


def clear_staging(session: Session) -> None:
    """Empty the staging tables for the next report of this transaction.

    Only after success: a failure rolls the transaction back, staged rows included.
    """
    for table in STAGING_TABLES:
        session.execute(table.delete())


# SQLAlchemy reports an INSERT's row count only when asked to keep it.
COUNT_ROWS = {"preserve_rowcount": True}
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


def upsert_cases(session: Session, project_id: int, seen_at: datetime, *, large: bool) -> int:
    """Add identities this project has not seen; keep the earliest first sighting.
    Returns how many it added.

    On PostgreSQL the fast path is a plain insert of the staged identities the
    project lacks (an anti-join): ``ON CONFLICT`` costs PostgreSQL a speculative
    insertion per row, nearly doubling a first upload. Only if a concurrent
    upload added some of the same new cases in the meantime does the unique
    index object, and the insert is redone the safe way.

    SQLite goes the safe way at once. It checks the unique index on every insert
    anyway, so ``ON CONFLICT DO NOTHING`` costs it nothing more, where the
    anti-join looks each identity up a second time (measured on 100,000 new
    cases: 0.25 s with it, 0.18 s without). Its writers hold the write lock
    (``BEGIN IMMEDIATE``), so no other upload can add cases meanwhile.

    So does PostgreSQL for an upload that is not ``large`` (``is_large``), most
    of its cases known as a rule: the anti-join hashed every case of the project
    to find the few it lacks, where ``ON CONFLICT`` probes the index once per
    staged case, and needs no savepoint.
    """
    # Before the insert: the check then reads only the cases known before this
    # upload (none at all on a project's first one), and the new ones are
    # inserted with the right first sighting anyway.
    backdate_first_sightings(session, project_id, seen_at)
    if dialect_name(session) == "sqlite" or not large:
        return insert_new_cases_on_conflict(session, project_id, seen_at)
    cases = Case.__table__
    known = select(cases.c.id).where(
        cases.c.project_id == project_id, cases.c.identity == STAGING.c.identity
    )
    new_only = _staged_cases(project_id, seen_at).where(~known.exists())
    try:
        with session.begin_nested():
            insert = cases.insert().from_select(CASE_COLUMNS, new_only)
            return session.execute(insert, execution_options=COUNT_ROWS).rowcount
    except IntegrityError:
        added = insert_new_cases_on_conflict(session, project_id, seen_at)
        # The concurrent upload may have seen them later than this one.
        backdate_first_sightings(session, project_id, seen_at)
        return added


def insert_new_cases_on_conflict(session: Session, project_id: int, seen_at: datetime) -> int:
    """The staged identities the project lacks, skipped by the unique index if known;
    how many were added."""
    statement = upsert(session, Case.__table__).from_select(
        CASE_COLUMNS, _staged_cases(project_id, seen_at)
    )
    statement = statement.on_conflict_do_nothing(index_elements=["project_id", "identity"])
    return session.execute(statement, execution_options=COUNT_ROWS).rowcount


# An upload that adds at least this many cases, and mostly new ones, refreshes
# PostgreSQL's statistics of the case table (``refresh_case_statistics``).
STATISTICS_NEW_CASES_MIN = 50
CASE_STATISTICS_TARGET = 10


def brings_new_suite(added: int, staged: int) -> bool:
    """Whether an upload added enough new cases, most of those it sent, for the
    planner's picture of the project's cases to be out of date."""
    return added >= STATISTICS_NEW_CASES_MIN and added * 2 >= staged


def refresh_case_statistics(session: Session) -> None:
    """``ANALYZE`` the columns a case is looked up by (PostgreSQL), within the upload.

    Each upload looks its cases up by (project, identity). Until the planner
    knows how the case table's rows spread over projects (a new database, or a
    project that arrived since the last ``ANALYZE``), it rates the
    (project, first sighting) index as good as the unique one and walks all the
    project's cases for every case looked up: measured on a 1,000-case suite,
    the result insert took 179 ms that way and 12 ms with statistics. Autovacuum
    would catch up within minutes if it is on; this does it at once, and sees
    the cases this transaction added. Run right after they are added, while the
    upload holds no row lock another upload could be waiting for, so that two
    uploads that both analyze wait for each other's commit, never in a cycle.
    """
    if dialect_name(session) != "postgresql":
        return  # SQLite's planner picks the unique index without statistics
    # A sample of 3,000 rows (the target times 300) shows how the rows spread over
    # projects as well as the default 30,000, at a tenth of the cost (0.1 s after
    # a first upload of 100,000 cases).
    session.execute(text(f"SET LOCAL default_statistics_target = {CASE_STATISTICS_TARGET}"))
    session.execute(text(f'ANALYZE "{Case.__tablename__}" (project_id, identity)'))


def any_later_sighting(project_id: int, seen_at: datetime) -> Select:
    """A case of the project first seen after ``seen_at``, if any (one index probe)."""
    cases = Case.__table__
    later = and_(cases.c.project_id == project_id, cases.c.first_seen_at > seen_at)
    return select(cases.c.id).where(later).limit(1)


def backdate_first_sightings(session: Session, project_id: int, seen_at: datetime) -> None:
    """A run older than the cases' first sighting (uploaded late) moves it back."""
    cases = Case.__table__
    later = and_(cases.c.project_id == project_id, cases.c.first_seen_at > seen_at)
    if session.execute(any_later_sighting(project_id, seen_at)).first() is None:
        return  # the usual case: uploads arrive in order
    staged = select(STAGING.c.identity).scalar_subquery()
    session.execute(
        cases.update().where(later, cases.c.identity.in_(staged)).values(first_seen_at=seen_at)
    )


def _staged_results(project_id: int, run_id: int, *, large: bool) -> Select:
    cases = Case.__table__
    same_case = and_(cases.c.project_id == project_id, cases.c.identity == STAGING.c.identity)
    staged = STAGING.outerjoin(STAGED_DETAILS, STAGED_DETAILS.c.position == STAGING.c.position)
    if large:
        # Analyzed: PostgreSQL hashes the project's cases (100,000 new ones: 0.3 s,
        # where a probe per case took 0.5 s).
        case_id = cases.c.id
        staged = staged.join(cases, same_case)
    else:
        # A probe per case (every staged one has its case by now), whatever the
        # planner guesses of an unanalyzed staging table: as a join, PostgreSQL
        # hashed every case of the project for a 1,000-case upload.
        case_id = select(cases.c.id).where(same_case).scalar_subquery()
    return (
        select(
            literal(run_id),
            case_id,
            STAGING.c.outcome,
            STAGING.c.duration_s,
            STAGING.c.attempts,
            STAGING.c.retry_flake,
            STAGED_DETAILS.c.failure_type,
            STAGED_DETAILS.c.message,
            STAGED_DETAILS.c.trace,
            STAGED_DETAILS.c.fingerprint,
        )
        .select_from(staged)
        .where(true())
    )


def insert_results(session: Session, project_id: int, run_id: int, *, large: bool) -> None:
    """The staged results of a run that has none yet: a plain bulk insert.

    Safe without ``ON CONFLICT``: the run row is locked for this transaction
    (``get_or_create_run``), so no other upload can add results to it meanwhile.
    """
    statement = Result.__table__.insert().from_select(
        RESULT_COLUMNS, _staged_results(project_id, run_id, large=large)
    )
    session.execute(statement)


def upsert_results(session: Session, project_id: int, run_id: int, *, large: bool) -> None:
    """Insert the staged results; a case already in this run (another shard) merges.

    Merging follows the retry rules: any pass wins (and a pass next to a
    failure is a retry flake), else error over failure over skip; attempts and
    durations add up.
    """
    results = Result.__table__
    statement = upsert(session, results).from_select(
        RESULT_COLUMNS, _staged_results(project_id, run_id, large=large)
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


def store_test_report(
    session: Session, run: Run, report: ParsedTestReport, *, empty_run: bool = False
) -> None:
    """Add a report's cases and results to the run; ``empty_run`` if the caller
    knows the run has no results yet (spares the query)."""
    had_results = not empty_run and run_has_results(session, run)
    load_staging(session, report.cases)
    large = is_large(len(report.cases))
    added = upsert_cases(session, run.project_id, run.started_at, large=large)
    if brings_new_suite(added, len(report.cases)):
        refresh_case_statistics(session)
    note_rollup_changes(session, run)
    if had_results:
        upsert_results(session, run.project_id, run.id, large=large)
    else:
        insert_results(session, run.project_id, run.id, large=large)
    clear_staging(session)
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


# --- rollups -------------------------------------------------------------------
#
# ``case_week`` and ``case_day`` (see dashboard.models) are kept in step with the
# results by the upload that changes them, in its transaction: ``note_rollup_changes``
# before a later shard writes results, ``roll_up`` once the run's totals (and so its
# infrastructure verdict) are final. Every change is set-based and proportional to
# the upload, never to the history:
#
# * a run rolled up for the first time adds all its results;
# * a later shard of a rolled-up run takes out the old figures of the cases it
#   merges into (kept in ``rollup_pending`` before they are overwritten) and adds
#   the new ones of every case it sent;
# * a run whose day or verdict changed takes all its figures out of the old day,
#   week and verdict and puts them back under the new ones.
#
# A sample in ``case_day`` is a character in ``buckets`` and one naming its run at
# the same place in ``runs``, so that it can be taken out again with string
# functions alone.

PENDING = Table(
    "rollup_pending",
    _staging_metadata,
    Column("case_id", Integer),
    Column("overlap", Boolean),  # the run already had a result of this case
    Column("old_outcome", String(8)),
    Column("old_duration_s", Float),
    prefixes=["TEMPORARY"],
)


# The first key of the advisory locks that take a project's rollups in turn
# (the second is the project's id): "SS" in ASCII, clear of other applications'
# small numbers.
ROLLUP_LOCK_SPACE = 0x5353


def lock_rollups(session: Session, project_ids: Iterable[int]) -> None:
    """Wait until this transaction alone may change these projects' rollups.

    On PostgreSQL concurrent uploads of a project merge into the same rows, in
    key order. Row by row, a later upload stopped at each row an earlier one
    still held, up to a thousand waits an upload; one transaction-scoped
    advisory lock per project makes it one (bench.load, 16 clients: 32.1 ->
    33.7 uploads/s, medians of four). It is an upload's last lock: an upload
    holding it never waits for anything another upload holds while waiting
    for it, so no cycle. SQLite's writers hold the whole database already.
    """
    if dialect_name(session) != "postgresql":
        return
    for project_id in sorted(set(project_ids)):
        session.execute(select(func.pg_advisory_xact_lock(ROLLUP_LOCK_SPACE, project_id)))


def _pending_key(run: Run) -> tuple[str, int]:
    return ("rollup_pending", run.id)


def note_rollup_changes(session: Session, run: Run) -> None:
    """Before a shard's results are written into a rolled-up run, keep the figures
    of the cases it will change as they are now (they leave the rollups in ``roll_up``).

    Reads the staging table; a case sent twice in one upload keeps its first note.
    """
    if run.rollup_started_at is None:
        return  # nothing of this run is in the rollups yet
    connection = session.connection()
    if _pending_key(run) not in session.info:
        PENDING.create(connection)
        session.info[_pending_key(run)] = True
    cases, results = Case.__table__, Result.__table__
    staged = (
        select(
            cases.c.id,
            results.c.id.is_not(None),
            results.c.outcome,
            results.c.duration_s,
        )
        .distinct()
        .select_from(
            STAGING.join(
                cases,
                and_(cases.c.project_id == run.project_id, cases.c.identity == STAGING.c.identity),
            ).outerjoin(results, and_(results.c.run_id == run.id, results.c.case_id == cases.c.id))
        )
        .where(~select(PENDING.c.case_id).where(PENDING.c.case_id == cases.c.id).exists())
    )
    session.execute(
        PENDING.insert().from_select(
            ["case_id", "overlap", "old_outcome", "old_duration_s"], staged
        )
    )


def roll_up(session: Session, run: Run) -> None:
    """Bring the rollups in step with the run's results; call after ``refresh_run_totals``."""
    pending = session.info.pop(_pending_key(run), False)
    verdict = infrastructure_verdict(run)
    now = utc_day(run.started_at), verdict
    before = (
        None
        if run.rollup_started_at is None
        else (utc_day(run.rollup_started_at), run.rollup_infra)
    )
    try:
        if before != now or pending:  # else nothing changes (a duplicate): no wait
            lock_rollups(session, [run.project_id])
        if before is None:
            _apply(session, run, _contributions(run, "all"), verdict, sign=1)
        elif before == now:
            if pending:
                _apply(session, run, _contributions(run, "replaced"), verdict, sign=-1)
                _apply(session, run, _contributions(run, "pending"), verdict, sign=1)
        else:
            old = _contributions(run, "before" if pending else "all")
            _apply(session, run, old, run.rollup_infra, sign=-1, day=before[0])
            _apply(session, run, _contributions(run, "all"), verdict, sign=1)
    finally:
        if pending:
            PENDING.drop(session.connection())
    run.rollup_started_at = run.started_at
    run.rollup_infra = verdict


def _contributions(run: Run, which: str) -> Select:
    """(case_id, outcome, duration_s) of the run's results that count, as of ``which``:

    * ``all``: every result as stored now;
    * ``pending``: the cases this upload sent, as stored now;
    * ``replaced``: the cases this upload merged into, as they were before it;
    * ``before``: every result as it was before this upload (the cases it added
      had none).
    """
    results = Result.__table__
    if which == "replaced":
        query = select(
            PENDING.c.case_id,
            PENDING.c.old_outcome.label("outcome"),
            PENDING.c.old_duration_s.label("duration_s"),
        ).where(PENDING.c.overlap)
    elif which == "all":
        query = select(results.c.case_id, results.c.outcome, results.c.duration_s).where(
            results.c.run_id == run.id
        )
    elif which == "pending":
        query = (
            select(results.c.case_id, results.c.outcome, results.c.duration_s)
            .join(PENDING, PENDING.c.case_id == results.c.case_id)
            .where(results.c.run_id == run.id)
        )
    else:  # before
        overlap = PENDING.c.overlap.is_(True)
        query = (
            select(
                results.c.case_id,
                case((overlap, PENDING.c.old_outcome), else_=results.c.outcome).label("outcome"),
                case((overlap, PENDING.c.old_duration_s), else_=results.c.duration_s).label(
                    "duration_s"
                ),
            )
            .outerjoin(PENDING, PENDING.c.case_id == results.c.case_id)
            .where(results.c.run_id == run.id, or_(PENDING.c.case_id.is_(None), overlap))
        )
    return query.subquery("contributions")


def _apply(
    session: Session,
    run: Run,
    contributions,
    infrastructure: bool,
    *,
    sign: int,
    day=None,
) -> None:
    """Add (``sign=1``) or take out (``sign=-1``) figures of the run's results
    into the week and day of ``day`` (default: the run's day now)."""
    day = day or utc_day(run.started_at)
    executed = contributions.c.outcome != "skipped"
    week = week_of(day)
    # The first upload of a week for a project has no row to merge into: plain
    # inserts then (a day row exists only beside its week's row). A later one
    # finds the rows of (nearly) all its cases there.
    keys: Keys = "new" if sign > 0 and _fresh_week(session, run.project_id, week) else "existing"
    _apply_weeks(session, run.project_id, week, contributions, executed, infrastructure, sign, keys)
    if infrastructure:
        return  # an infrastructure failure's durations are no samples
    if sign > 0:
        _append_samples(session, day, run.id, contributions, executed, keys)
    else:
        _remove_samples(session, day, run.id, contributions, executed)


def _fresh_week(session: Session, project_id: int, week: date) -> bool:
    weeks = CaseWeek.__table__
    query = select(weeks.c.case_id).where(weeks.c.project_id == project_id, weeks.c.week == week)
    return session.execute(query.limit(1)).first() is None


def _apply_weeks(
    session, project_id, week, contributions, executed, infrastructure, sign, keys: Keys
) -> None:
    timed = 0 if infrastructure else sign
    duration = week_seconds(contributions.c.duration_s)
    # Taking figures out leaves min and max as they were: they only ever widen.
    bound = cast(null(), Float) if infrastructure or sign < 0 else duration
    rows = select(
        literal(project_id).label("project_id"),
        literal(week, Date()).label("week"),
        contributions.c.case_id.label("case_id"),
        literal(sign).label("executions"),
        literal(timed).label("timed"),
        (duration * timed).label("seconds"),
        (duration * duration * timed).label("seconds_sq"),
        bound.label("min_s"),
        bound.label("max_s"),
    ).where(executed)
    _merge_weeks(session, rows, keys)


def _merge_weeks(session: Session, rows: Select, keys: Keys = "mixed") -> None:
    weeks = CaseWeek.__table__
    _merge(
        session,
        weeks,
        rows,
        keys,
        lambda new: {
            "executions": weeks.c.executions + new.executions,
            "timed": weeks.c.timed + new.timed,
            "seconds": weeks.c.seconds + new.seconds,
            "seconds_sq": weeks.c.seconds_sq + new.seconds_sq,
            "min_s": _widen(weeks.c.min_s, new.min_s, lower=True),
            "max_s": _widen(weeks.c.max_s, new.max_s, lower=False),
        },
    )


def _merge_days(session: Session, rows: Select, keys: Keys = "mixed") -> None:
    days = CaseDay.__table__
    _merge(
        session,
        days,
        rows,
        keys,
        lambda new: {
            "runs": days.c.runs.concat(new.runs),
            "buckets": days.c.buckets.concat(new.buckets),
        },
    )


# What a merge expects of its rows' keys: all "new" (a project's first upload of
# a week), nearly all "existing" (any later upload of the week), or "mixed" (many
# runs rolled up at once, most of their keys new).
Keys = Literal["new", "existing", "mixed"]


def _merge(session: Session, table: Table, rows: Select, keys: Keys, updates) -> None:
    """Add ``rows`` (labelled like the table's columns) into ``table``: a row whose
    key exists is updated with ``updates(new)``, any other inserted.

    ``new`` rows go in with a plain insert. Else SQLite does it in one
    ``INSERT ... ON CONFLICT``, and so does PostgreSQL for ``existing`` keys: it
    finds each key's row once and updates it. For a new key, though, PostgreSQL
    pays a speculative insertion (twice the time of a plain insert), so ``mixed``
    rows are merged in two steps there: existing keys locked in key order and
    updated by a join, the rest inserted with an anti-join. (For a 1,000-case
    upload into a busy week those three passes over the key cost 37 ms, the one
    ``ON CONFLICT`` 16: each pass walks the rows' dead versions.) Should a
    concurrent upload insert one of the same keys first, the unique index objects
    and the merge is redone with ``ON CONFLICT``.
    """
    key_names = [column.name for column in table.primary_key.columns]
    names = [column.name for column in rows.selected_columns]
    # Concurrent uploads of a project touch the same keys (its cases, this week):
    # taking them in one order, the key's, keeps them from deadlocking.
    rows = rows.order_by(*(rows.selected_columns[key] for key in key_names))
    if keys == "new":
        try:
            with session.begin_nested():
                session.execute(table.insert().from_select(names, rows))
            return
        except IntegrityError:
            pass
    if keys == "mixed" and dialect_name(session) == "postgresql":
        try:
            with session.begin_nested():
                _lock_existing(session, table, key_names, rows)
                _update_then_insert(session, table, key_names, names, rows, updates)
            return
        except IntegrityError:
            pass
    statement = upsert(session, table).from_select(names, rows)
    statement = statement.on_conflict_do_update(
        index_elements=key_names, set_=updates(statement.excluded)
    )
    session.execute(statement)


def _lock_existing(session: Session, table: Table, keys: list[str], rows: Select) -> None:
    """Lock the rows an update will change, in key order (PostgreSQL): an ``UPDATE``
    joined to new rows takes its locks in whatever order its plan visits them."""
    new = rows.subquery("new")
    key_columns = [table.c[key] for key in keys]
    same_key = and_(*(table.c[key] == new.c[key] for key in keys))
    locking = (
        select(*key_columns)
        .select_from(table.join(new, same_key))
        .order_by(*key_columns)
        .with_for_update(of=table)
    )
    session.execute(locking)


def _update_then_insert(session, table, keys, names, rows, updates) -> None:
    """One statement: the new rows computed once (a CTE), the existing keys updated
    by a data-modifying CTE, the rest inserted. Both parts see the table as it was
    before the statement, so the anti-join skips exactly the keys updated."""
    new = rows.cte("new")
    same_key = and_(*(table.c[key] == new.c[key] for key in keys))
    updated = (
        table.update()
        .where(same_key)
        .values(updates(new.c))
        .returning(table.c[keys[0]])
        .cte("updated")
    )
    missing = (
        select(*(new.c[name] for name in names))
        .where(~select(literal(1)).select_from(table).where(same_key).exists())
        .order_by(*(new.c[key] for key in keys))
    )
    session.execute(table.insert().from_select(names, missing).add_cte(updated))


# Week figures count a duration as at most this (31,000 years: a report's nonsense) and
# a sub-picosecond one as nothing, so that sums and squares stay finite: PostgreSQL
# raises on float overflow and underflow where SQLite and Python round.
WEEK_SECONDS_MAX = 1e12
WEEK_SECONDS_MIN = 1e-12


def week_seconds(duration):
    """SQL: a duration as the week figures count it."""
    return case(
        (duration < WEEK_SECONDS_MIN, 0.0),
        (duration > WEEK_SECONDS_MAX, WEEK_SECONDS_MAX),
        else_=duration,
    )


def _widen(old, new, *, lower: bool):
    beyond = new < old if lower else new > old
    return case((or_(old.is_(None), and_(new.is_not(None), beyond)), new), else_=old)


def _append_samples(session, day, run_id, contributions, executed, keys: Keys) -> None:
    rows = select(
        literal(day, Date()).label("day"),
        contributions.c.case_id.label("case_id"),
        literal(CaseDay.run_tag(run_id)).label("runs"),
        bucket_char(session, contributions.c.duration_s).label("buckets"),
    ).where(executed)
    _merge_days(session, rows, keys)


def _remove_samples(session, day, run_id, contributions, executed) -> None:
    """Cut the run's sample (its tag and the bucket at the same place) out of each
    case's day. Both expressions read the row as it was: SQL's ``SET`` does."""
    days = CaseDay.__table__
    find = func.strpos if dialect_name(session) == "postgresql" else func.instr
    at = find(days.c.runs, literal(CaseDay.run_tag(run_id)))

    def cut(column):
        return func.substr(column, 1, at - 1).concat(func.substr(column, at + 1))

    cases = select(contributions.c.case_id).where(executed)
    session.execute(
        days.update()
        .where(days.c.day == day, days.c.case_id.in_(cases.scalar_subquery()), at > 0)
        .values(runs=cut(days.c.runs), buckets=cut(days.c.buckets))
    )


def bucket_char(session: Session, duration):
    """SQL for ``CaseDay.bucket``'s character: the same arithmetic, the same libm."""
    postgres = dialect_name(session) == "postgresql"
    if not postgres:
        ensure_sqlite_math(session)
    smallest = literal(CaseDay.SMALLEST_S, Float())
    capped = (func.least if postgres else func.min)(duration, literal(CaseDay.LARGEST_S, Float()))
    step = func.floor(func.ln(capped / smallest) / literal(math.log(CaseDay.GROWTH), Float()))
    code = case((duration < smallest, 0), else_=1 + cast(step, Integer)) + CaseDay.ZERO_CODE
    return (func.chr if postgres else func.char)(code, type_=Text())


def ensure_sqlite_math(session: Session) -> None:
    """SQLite builds without its math functions get Python's (``ln``, ``floor``)."""
    driver = session.connection().connection.driver_connection
    try:
        driver.execute("SELECT ln(1.0), floor(1.5)").fetchone()
    except Exception:  # sqlite3.OperationalError: no such function
        driver.create_function("ln", 1, math.log, deterministic=True)
        driver.create_function("floor", 1, math.floor, deterministic=True)


# --- rollups of many runs at once (the benchmark, ``suitescope rollups rebuild``) -----


def refresh_rollups(session: Session, run_ids: Sequence[int]) -> int:
    """Roll up the runs among ``run_ids`` that are not rolled up yet; how many.

    The same figures ``roll_up`` adds one upload at a time, added for many runs in
    a few grouped statements (one per week and one per day). Runs that are rolled
    up already are left alone: ``rebuild_rollups`` starts a project afresh.
    """
    run_ids = list(run_ids)
    projects = select(Run.project_id).where(Run.id.in_(run_ids)).distinct()
    lock_rollups(session, session.scalars(projects))
    runs = list(
        session.scalars(select(Run).where(Run.id.in_(run_ids), Run.rollup_started_at.is_(None)))
    )
    weeks: dict[tuple[int, date], list[Run]] = defaultdict(list)
    days: dict[date, list[int]] = defaultdict(list)
    for run in runs:
        day = utc_day(run.started_at)
        weeks[(run.project_id, week_of(day))].append(run)
        if not infrastructure_verdict(run):
            days[day].append(run.id)
    for (project_id, week), week_runs in sorted(weeks.items()):
        for chunk in _chunks(week_runs):
            _add_weeks(session, project_id, week, chunk)
    for day, ids in sorted(days.items()):
        for chunk in _chunks(ids):
            _add_days(session, day, chunk)
    for run in runs:
        run.rollup_started_at = run.started_at
        run.rollup_infra = infrastructure_verdict(run)
    session.flush()
    return len(runs)


def rebuild_rollups(session: Session, project_id: int) -> int:
    """Recount a project's rollups from its results; the number of runs rolled up."""
    lock_rollups(session, [project_id])
    cases = select(Case.id).where(Case.project_id == project_id).scalar_subquery()
    session.execute(delete(CaseDay.__table__).where(CaseDay.case_id.in_(cases)))
    session.execute(delete(CaseWeek.__table__).where(CaseWeek.project_id == project_id))
    session.execute(
        Run.__table__.update()
        .where(Run.project_id == project_id)
        .values(rollup_started_at=None, rollup_infra=None)
    )
    session.expire_all()
    run_ids = session.scalars(select(Run.id).where(Run.project_id == project_id)).all()
    return refresh_rollups(session, run_ids)


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _add_weeks(session: Session, project_id: int, week: date, runs: list[Run]) -> None:
    results = Result.__table__
    infrastructure = [run.id for run in runs if infrastructure_verdict(run)]
    timed = ~results.c.run_id.in_(infrastructure) if infrastructure else true()
    duration = case((timed, week_seconds(results.c.duration_s)))
    rows = (
        select(
            literal(project_id).label("project_id"),
            literal(week, Date()).label("week"),
            results.c.case_id.label("case_id"),
            func.count().label("executions"),
            func.count(duration).label("timed"),
            func.coalesce(func.sum(duration), 0.0).label("seconds"),
            func.coalesce(func.sum(duration * duration), 0.0).label("seconds_sq"),
            func.min(duration).label("min_s"),
            func.max(duration).label("max_s"),
        )
        .where(results.c.run_id.in_([run.id for run in runs]), results.c.outcome != "skipped")
        .group_by(results.c.case_id)
    )
    _merge_weeks(session, rows)


def _add_days(session: Session, day: date, run_ids: list[int]) -> None:
    results = Result.__table__
    postgres = dialect_name(session) == "postgresql"
    tag = (func.chr if postgres else func.char)(
        CaseDay.RUN_TAG_BASE + results.c.run_id % CaseDay.RUN_TAG_SPAN, type_=Text()
    )
    bucket = bucket_char(session, results.c.duration_s)
    if postgres:  # both in run order, so that the n-th tag and bucket are one sample
        in_run_order = aggregate_order_by(literal_column("''"), results.c.run_id)
        runs = func.string_agg(tag, in_run_order)
        buckets = func.string_agg(bucket, in_run_order)
    else:  # SQLite feeds every aggregate of a group the same rows in the same order
        runs, buckets = func.group_concat(tag, ""), func.group_concat(bucket, "")
    rows = (
        select(
            literal(day, Date()).label("day"),
            results.c.case_id.label("case_id"),
            runs.label("runs"),
            buckets.label("buckets"),
        )
        .where(results.c.run_id.in_(run_ids), results.c.outcome != "skipped")
        .group_by(results.c.case_id)
    )
    _merge_days(session, rows)
