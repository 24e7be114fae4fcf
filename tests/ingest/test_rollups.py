"""The rollups stay equal to a recount from the results, whatever order uploads come in.

Every scenario stores uploads through ``pipeline.store_prepared`` (the code path of
``ingest_upload``) and then compares ``case_week`` and ``case_day`` with figures
recomputed here, independently, from ``result`` and ``run``.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dashboard.models import (
    CaseDay,
    CaseWeek,
    Result,
    Run,
    infrastructure_verdict,
    utc_day,
    week_of,
)
from ingest import store
from ingest.pipeline import PreparedFile, UploadMeta, store_prepared
from ingest.records import ParsedCase, ParsedTestReport
from tests.factories import CaseFactory, ProjectFactory, ResultFactory, RunFactory

# A Sunday evening: an hour earlier is the same day, a day later is the next week.
SUNDAY = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)


def upload(db_session, project, build: str, cases: list[ParsedCase], started_at=SUNDAY, **meta):
    """One upload of one JUnit report, stored as ``ingest_upload`` stores it."""
    report = ParsedTestReport(cases=cases)
    digest = hashlib.sha256(repr((build, started_at, cases)).encode()).hexdigest()
    prepared = PreparedFile(name="junit.xml", sha256=digest, size_bytes=1, report=report)
    meta = UploadMeta(build=build, started_at=started_at, branch="main", **meta)
    outcome = store_prepared(db_session, project.id, meta, started_at, [prepared])
    db_session.flush()
    return db_session.get(Run, outcome.run_id)


def case(name: str, outcome: str = "passed", seconds: float = 0.1, **fields) -> ParsedCase:
    return ParsedCase(
        name, "tests.mod", "tests/mod.py", outcome=outcome, duration_s=seconds, **fields
    )


def recount(db_session, project_id: int) -> tuple[dict, dict]:
    """(weeks, days) as the rollups should hold them, computed from the results."""
    rows = db_session.execute(
        select(Run, Result.case_id, Result.outcome, Result.duration_s)
        .join(Result, Result.run_id == Run.id)
        .where(Run.project_id == project_id, Result.outcome != "skipped")
    ).all()
    weeks: dict = defaultdict(
        lambda: {"executions": 0, "timed": 0, "seconds": 0.0, "seconds_sq": 0.0, "all": []}
    )
    days: dict = defaultdict(list)
    for run, case_id, _outcome, seconds in rows:
        day = utc_day(run.started_at)
        week = weeks[(week_of(day), case_id)]
        week["executions"] += 1
        if not infrastructure_verdict(run):
            week["timed"] += 1
            week["seconds"] += seconds
            week["seconds_sq"] += seconds * seconds
            week["all"].append(seconds)
            days[(case_id, day)].append(CaseDay.run_tag(run.id) + CaseDay.bucket_char(seconds))
    return weeks, days


def assert_rollups_match(db_session, project) -> None:
    expected_weeks, expected_days = recount(db_session, project.id)
    stored_weeks = {
        (row.week, row.case_id): row
        for row in db_session.scalars(select(CaseWeek).where(CaseWeek.project_id == project.id))
    }
    for key in set(stored_weeks) | set(expected_weeks):
        stored, expected = stored_weeks.get(key), expected_weeks.get(key)
        if expected is None:  # every figure taken out again
            assert (stored.executions, stored.timed) == (0, 0), key
            continue
        assert stored is not None, key
        assert (stored.executions, stored.timed) == (expected["executions"], expected["timed"]), key
        assert stored.seconds == pytest.approx(expected["seconds"], abs=1e-9), key
        assert stored.seconds_sq == pytest.approx(expected["seconds_sq"], abs=1e-9), key
        if expected["all"]:  # min and max bound the samples (they only ever widen)
            assert stored.min_s <= min(expected["all"])
            assert stored.max_s >= max(expected["all"])
    case_ids = {case_id for _, case_id in expected_weeks} | {c for _, c in stored_weeks}
    stored_days = {
        (row.case_id, row.day): row
        for row in db_session.scalars(select(CaseDay).where(CaseDay.case_id.in_(case_ids)))
    }
    for key in set(stored_days) | set(expected_days):
        stored = stored_days.get(key)
        assert stored is None or len(stored.runs) == len(stored.buckets), key
        pairs = (
            Counter(map("".join, zip(stored.runs, stored.buckets, strict=True)))
            if stored
            else Counter()
        )
        assert pairs == Counter(expected_days.get(key, [])), key


@pytest.fixture
def project(db_session):
    return ProjectFactory()


def test_a_first_upload_rolls_the_run_up(db_session, project):
    run = upload(
        db_session,
        project,
        "1",
        [case("a", seconds=0.5), case("b", "failed"), case("c", "skipped")],
    )
    assert run.is_rolled_up
    assert_rollups_match(db_session, project)
    week = db_session.scalars(select(CaseWeek).where(CaseWeek.project_id == project.id)).all()
    assert sorted(row.executions for row in week) == [1, 1]  # the skipped case counts for nothing


def test_a_later_upload_locks_the_rows_it_updates_in_key_order(db_session, project, count_queries):
    """Concurrent uploads of a project update the same week and day rows: each takes
    their locks in key order, so two never wait on each other in a cycle (seen as
    "deadlock detected" under ``bench.load`` before). A later upload merges each
    table with one ``INSERT ... ON CONFLICT DO UPDATE`` over rows sorted by the key,
    and PostgreSQL locks each existing row when it reaches it: in key order. An
    ``UPDATE`` joined to the rows would lock them in its plan's order instead."""
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite's writers hold the whole database; there are no row locks")
    upload(db_session, project, "1", [case("b"), case("a")])
    with count_queries.watching() as queries:
        upload(db_session, project, "2", [case("b"), case("a")])
    for table, key in [
        ("case_week", "project_id, week, case_id"),
        ("case_day", "case_id, day"),
    ]:
        writes = [
            q
            for q in queries.statements
            if q.startswith(("INSERT", "UPDATE", "WITH")) and table in q
        ]
        assert writes, f"the upload left {table} alone"
        for write in writes:
            assert write.startswith(f"INSERT INTO {table} "), write
            assert f"ON CONFLICT ({key}) DO UPDATE" in write
            assert f"ORDER BY {key}" in write
    assert_rollups_match(db_session, project)


