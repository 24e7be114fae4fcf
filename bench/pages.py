"""How fast every page answers on a long history, against a small one.

``python -m bench.pages [--scale small|large|both] [--requests 20] [--keep DIR]``
builds two synthetic histories, both spread over the 30 days ending now:

* small: 100 runs x 1,000 cases (100,000 results);
* large: 1,500 runs x 4,000 cases (6,000,000 results);

on SQLite (a file in a temporary directory) and, when ``BENCH_POSTGRES_URL``
names a PostgreSQL server, on PostgreSQL (a throwaway database per history,
dropped at the end). The mix is meant to look like a real project: three
branches, two jobs, re-runs of a commit, about 1% failures (infrastructure
failures, flaky tests with retry flakes, same-commit pairs and flips, tests
broken then fixed, a test failing on one job only, one-off failures), a few
slowdowns, skipped tests, new tests, quarantines, and coverage reports of
~200 files on the runs of one job.

**What is measured** is the read path: the server time of every page, chart
and JSON API call of the dashboard (the request through the WSGI app, with
Flask's test client), ``--requests`` times each after one warm-up request,
the calls of both histories interleaved so that machine noise hits them
alike. It prints p50 and p95 per call and ends with one line::

    RESULT pages sqlite_p95_max_ms=<worst p95 at large> postgresql_p95_max_ms=<...>
    growth_max=<worst large/small p95 ratio>

**What is not measured** is the data path: 6 million results through
``ingest_upload`` would take an hour, so runs, cases and results are written
in bulk (``executemany`` on SQLite, ``COPY`` on PostgreSQL) with the run
totals ingest would compute, and then the rollups are built by the very
function ingest calls after each upload (``ingest.store.refresh_rollups``), so
the pages read exactly what they would read in production. ``python -m
bench.ingest`` measures the data path.

Targets: every call's p95 <= 150 ms at the large scale on both databases, and
growth_max <= 2.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import random
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import insert, select, text
from sqlalchemy.engine import URL, make_url

from bench.common import (
    POSTGRES_URL_EXAMPLE,
    POSTGRES_URL_VARIABLE,
    Timer,
    format_value,
    median,
    percentile,
    positive_int,
    postgres_server,
    result_line,
)
from config import Config
from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import (
    Case,
    Project,
    Quarantine,
    Run,
    Upload,
    User,
)
from ingest import store
from ingest.fingerprint import failure_fingerprint
from tests.fixtures.database import postgres_database, sqlite_database

TARGET_P95_MS = 150.0
TARGET_GROWTH = 2.0
DEFAULT_REQUESTS = 20
SEED = 20261126
# Bump when the generated history changes, so that kept databases are rebuilt.
GENERATOR_VERSION = 1
# A kept database older than this is rebuilt: its history ends when it was built,
# and the pages' windows end now.
KEEP_MAX_AGE = timedelta(hours=24)
SLUG = "bench"

DAYS = 30
MAIN = "main"
BRANCHES = ((MAIN, 0.6), ("feature/checkout", 0.25), ("feature/search", 0.15))
JOBS = ("py3.11", "py3.12")
COVERAGE_JOB = "py3.12"
CASES_PER_FILE = 20
RERUN_SHARE = 0.04  # builds that re-run the previous commit of their branch
INFRA_SHARE = 0.01  # runs in which the machine, not the tests, failed
INFRA_FAIL_SHARE = 0.85
FLAKY_SHARE = 0.01  # cases that fail now and then (40 of 4,000)
RETRY_PASS_SHARE = 0.7  # a retrying flaky case's failures that pass on the rerun
SKIPPED_SHARE = 0.02
NEW_SHARE = 0.005  # cases first seen ten days ago
ONE_OFF_FAILURE = 0.0002  # any execution, once in a while
QUARANTINED = 3
COVERAGE_FILES_PER_CASE = 1 / CASES_PER_FILE  # ~200 files for 4,000 cases


@dataclass(frozen=True, slots=True)
class Scale:
    name: str
    runs: int
    cases: int

    @property
    def results(self) -> int:
        return self.runs * self.cases

    def label(self) -> str:
        return f"{self.name} ({self.runs:,} runs x {self.cases:,} cases)"


SCALES = {"small": Scale("small", 100, 1_000), "large": Scale("large", 1_500, 4_000)}


# --- the history -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseSpec:
    """One test of the synthetic suite and how it behaves."""

    id: int
    file: str
    classname: str
    name: str
    base_s: float
    kind: str  # stable skipped flaky retry broken job_failing branch_broken slowdown new
    fail_p: float = 0.0


@dataclass(slots=True)
class RunSpec:
    id: int
    build: str
    job: str
    branch: str
    commit: str
    started_at: datetime
    infrastructure: bool
    coverage: bool
    totals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class History:
    """A planned history: its cases, its runs, and when things happened."""

    scale: Scale
    now: datetime
    start: datetime
    cases: list[CaseSpec]
    runs: list[RunSpec]
    seed: int

    @property
    def broken_since(self) -> datetime:
        return self.now - timedelta(days=12)

    @property
    def broken_until(self) -> datetime:
        return self.now - timedelta(days=10, hours=12)

    @property
    def branch_broken_since(self) -> datetime:
        return self.now - timedelta(days=20)

    @property
    def branch_broken_until(self) -> datetime:
        return self.now - timedelta(days=18)

    @property
    def job_failing_since(self) -> datetime:
        return self.now - timedelta(days=3)

    @property
    def end_of_time(self) -> datetime:
        return self.now + timedelta(days=1)

    @property
    def slowdown_since(self) -> datetime:
        return self.now - timedelta(days=4)

    @property
    def new_since(self) -> datetime:
        return self.now - timedelta(days=10)

    def first_seen(self, case: CaseSpec) -> datetime:
        return self.new_since if case.kind == "new" else self.start - timedelta(days=60)


def plan_cases(count: int, rng: random.Random) -> list[CaseSpec]:
    """The suite: mostly stable tests, and a few of every shape the pages look for."""
    kinds = ["stable"] * count
    special = list(range(count))
    rng.shuffle(special)

    def assign(kind: str, how_many: int) -> list[int]:
        chosen = [special.pop() for _ in range(min(how_many, len(special)))]
        for index in chosen:
            kinds[index] = kind
        return chosen

    flaky = max(2, round(count * FLAKY_SHARE))
    retry = set(assign("retry", flaky // 2))
    assign("flaky", flaky - len(retry))
    assign("broken", 2)
    assign("job_failing", 1)
    assign("branch_broken", max(1, round(count * 0.01)))
    assign("slowdown", 3)
    assign("skipped", round(count * SKIPPED_SHARE))
    assign("new", max(1, round(count * NEW_SHARE)))
    cases = []
    for index, kind in enumerate(kinds):
        module = index // CASES_PER_FILE
        package = module // 20
        base = min(max(rng.lognormvariate(math.log(0.05), 1.2), 0.001), 30.0)
        cases.append(
            CaseSpec(
                id=index + 1,
                file=f"tests/pkg_{package}/test_module_{module}.py",
                classname=f"tests.pkg_{package}.test_module_{module}.TestModule{module}",
                name=f"test_behaviour_{index}[case-{index % 7}]",
                base_s=base,
                kind=kind,
                fail_p=rng.uniform(0.03, 0.2) if kind in ("flaky", "retry") else 0.0,
            )
        )
    return cases


def plan_runs(scale: Scale, start: datetime, now: datetime, rng: random.Random) -> list[RunSpec]:
    """Builds evenly spread over the days with some jitter, each running every job."""
    builds = math.ceil(scale.runs / len(JOBS))
    spacing = (now - start) / builds
    infrastructure = set(rng.sample(range(scale.runs), max(1, round(scale.runs * INFRA_SHARE))))
    last_commit: dict[str, str] = {}
    runs: list[RunSpec] = []
    for number in range(builds):
        branch = rng.choices([b for b, _ in BRANCHES], [w for _, w in BRANCHES])[0]
        rerun = branch in last_commit and rng.random() < RERUN_SHARE
        commit = last_commit[branch] if rerun else f"{rng.getrandbits(160):040x}"
        last_commit[branch] = commit
        jitter = spacing * rng.uniform(-0.3, 0.3)
        started = start + spacing * (number + 0.5) + jitter
        for offset, job in enumerate(JOBS):
            if len(runs) == scale.runs:
                break
            index = len(runs)
            runs.append(
                RunSpec(
                    id=index + 1,
                    build=f"build-{number + 1}",
                    job=job,
                    branch=branch,
                    commit=commit,
                    started_at=started + timedelta(seconds=7 * offset),
                    infrastructure=index in infrastructure,
                    coverage=job == COVERAGE_JOB,
                )
            )
    return runs


def plan_history(scale: Scale, now: datetime, seed: int = SEED) -> History:
    rng = random.Random(f"{seed}-{scale.runs}-{scale.cases}")
    # The last run starts a few minutes before now, the first a little after
    # the 30-day window opens.
    end = now - timedelta(minutes=5)
    start = end - timedelta(days=DAYS) + timedelta(minutes=10)
    return History(
        scale=scale,
        now=end,
        start=start,
        cases=plan_cases(scale.cases, rng),
        runs=plan_runs(scale, start, end, rng),
        seed=seed,
    )


# Result rows, as (run_id, case_id, outcome, duration_s, attempts, retry_flake,
# failure_type, message, trace, fingerprint).
RESULT_COLUMNS = (
    "run_id",
    "case_id",
    "outcome",
    "duration_s",
    "attempts",
    "retry_flake",
    "failure_type",
    "message",
    "trace",
    "fingerprint",
)
TRACE = (
    "def {name}(client):\n    response = client.get('/api')\n>   assert {a} == {b}\nE   {message}"
)


def failure(case: CaseSpec, kind: str, rng: random.Random) -> tuple[str, str, str, str]:
    """(failure type, message, trace, fingerprint) of one failing execution."""
    if kind == "infrastructure":
        failure_type = "ConnectionError"
        message = f"could not connect to 10.0.{rng.randrange(255)}.{rng.randrange(255)}:5432"
    elif kind == "timeout":
        failure_type = "TimeoutError"
        message = f"timed out after {rng.randrange(5, 60)} seconds waiting for the worker"
    else:
        failure_type = "AssertionError"
        message = f"assert {rng.randrange(1000)} == {rng.randrange(1000)}"
    trace = TRACE.format(name=case.name, a=rng.randrange(9), b=rng.randrange(9), message=message)
    return failure_type, message, trace, failure_fingerprint(failure_type, message)


def fails(case: CaseSpec, run: RunSpec, history: History, rng: random.Random) -> str | None:
    """Why this execution fails (a failure kind), or ``None`` when it passes."""
    if case.kind in ("flaky", "retry") and rng.random() < case.fail_p:
        return "timeout" if case.id % 2 else "assertion"
    broken = {
        # kind: (where it fails, from, until)
        "broken": (run.branch == MAIN, history.broken_since, history.broken_until),
        "job_failing": (run.job == JOBS[0], history.job_failing_since, history.end_of_time),
        "branch_broken": (
            run.branch == BRANCHES[1][0],
            history.branch_broken_since,
            history.branch_broken_until,
        ),
    }
    if case.kind in broken:
        there, since, until = broken[case.kind]
        if there and since <= run.started_at < until:
            return "assertion"
    if rng.random() < ONE_OFF_FAILURE:
        return "assertion"
    return None


def run_results(history: History, run: RunSpec) -> list[tuple]:
    """Every result of one run; sets ``run.totals`` as ingest would count them."""
    rng = random.Random(f"{history.seed}-{history.scale.runs}-{history.scale.cases}-{run.id}")
    rows = []
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    retry_flakes = 0
    seconds = 0.0
    for case in history.cases:
        if case.kind == "new" and run.started_at < history.new_since:
            continue
        if case.kind == "skipped":
            rows.append((run.id, case.id, "skipped", 0.0, 1, False, None, None, None, None))
            counts["skipped"] += 1
            continue
        duration = case.base_s * rng.uniform(0.85, 1.15)
        if case.kind == "slowdown" and run.started_at >= history.slowdown_since:
            duration = duration * 2 + 0.3
        why = "infrastructure" if run.infrastructure and rng.random() < INFRA_FAIL_SHARE else None
        why = why or fails(case, run, history, rng)
        if why is None:
            rows.append((run.id, case.id, "passed", duration, 1, False, None, None, None, None))
            counts["passed"] += 1
        elif case.kind == "retry" and why != "infrastructure" and rng.random() < RETRY_PASS_SHARE:
            duration *= 2
            rows.append((run.id, case.id, "passed", duration, 2, True, None, None, None, None))
            counts["passed"] += 1
            retry_flakes += 1
        else:
            outcome = "error" if why == "infrastructure" else "failed"
            if why == "infrastructure":
                duration = rng.uniform(0.001, 0.01)
            rows.append((run.id, case.id, outcome, duration, 1, False, *failure(case, why, rng)))
            counts[outcome] += 1
        seconds += duration
    run.totals = {
        "tests": sum(counts.values()),
        "passed": counts["passed"],
        "failed": counts["failed"],
        "errors": counts["error"],
        "skipped": counts["skipped"],
        "retry_flakes": retry_flakes,
        "case_seconds": seconds,
        "wall_seconds": seconds / 4 + 30.0,
    }
    return rows


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    lines: int
    branches: int
    line_rate: float
    branch_rate: float


def plan_sources(history: History) -> list[SourceFile]:
    rng = random.Random(f"{history.seed}-sources-{history.scale.cases}")
    count = max(5, round(history.scale.cases * COVERAGE_FILES_PER_CASE))
    return [
        SourceFile(
            path=f"src/app/pkg_{index // 25}/module_{index}.py",
            lines=rng.randrange(40, 600),
            branches=rng.randrange(4, 120),
            line_rate=rng.uniform(0.6, 0.98),
            branch_rate=rng.uniform(0.4, 0.95),
        )
        for index in range(count)
    ]


def coverage_rows(
    report_id: int, run: RunSpec, sources: list[SourceFile], history: History
) -> list[tuple]:
    """One run's files: rates drift a little over time and differ by branch."""
    progress = (run.started_at - history.start) / (history.now - history.start)
    shift = 0.02 if run.branch != MAIN else 0.0
    rows = []
    for number, source in enumerate(sources):
        wobble = 0.03 * math.sin(number + progress * 6)
        line_rate = min(max(source.line_rate + wobble + shift, 0.0), 1.0)
        branch_rate = min(max(source.branch_rate + wobble - shift + 0.05 * progress, 0.0), 1.0)
        rows.append(
            (
                report_id,
                source.path,
                source.lines,
                round(source.lines * line_rate),
                source.branches,
                round(source.branches * branch_rate),
            )
        )
    return rows


# --- writing it, in bulk -------------------------------------------------------------------


class BulkWriter:
    """Bulk-loads rows through the app's engine: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, connection, dialect: str) -> None:
        self.connection = connection  # a DB-API connection
        self.dialect = dialect

    def write(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if not rows:
            return
        cursor = self.connection.cursor()
        try:
            if self.dialect == "postgresql":
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
                )
        finally:
            cursor.close()


def bench_config(url: URL, instance: Path) -> dict:
    """A production-like app (no debug, no testing) on ``url``."""
    settings = Config(
        environ={
            "DATABASE_URL": url.render_as_string(hide_password=False),
            "SECRET_KEY": "bench-pages",
            "SUITESCOPE_INSTANCE_DIR": str(instance),
            "SUITESCOPE_DEMO": "0",
        }
    ).as_dict()
    return settings


def build_app(url: URL, instance: Path) -> Flask:
    return create_app(bench_config(url, instance))


@dataclass(frozen=True, slots=True)
class Targets:
    """The ids a history's pages are requested with."""

    run_id: int  # the latest run with (non-infrastructure) failures
    case_id: int  # a flaky test


@dataclass(frozen=True, slots=True)
class Built:
    scale: Scale
    engine: str
    url: URL
    targets: Targets
    seconds: float | None  # None when a kept database was reused
    rollup_seconds: float | None