def test_disjoint_shards_add_up(db_session, project):
    upload(db_session, project, "1", [case("a"), case("b")])
    run = upload(db_session, project, "1", [case("c"), case("d", "failed")])
    assert run.is_rolled_up
    assert run.tests == 4
    assert_rollups_match(db_session, project)


def test_a_shard_merging_into_a_case_replaces_its_figures(db_session, project):
    upload(db_session, project, "1", [case("a", "failed", seconds=1.0), case("b")])
    run = upload(db_session, project, "1", [case("a", seconds=2.0)])  # the retry passed
    assert run.retry_flakes == 1
    assert_rollups_match(db_session, project)


def test_a_case_sent_twice_in_one_upload_is_noted_once(db_session, project):
    upload(db_session, project, "1", [case("a", "failed", seconds=1.0)])
    meta = UploadMeta(build="1", started_at=SUNDAY, branch="main")
    files = [
        PreparedFile(
            f"junit-{n}.xml", f"{n:064d}", 1, ParsedTestReport(cases=[case("a", seconds=n)])
        )
        for n in (2, 3)
    ]
    store_prepared(db_session, project.id, meta, SUNDAY, files)
    assert_rollups_match(db_session, project)


def test_an_earlier_shard_moves_the_run_to_its_day_and_week(db_session, project):
    upload(db_session, project, "1", [case("a", seconds=1.0), case("b")], started_at=SUNDAY)
    monday = SUNDAY + timedelta(hours=1)
    run = upload(db_session, project, "2", [case("a", seconds=3.0)], started_at=monday)
    assert utc_day(run.started_at) != utc_day(SUNDAY)
    # A shard of build 2 that started before midnight: the run moves to Sunday.
    run = upload(db_session, project, "2", [case("b"), case("c")], started_at=SUNDAY)
    assert run.started_at == SUNDAY
    assert run.is_rolled_up
    assert_rollups_match(db_session, project)


def test_a_shard_that_makes_the_run_an_infrastructure_failure(db_session, project):
    upload(db_session, project, "1", [case("a"), case("b", seconds=0.4)])
    broken = [case(f"x{n}", "error") for n in range(20)]
    run = upload(db_session, project, "1", broken)
    assert run.is_infrastructure_failure
    assert run.rollup_infra
    assert_rollups_match(db_session, project)
    # ... and one that makes it an ordinary failing run again.
    run = upload(db_session, project, "1", [case(f"y{n}") for n in range(40)])
    assert not run.is_infrastructure_failure
    assert run.rollup_infra is False
    assert_rollups_match(db_session, project)