def build_history(app: Flask, history: History) -> Targets:
    """Migrate the empty database and load ``history`` into it, rollups included."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        dialect = db.engine.dialect.name
        write_reference_rows(history)
        db.session.commit()
        raw = db.engine.raw_connection()
        try:
            if dialect == "sqlite":
                # Bench-only: the data path is not what is measured.
                raw.driver_connection.execute("PRAGMA synchronous = OFF")
                raw.driver_connection.execute("PRAGMA cache_size = -400000")
                raw.driver_connection.execute("BEGIN")
            writer = BulkWriter(raw.driver_connection, dialect)
            write_results(writer, history)
            write_coverage(writer, history)
            raw.driver_connection.commit()
        finally:
            raw.close()
        write_run_totals(history)
        db.session.commit()
        db.session.remove()
        settle(dialect)
        return targets_of(history)


def settle(dialect: str) -> None:
    """Leave the database as a long-lived one would be after bulk writes: PostgreSQL
    vacuumed and analysed (autovacuum would), SQLite's write-ahead log checkpointed."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if dialect == "postgresql":
            connection.exec_driver_sql("VACUUM ANALYZE")
        else:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def write_reference_rows(history: History) -> None:
    """Project, cases, runs (totals later), uploads, quarantines and an admin."""
    session = db.session
    project = Project(slug=SLUG, name="Bench", default_branch=MAIN)
    session.add(project)
    session.flush()
    session.execute(
        insert(Case),
        [
            {
                "id": case.id,
                "project_id": project.id,
                "file": case.file,
                "classname": case.classname,
                "name": case.name,
                "suite": "",
                "identity": Case.identity_of(case.file, case.classname, case.name),
                "first_seen_at": history.first_seen(case),
            }
            for case in history.cases
        ],
    )
    session.execute(
        insert(Run),
        [
            {
                "id": run.id,
                "project_id": project.id,
                "build": run.build,
                "job": run.job,
                "commit_sha": run.commit,
                "branch": run.branch,
                "build_url": f"https://ci.example.com/{run.build}/{run.job}",
                "started_at": run.started_at,
                "created_at": run.started_at + timedelta(minutes=20),
            }
            for run in history.runs
        ],
    )
    uploads = [
        {
            "run_id": run.id,
            "filename": "junit.xml",
            "kind": "tests",
            "format": "junit",
            "size_bytes": history.scale.cases * 300,
            "sha256": hashlib.sha256(f"tests-{run.id}".encode()).hexdigest(),
            "received_at": run.started_at + timedelta(minutes=20),
            "cases": history.scale.cases,
            "wall_seconds": None,
            "warnings": [],
        }
        for run in history.runs
    ]
    uploads += [
        {
            **upload,
            "filename": "coverage.xml",
            "kind": "coverage",
            "format": "cobertura",
            "sha256": hashlib.sha256(f"coverage-{upload['run_id']}".encode()).hexdigest(),
            "cases": 0,
        }
        for upload, run in zip(uploads, history.runs, strict=True)
        if run.coverage
    ]
    session.execute(insert(Upload), uploads)
    flaky = [case for case in history.cases if case.kind in ("flaky", "retry")]
    for case in flaky[:QUARANTINED]:
        session.add(
            Quarantine(
                project_id=project.id,
                case_id=case.id,
                reason="flaky on CI, tracked in BENCH-1",
                created_by="bench",
                created_at=history.now - timedelta(days=5),
            )
        )
    session.add(User(username="bench-admin", password_hash="not-used", is_admin=True))
    if session.get_bind().dialect.name == "postgresql":
        for table in ("case", "run"):
            session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), :value)"),
                {"value": max(1, len(history.cases) if table == "case" else len(history.runs))},
            )


def write_results(writer: BulkWriter, history: History) -> None:
    batch: list[tuple] = []
    for run in history.runs:
        batch.extend(run_results(history, run))
        if len(batch) >= 50_000:
            writer.write("result", RESULT_COLUMNS, batch)
            batch = []
    writer.write("result", RESULT_COLUMNS, batch)


COVERAGE_REPORT_COLUMNS = (
    "id",
    "run_id",
    "format",
    "lines_valid",
    "lines_covered",
    "branches_valid",
    "branches_covered",
)
COVERAGE_FILE_COLUMNS = (
    "report_id",
    "path",
    "lines_valid",
    "lines_covered",
    "branches_valid",
    "branches_covered",
)


def write_coverage(writer: BulkWriter, history: History) -> None:
    sources = plan_sources(history)
    reports, files = [], []
    for run in history.runs:
        if not run.coverage:
            continue
        report_id = len(reports) + 1
        rows = coverage_rows(report_id, run, sources, history)
        files.extend(rows)
        # Totals as ingest sums them (refresh_coverage_totals).
        reports.append(
            (
                report_id,
                run.id,
                "cobertura",
                sum(r[2] for r in rows),
                sum(r[3] for r in rows),
                sum(r[4] for r in rows),
                sum(r[5] for r in rows),
            )
        )
    writer.write("coverage_report", COVERAGE_REPORT_COLUMNS, reports)
    writer.write("coverage_file", COVERAGE_FILE_COLUMNS, files)
    if writer.dialect == "postgresql" and reports:
        cursor = writer.connection.cursor()
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('coverage_report', 'id'), %s)", (len(reports),)
        )
        cursor.close()