def test_a_duplicate_upload_changes_nothing(db_session, project):
    cases = [case("a"), case("b", "failed")]
    upload(db_session, project, "1", cases)
    upload(db_session, project, "1", cases)
    assert_rollups_match(db_session, project)


def test_a_run_written_without_ingest_is_rolled_up_whole_by_its_next_upload(db_session, project):
    run = RunFactory(project=project, build="1", started_at=SUNDAY)
    ResultFactory(run=run, case=CaseFactory(project=project, name="old"), duration_s=0.3)
    assert not run.is_rolled_up
    run = upload(db_session, project, "1", [case("new")])
    assert run.is_rolled_up
    assert_rollups_match(db_session, project)


def test_refresh_and_rebuild_give_the_same_figures(db_session, project):
    runs = [RunFactory(project=project, started_at=SUNDAY + timedelta(hours=h)) for h in (0, 1, 30)]
    cases = [CaseFactory(project=project) for _ in range(3)]
    for number, run in enumerate(runs):
        for index, one in enumerate(cases):
            outcome = "skipped" if index == 2 and number == 0 else "passed"
            ResultFactory(run=run, case=one, outcome=outcome, duration_s=0.1 * (index + number))
    db_session.flush()
    for run in runs:
        store.refresh_run_totals(db_session, run)
    assert store.refresh_rollups(db_session, [r.id for r in runs]) == 3
    assert store.refresh_rollups(db_session, [r.id for r in runs]) == 0  # done already
    assert_rollups_match(db_session, project)
    assert store.rebuild_rollups(db_session, project.id) == 3
    assert_rollups_match(db_session, project)


@pytest.mark.parametrize("seconds", [0.0, 1e-7, 1e-6, 0.001, 0.0123, 0.1, 1.0, 12.5, 3600.0, 1e9])
def test_the_database_buckets_durations_as_python_does(db_session, seconds):
    from sqlalchemy import literal

    char = db_session.scalar(select(store.bucket_char(db_session, literal(seconds))))
    assert char == CaseDay.bucket_char(seconds)


def test_a_bucket_stands_for_its_durations_within_a_quarter_percent():
    for seconds in (1e-6, 0.0123, 0.5, 1.0, 7.25, 600.0):
        value = CaseDay.bucket_value(CaseDay.bucket(seconds))
        assert math.isclose(value, seconds, rel_tol=0.0025)
    assert CaseDay.bucket_value(CaseDay.bucket(0.0)) == 0.0


# --- any order of uploads -------------------------------------------------------------

shard = st.lists(
    st.tuples(
        st.sampled_from("abcdefgh"),
        st.sampled_from(["passed", "passed", "failed", "error", "skipped"]),
        st.sampled_from([0.0, 0.05, 0.1, 1.5]),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda item: item[0],  # a parsed report names each case once
)
uploads = st.lists(
    st.tuples(st.sampled_from(["1", "2", "3"]), st.sampled_from([-25, -1, 0, 2]), shard),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(uploads=uploads)
def test_any_sequence_of_uploads_keeps_the_rollups_equal_to_a_recount(db_session, uploads):
    project = ProjectFactory()
    for build, hours, cases in uploads:
        started_at = SUNDAY + timedelta(hours=hours)
        upload(db_session, project, build, [case(n, o, s) for n, o, s in cases], started_at)
    assert_rollups_match(db_session, project)
    runs = db_session.scalars(select(Run).where(Run.project_id == project.id)).all()
    assert all(run.is_rolled_up for run in runs)


@pytest.fixture
def other_connection(db_session, database_url):
    """A second PostgreSQL connection, outside the test's transaction, that gives
    up on any lock after 50 ms."""
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite's writers hold the whole database; there is no lock to share")
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        connection.execute(text("SET lock_timeout = '50ms'"))
        yield connection
        connection.rollback()
    engine.dispose()


def test_concurrent_uploads_of_a_project_take_its_rollups_in_turn(
    db_session, project, other_connection
):
    """An upload that rolls up holds its project's rollup lock until it commits;
    another project's uploads go on."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    upload(db_session, project, "1", [case("a")])  # the test's transaction stays open
    other = Session(bind=other_connection)
    with pytest.raises(OperationalError, match="lock timeout"):
        store.lock_rollups(other, [project.id])
    other_connection.rollback()
    store.lock_rollups(other, [project.id + 1])