def write_run_totals(history: History) -> None:
    db.session.execute(
        Run.__table__.update().where(Run.__table__.c.id == db.bindparam("run_id")),
        [{"run_id": run.id, **run.totals} for run in history.runs],
    )


def targets_of(history: History) -> Targets:
    latest_failed = max(
        (
            run
            for run in history.runs
            if not run.infrastructure and run.totals["failed"] + run.totals["errors"]
        ),
        key=lambda run: run.started_at,
        default=history.runs[-1],
    )
    flaky = next(
        (case for case in history.cases if case.kind in ("flaky", "retry")), history.cases[0]
    )
    return Targets(run_id=latest_failed.id, case_id=flaky.id)


def refresh_rollups(app: Flask) -> float | None:
    """Build the rollups with ingest's own refresh; the seconds it took (None: none exist)."""
    refresh = getattr(store, "refresh_rollups", None)
    if refresh is None:
        return None
    with app.app_context():
        run_ids = list(db.session.scalars(select(Run.id).order_by(Run.id)))
        timer = Timer()
        refresh(db.session, run_ids)
        db.session.commit()
        seconds = timer.stop()
        db.session.remove()
        settle(db.engine.dialect.name)
    return seconds


# --- the calls measured ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    label: str
    path: str  # with {slug}, {run} and {case} placeholders

    def url(self, targets: Targets) -> str:
        return self.path.format(slug=SLUG, run=targets.run_id, case=targets.case_id)


CALLS = (
    Call("projects", "/"),
    Call("overview", "/p/{slug}"),
    Call("overview chart", "/p/{slug}/overview/health.json"),
    Call("flaky", "/p/{slug}/flaky"),
    Call("durations", "/p/{slug}/durations"),
    Call("durations chart", "/p/{slug}/durations/wall-time.json"),
    Call("coverage", "/p/{slug}/coverage"),
    Call("coverage trend", "/p/{slug}/coverage/trend.json"),
    Call("coverage treemap", "/p/{slug}/coverage/treemap.json"),
    Call("runs", "/p/{slug}/runs"),
    Call("run detail", "/p/{slug}/runs/{run}"),
    Call("run results", "/p/{slug}/runs/{run}/results?q=test_&page=2"),
    Call("compare", "/p/{slug}/compare?head={run}"),
    Call("test history", "/p/{slug}/tests/{case}"),
    Call("test chart", "/p/{slug}/tests/{case}/durations.json"),
    Call("tests", "/p/{slug}/tests?q=test_&page=2"),
    Call("settings", "/p/{slug}/settings"),
    Call("api projects", "/api/v1/projects"),
    Call("api runs", "/api/v1/projects/{slug}/runs"),
    Call("api run", "/api/v1/projects/{slug}/runs/{run}"),
    Call("api run results", "/api/v1/projects/{slug}/runs/{run}/results?sort=-duration"),
    Call("api flaky", "/api/v1/projects/{slug}/flaky"),
    Call("api durations", "/api/v1/projects/{slug}/durations"),
    Call("api coverage", "/api/v1/projects/{slug}/coverage"),
    Call("api history", "/api/v1/projects/{slug}/tests/{case}/history"),
    Call("api tests", "/api/v1/projects/{slug}/tests?q=test_&page=2"),
    Call("api quarantine", "/api/v1/projects/{slug}/quarantine"),
)


def signed_in_client(app: Flask):
    """A test client with the bench admin's session (settings is for signed-in users)."""
    from dashboard.access import FINGERPRINT_KEY, SESSION_KEY, password_fingerprint

    client = app.test_client()
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "bench-admin"))
        with client.session_transaction() as session:
            session[SESSION_KEY] = admin.id
            session[FINGERPRINT_KEY] = password_fingerprint(admin)
        db.session.remove()
    return client


def timed_get(client, url: str) -> float:
    timer = Timer()
    response = client.get(url)
    seconds = timer.stop()
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return seconds * 1000


def measure(
    apps: dict[str, tuple[Flask, Targets]], requests: int
) -> dict[tuple[str, str], list[float]]:
    """Milliseconds per (call, scale): one warm-up each, then ``requests`` rounds of
    every call on every scale, the order turning each round."""
    clients = {scale: signed_in_client(app) for scale, (app, _) in apps.items()}
    scales = list(apps)
    for call in CALLS:
        for scale in scales:
            timed_get(clients[scale], call.url(apps[scale][1]))
    # As wsgi.py does once the app is loaded: what exists now lives as long as the
    # process, and stays out of the collector's full passes.
    gc.collect()
    gc.freeze()
    try:
        return measure_rounds(apps, clients, requests)
    finally:
        gc.unfreeze()


def measure_rounds(apps, clients, requests: int) -> dict[tuple[str, str], list[float]]:
    """``requests`` rounds of every call on every scale, timed."""
    scales = list(apps)
    samples: dict[tuple[str, str], list[float]] = {
        (call.label, scale): [] for call in CALLS for scale in apps
    }
    for round_number in range(requests):
        calls = CALLS[round_number % len(CALLS) :] + CALLS[: round_number % len(CALLS)]
        for call in calls:
            order = scales if round_number % 2 == 0 else scales[::-1]
            for scale in order:
                url = call.url(apps[scale][1])
                samples[(call.label, scale)].append(timed_get(clients[scale], url))
    return samples


# --- databases -------------------------------------------------------------------------------


def keep_marker(scale: Scale) -> dict:
    return {
        "generator": GENERATOR_VERSION,
        "seed": SEED,
        "runs": scale.runs,
        "cases": scale.cases,
    }


def reusable(meta_path: Path, scale: Scale) -> bool:
    if not meta_path.exists():
        return False
    meta = json.loads(meta_path.read_text())
    built_at = datetime.fromisoformat(meta.get("built_at", "1970-01-01T00:00:00+00:00"))
    fresh = datetime.now(UTC) - built_at < KEEP_MAX_AGE
    return fresh and all(meta.get(key) == value for key, value in keep_marker(scale).items())


def write_marker(meta_path: Path, scale: Scale, targets: Targets) -> None:
    meta = {
        **keep_marker(scale),
        "built_at": datetime.now(UTC).isoformat(),
        "run_id": targets.run_id,
        "case_id": targets.case_id,
    }
    meta_path.write_text(json.dumps(meta, indent=2))


def reuse(app: Flask, meta_path: Path) -> Targets:
    """A kept database, brought up to the latest migration, its runs rolled up."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.session.remove()
    seconds = refresh_rollups(app)
    if seconds is not None and seconds > 1:
        print(f"rolled the kept history up in {seconds:.0f} s", file=sys.stderr, flush=True)
    meta = json.loads(meta_path.read_text())
    return Targets(run_id=meta["run_id"], case_id=meta["case_id"])


@contextmanager
def history_database(
    engine: str, scale: Scale, workdir: Path, keep: Path | None, server: URL | None
) -> Iterator[tuple[URL, Path | None]]:
    """The database of one history, and where its keep-marker lives (None: throwaway)."""
    name = f"bench_pages_{scale.name}_{scale.runs}x{scale.cases}"
    if engine == "sqlite":
        directory = keep or workdir
        if keep is not None and reusable(keep / f"{name}.json", scale):
            yield make_url(f"sqlite:///{keep / name}.db"), keep / f"{name}.json"
            return
        with sqlite_database(directory, name) as url:
            yield url, (keep / f"{name}.json") if keep else None
        return
    database = f"suitescope_{name}" if keep else f"suitescope_{name}_{os.getpid()}"
    marker = keep / f"postgresql-{name}.json" if keep else None
    if keep is not None and reusable(marker, scale) and postgres_exists(server, database):
        yield server.set(database=database), marker
        return
    if keep is not None:
        yield recreate_postgres_database(server, database), marker
        return
    with postgres_database(server, database) as url:
        yield url, None


def recreate_postgres_database(server: URL, database: str) -> URL:
    """A new empty database that outlives the run (``--keep``)."""
    from sqlalchemy import create_engine

    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{database}"'))
    finally:
        admin.dispose()
    return server.set(database=database)


def postgres_exists(server: URL, database: str) -> bool:
    from sqlalchemy import create_engine

    admin = create_engine(server)
    try:
        with admin.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
            ).first()
        return found is not None
    finally:
        admin.dispose()


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


# --- the whole run ---------------------------------------------------------------------------


@dataclass
class EngineReport:
    engine: str
    built: list[Built]
    samples: dict[tuple[str, str], list[float]]

    def p(self, call: str, scale: str, pct: float) -> float | None:
        values = self.samples.get((call, scale))
        return percentile(values, pct) if values else None

    def growth(self, call: str) -> float | None:
        small, large = self.p(call, "small", 95), self.p(call, "large", 95)
        if small is None or large is None:
            return None
        return large / small

    def worst_large_p95(self) -> tuple[str, float] | None:
        values = [(call.label, self.p(call.label, "large", 95)) for call in CALLS]
        values = [(label, value) for label, value in values if value is not None]
        return max(values, key=lambda item: item[1]) if values else None


def run_engine(
    engine: str,
    scales: list[Scale],
    requests: int,
    workdir: Path,
    keep: Path | None,
    server: URL | None,
) -> EngineReport:
    built: list[Built] = []
    apps: dict[str, tuple[Flask, Targets]] = {}
    with ExitStack() as stack:
        for scale in scales:
            url, marker = stack.enter_context(
                history_database(engine, scale, workdir, keep, server)
            )
            app = build_app(url, workdir / "instance")
            stack.callback(dispose, app)
            if marker is not None and reusable(marker, scale):
                print(f"{engine}: reusing the kept {scale.label()}", file=sys.stderr, flush=True)
                targets = reuse(app, marker)
                built.append(Built(scale, engine, url, targets, None, None))
            else:
                print(f"{engine}: building {scale.label()}...", file=sys.stderr, flush=True)
                timer = Timer()
                history = plan_history(scale, datetime.now(UTC))
                targets = build_history(app, history)
                loaded = timer.lap()
                rollups = refresh_rollups(app)
                seconds = timer.stop()
                print(
                    f"{engine}: built {scale.label()} in {seconds:.0f} s "
                    f"(load {loaded:.0f} s, rollups {format_value(rollups)} s)",
                    file=sys.stderr,
                    flush=True,
                )
                if marker is not None:
                    write_marker(marker, scale, targets)
                built.append(Built(scale, engine, url, targets, seconds, rollups))
            apps[scale.name] = (app, targets)
        print(f"{engine}: measuring {requests} requests per call...", file=sys.stderr, flush=True)
        samples = measure(apps, requests)
    return EngineReport(engine, built, samples)


def format_ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def report_table(reports: list[EngineReport], scales: list[Scale]) -> str:
    header = ["engine", "call"]
    for scale in scales:
        header += [f"{scale.name} p50", f"{scale.name} p95"]
    if len(scales) == 2:
        header.append("growth")
    rows = [header]
    for result in reports:
        for call in CALLS:
            row = [result.engine, call.label]
            for scale in scales:
                row += [
                    format_ms(result.p(call.label, scale.name, 50)),
                    format_ms(result.p(call.label, scale.name, 95)),
                ]
            if len(scales) == 2:
                growth = result.growth(call.label)
                row.append("n/a" if growth is None else f"{growth:.2f}x")
            rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def build_lines(reports: list[EngineReport]) -> list[str]:
    lines = []
    for result in reports:
        for built in result.built:
            if built.seconds is None:
                lines.append(f"{result.engine} {built.scale.label()}: kept database reused")
                continue
            rollups = (
                "no rollups"
                if built.rollup_seconds is None
                else f"rollups {built.rollup_seconds:.1f} s"
            )
            lines.append(
                f"{result.engine} {built.scale.label()}: built in {built.seconds:.0f} s "
                f"({built.scale.results:,} results; {rollups})"
            )
    return lines


def summary_line(reports: list[EngineReport]) -> str:
    by_engine = {r.engine: r for r in reports}

    def worst(engine: str) -> float | None:
        result = by_engine.get(engine)
        found = result.worst_large_p95() if result else None
        return found[1] if found else None

    growths = [
        r.growth(call.label) for r in reports for call in CALLS if r.growth(call.label) is not None
    ]
    return result_line(
        "pages",
        sqlite_p95_max_ms=worst("sqlite"),
        postgresql_p95_max_ms=worst("postgresql"),
        growth_max=max(growths) if growths else None,
    )


def target_lines(reports: list[EngineReport]) -> list[str]:
    lines = []
    for result in reports:
        found = result.worst_large_p95()
        if found:
            label, value = found
            over = [
                call.label
                for call in CALLS
                if (result.p(call.label, "large", 95) or 0) > TARGET_P95_MS
            ]
            verdict = "met" if not over else f"MISSED by {', '.join(over)}"
            lines.append(
                f"  {result.engine} p95 <= {TARGET_P95_MS:g} ms at large: {verdict} "
                f"(worst: {label}, {value:.1f} ms)"
            )
        growths = [(call.label, result.growth(call.label)) for call in CALLS]
        growths = [(label, g) for label, g in growths if g is not None]
        if growths:
            label, value = max(growths, key=lambda item: item[1])
            verdict = "met" if value <= TARGET_GROWTH else "MISSED"
            lines.append(
                f"  {result.engine} growth <= {TARGET_GROWTH:g}: {verdict} "
                f"(worst: {label}, {value:.2f}x)"
            )
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pages",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            f"Set {POSTGRES_URL_VARIABLE} to a server URL (e.g. {POSTGRES_URL_EXAMPLE}) "
            "to measure PostgreSQL too."
        ),
    )
    parser.add_argument("--scale", choices=("small", "large", "both"), default="both")
    parser.add_argument(
        "--requests",
        type=positive_int,
        default=DEFAULT_REQUESTS,
        help=f"timed requests per call and history (default: {DEFAULT_REQUESTS})",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help=(
            "keep the built databases (SQLite files in DIR; PostgreSQL databases are "
            "kept under fixed names, their markers in DIR) and reuse them while they "
            f"are less than {KEEP_MAX_AGE.total_seconds() / 3600:.0f} hours old"
        ),
    )
    parser.add_argument(
        "--engines",
        default="sqlite,postgresql",
        help="comma-separated engines to measure (default: sqlite,postgresql)",
    )
    parser.add_argument("--runs", type=positive_int, help="runs of the large history")
    parser.add_argument("--cases", type=positive_int, help="cases of the large history")
    parser.add_argument("--small-runs", type=positive_int, help="runs of the small history")
    parser.add_argument("--small-cases", type=positive_int, help="cases of the small history")
    return parser.parse_args(argv)


def chosen_scales(args: argparse.Namespace) -> list[Scale]:
    small, large = SCALES["small"], SCALES["large"]
    large = Scale("large", args.runs or large.runs, args.cases or large.cases)
    small = Scale(
        "small",
        args.small_runs or min(small.runs, large.runs),
        args.small_cases or min(small.cases, large.cases),
    )
    return {"small": [small], "large": [large], "both": [small, large]}[args.scale]


@contextmanager
def scratch_directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="suitescope-bench-pages-") as directory:
        yield Path(directory)


def calibration_ms() -> float:
    """A fixed pure-Python loop, to put the figures of a run on a shared machine in
    context (the median of three)."""
    times = []
    for _ in range(3):
        timer = Timer()
        sum(range(10_000_000))
        times.append(timer.stop() * 1000)
    return median(times)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    calibration = calibration_ms()
    scales = chosen_scales(args)
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    server, skipped = postgres_server(os.environ)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    reports: list[EngineReport] = []
    with scratch_directory() as workdir:
        if "sqlite" in engines:
            reports.append(run_engine("sqlite", scales, args.requests, workdir, args.keep, None))
        if "postgresql" in engines and server is not None:
            reports.append(
                run_engine("postgresql", scales, args.requests, workdir, args.keep, server)
            )
    print("Build:")
    print("\n".join(f"  {line}" for line in build_lines(reports)))
    print(f"Calibration: 10 million additions in a Python loop took {calibration:.0f} ms")
    print(f"Server time per call in ms, {args.requests} requests each (p50, p95):")
    print()
    print(report_table(reports, scales))
    print()
    print("Targets:")
    print("\n".join(target_lines(reports)))
    if "postgresql" not in engines:
        print("PostgreSQL skipped: not among --engines")
    elif server is None:
        print(f"PostgreSQL skipped: {skipped}")
    print(summary_line(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
