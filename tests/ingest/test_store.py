"""ingest.store: bulk writes of parsed reports, shard merging, coverage totals."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from dashboard.models import Case, CoverageFile, CoverageReport, Result, Run
from ingest import store
from ingest.fingerprint import failure_fingerprint
from ingest.records import ParsedCase, ParsedCoverage, ParsedCoverageFile, ParsedTestReport
from tests.factories import BASE_TIME, CaseFactory, ProjectFactory, RunFactory


def make_run(db_session, project, build="b1", job="default", started_at=BASE_TIME) -> Run:
    run, _ = store.get_or_create_run(
        db_session,
        project.id,
        build=build,
        job=job,
        started_at=started_at,
        commit="abc",
        branch="main",
        build_url=None,
    )
    return run


def report(*cases: ParsedCase, wall: float | None = None) -> ParsedTestReport:
    return ParsedTestReport(cases=list(cases), wall_seconds=wall)


def results_by_name(db_session, run: Run) -> dict[str, Result]:
    rows = db_session.execute(
        select(Case.name, Result).join(Result.case).where(Result.run_id == run.id)
    ).all()
    return dict(rows)


def test_a_report_stores_cases_results_and_totals(db_session):
    project = ProjectFactory()
    run = make_run(db_session, project)
    store.store_test_report(
        db_session,
        run,
        report(
            ParsedCase("test_ok", "pkg.mod", "pkg/mod.py", duration_s=0.5),
            ParsedCase(
                "test_bad",
                "pkg.mod",
                "pkg/mod.py",
                outcome="failed",
                failure_type="AssertionError",
                message="assert 41 == 42",
            ),
            ParsedCase("test_skip", "pkg.mod", "pkg/mod.py", outcome="skipped"),
            ParsedCase("test_retry", "pkg.mod", "pkg/mod.py", attempts=3, retry_flake=True),
            wall=4.0,
        ),
    )
    store.refresh_run_totals(db_session, run)
    assert (run.tests, run.passed, run.failed, run.errors, run.skipped) == (4, 2, 1, 0, 1)
    assert run.retry_flakes == 1
    assert run.wall_seconds == 4.0
    assert run.case_seconds == pytest.approx(0.5)
    stored = results_by_name(db_session, run)
    assert stored["test_bad"].fingerprint is not None
    assert stored["test_ok"].fingerprint is None
    assert stored["test_retry"].attempts == 3


def test_failure_details_land_on_their_own_case_whatever_its_outcome(db_session):
    """Details are staged apart from the cases (most have none): each must come
    back on its own case, and every failure gets a fingerprint, even a bare one."""
    run = make_run(db_session, ProjectFactory())
    store.store_test_report(
        db_session,
        run,
        report(
            ParsedCase("test_pass", "m", "m.py"),
            ParsedCase("test_bare_failure", "m", "m.py", outcome="failed"),
            ParsedCase(
                "test_error", "m", "m.py", outcome="error",
                failure_type="OSError", message="disk full", trace="Traceback: disk",
            ),
            ParsedCase(
                "test_skip", "m", "m.py", outcome="skipped",
                message="needs redis", trace="conftest.py:12",
            ),
            ParsedCase(
                "test_flake", "m", "m.py", attempts=2, retry_flake=True,
                failure_type="AssertionError", message="timing",
            ),
            ParsedCase("test_last", "m", "m.py"),
        ),
    )  # fmt: skip
    stored = results_by_name(db_session, run)
    details = {
        name: (r.outcome, r.failure_type, r.message, r.trace, r.fingerprint, r.retry_flake)
        for name, r in stored.items()
    }
    assert details == {
        "test_pass": ("passed", None, None, None, None, False),
        "test_bare_failure": (
            "failed", None, None, None, failure_fingerprint(None, None), False,
        ),
        "test_error": (
            "error", "OSError", "disk full", "Traceback: disk",
            failure_fingerprint("OSError", "disk full"), False,
        ),
        "test_skip": ("skipped", None, "needs redis", "conftest.py:12", None, False),
        "test_flake": ("passed", "AssertionError", "timing", None, None, True),
        "test_last": ("passed", None, None, None, None, False),
    }  # fmt: skip


def test_a_later_shards_failure_details_reach_the_merged_result(db_session):
    run = make_run(db_session, ProjectFactory())
    store.store_test_report(db_session, run, report(ParsedCase("test_x", "a", "a.py")))
    store.store_test_report(
        db_session,
        run,
        report(
            ParsedCase("test_y", "a", "a.py"),
            ParsedCase("test_x", "a", "a.py", outcome="failed", message="boom", trace="t"),
        ),
    )
    merged = results_by_name(db_session, run)
    assert (merged["test_x"].message, merged["test_x"].trace) == ("boom", "t")
    assert merged["test_x"].fingerprint == failure_fingerprint(None, "boom")
    assert merged["test_y"].message is None


def test_known_cases_are_reused_and_keep_their_first_sighting(db_session):
    project = ProjectFactory()
    known = CaseFactory(
        project=project,
        file="a.py",
        classname="a",
        name="test_x",
        first_seen_at=BASE_TIME - timedelta(days=3),
    )
    later = make_run(db_session, project, build="b2", started_at=BASE_TIME)
    store.store_test_report(db_session, later, report(ParsedCase("test_x", "a", "a.py")))
    assert db_session.scalar(select(func.count()).select_from(Case)) == 1
    earlier = make_run(db_session, project, build="b0", started_at=BASE_TIME - timedelta(days=9))
    store.store_test_report(db_session, earlier, report(ParsedCase("test_x", "a", "a.py")))
    db_session.refresh(known)
    assert known.first_seen_at == BASE_TIME - timedelta(days=9)


def test_the_same_identity_in_another_project_is_another_case(db_session):
    first, second = ProjectFactory(), ProjectFactory()
    for project in (first, second):
        store.store_test_report(
            db_session, make_run(db_session, project), report(ParsedCase("test_x", "a", "a.py"))
        )
    assert db_session.scalar(select(func.count()).select_from(Case)) == 2


@pytest.mark.parametrize(
    ("first", "second", "outcome", "retry_flake"),
    [
        ("failed", "passed", "passed", True),
        ("passed", "error", "passed", True),
        ("failed", "error", "error", False),
        ("skipped", "failed", "failed", False),
        ("skipped", "skipped", "skipped", False),
        ("passed", "skipped", "passed", False),
    ],
)
def test_shards_reporting_the_same_case_merge(db_session, first, second, outcome, retry_flake):
    project = ProjectFactory()
    run = make_run(db_session, project)
    for result in (first, second):
        store.store_test_report(
            db_session, run, report(ParsedCase("test_x", "a", "a.py", outcome=result, duration_s=1))
        )
    store.refresh_run_totals(db_session, run)
    merged = results_by_name(db_session, run)["test_x"]
    assert (merged.outcome, merged.retry_flake, merged.attempts) == (outcome, retry_flake, 2)
    assert merged.duration_s == 2
    assert run.tests == 1


def test_get_or_create_run_merges_shards_and_keeps_the_earliest_start(db_session):
    project = ProjectFactory()
    first = make_run(db_session, project, started_at=BASE_TIME)
    again, created = store.get_or_create_run(
        db_session,
        project.id,
        build="b1",
        job="default",
        started_at=BASE_TIME - timedelta(minutes=5),
        commit=None,
        branch=None,
        build_url="https://ci.example.org/1",
    )
    assert again.id == first.id
    assert not created
    assert again.started_at == BASE_TIME - timedelta(minutes=5)
    assert again.commit_sha == "abc"
    assert again.build_url == "https://ci.example.org/1"
    other_job = make_run(db_session, project, job="py3.12")
    assert other_job.id != first.id


def test_the_same_bytes_are_recorded_once_per_run(db_session):
    run = make_run(db_session, ProjectFactory())
    fields = {
        "filename": "junit.xml",
        "kind": "tests",
        "format": "junit",
        "size_bytes": 10,
        "sha256": "f" * 64,
        "cases": 1,
        "wall_seconds": None,
        "warnings": [],
    }
    assert store.record_upload(db_session, run, **fields) is True
    assert store.record_upload(db_session, run, **fields) is False
    other_run = make_run(db_session, run.project, build="b2")
    assert store.record_upload(db_session, other_run, **fields) is True


def coverage(*files: ParsedCoverageFile) -> ParsedCoverage:
    return ParsedCoverage(format="cobertura", files=list(files))


def test_coverage_totals_and_missing_branch_data(db_session):
    run = RunFactory()
    warnings = store.store_coverage(
        db_session,
        run,
        coverage(ParsedCoverageFile("a.py", 10, 5, 4, 1), ParsedCoverageFile("b.py", 10, 10)),
    )
    assert warnings == []
    report_row = db_session.scalars(select(CoverageReport)).one()
    assert (report_row.lines_valid, report_row.lines_covered) == (20, 15)
    assert (report_row.branches_valid, report_row.branches_covered) == (4, 1)
    assert report_row.branch_rate == 0.25


def test_coverage_without_any_branch_data_says_so(db_session):
    run = RunFactory()
    store.store_coverage(db_session, run, coverage(ParsedCoverageFile("a.go", 10, 5)))
    report_row = db_session.scalars(select(CoverageReport)).one()
    assert report_row.branches_valid is None
    assert report_row.branch_rate is None
    assert report_row.line_rate == 0.5


def test_coverage_shards_merge_per_file(db_session):
    run = RunFactory()
    store.store_coverage(
        db_session,
        run,
        coverage(ParsedCoverageFile("a.py", 10, 5, 2, 1), ParsedCoverageFile("b.py", 4, 4, 0, 0)),
    )
    warnings = store.store_coverage(
        db_session,
        run,
        coverage(ParsedCoverageFile("a.py", 10, 8, 2, 2), ParsedCoverageFile("c.py", 6, 0, 2, 0)),
    )
    assert "merged" in warnings[0]
    files = {f.path: f for f in db_session.scalars(select(CoverageFile))}
    assert set(files) == {"a.py", "b.py", "c.py"}
    assert (files["a.py"].lines_covered, files["a.py"].branches_covered) == (8, 2)
    report_row = db_session.scalars(select(CoverageReport)).one()
    assert (report_row.lines_valid, report_row.lines_covered) == (20, 12)
    assert (report_row.branches_valid, report_row.branches_covered) == (4, 2)


def skip_unless_postgresql(db_session) -> None:
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite inserts new cases the safe way at once (its writers hold the lock)")


def test_a_race_on_new_cases_falls_back_to_the_safe_insert(db_session, monkeypatch):
    """If a concurrent upload adds the same new cases first, the unique index
    objects to the fast insert; the upload still stores every case exactly once."""
    from contextlib import contextmanager

    from sqlalchemy.exc import IntegrityError

    skip_unless_postgresql(db_session)
    monkeypatch.setattr(store, "ANALYZE_STAGING_FROM", 1)  # the anti-join is for large uploads
    project = ProjectFactory()
    run = make_run(db_session, project)
    CaseFactory(project=project, file="a.py", classname="a", name="test_x")

    @contextmanager
    def lost_race():
        raise IntegrityError("INSERT INTO case ...", {}, Exception("duplicate key"))
        yield  # pragma: no cover

    monkeypatch.setattr(db_session, "begin_nested", lost_race)
    store.store_test_report(
        db_session,
        run,
        report(ParsedCase("test_x", "a", "a.py"), ParsedCase("test_y", "a", "a.py")),
    )
    names = sorted(db_session.scalars(select(Case.name)))
    assert names == ["test_x", "test_y"]
    assert len(results_by_name(db_session, run)) == 2


def test_a_case_a_concurrent_upload_saw_later_keeps_our_earlier_sighting(db_session, monkeypatch):
    """The race's other side: the winner's run started after ours, so the case it
    added must be backdated to our run, as if we had inserted it."""
    from contextlib import contextmanager

    from sqlalchemy.exc import IntegrityError

    skip_unless_postgresql(db_session)
    monkeypatch.setattr(store, "ANALYZE_STAGING_FROM", 1)  # the anti-join is for large uploads
    project = ProjectFactory()
    run = make_run(db_session, project)

    @contextmanager
    def lost_race():
        CaseFactory(
            project=project,
            file="a.py",
            classname="a",
            name="test_x",
            first_seen_at=BASE_TIME + timedelta(hours=1),
        )
        raise IntegrityError("INSERT INTO case ...", {}, Exception("duplicate key"))
        yield  # pragma: no cover

    monkeypatch.setattr(db_session, "begin_nested", lost_race)
    store.store_test_report(db_session, run, report(ParsedCase("test_x", "a", "a.py")))
    case = db_session.scalars(select(Case).where(Case.name == "test_x")).one()
    db_session.refresh(case)
    assert case.first_seen_at == BASE_TIME


def test_a_small_upload_adds_new_cases_in_one_statement_that_skips_known_ones(
    db_session, count_queries
):
    """SQLite checks the unique index on every insert anyway, and PostgreSQL would
    hash every case of the project for an anti-join: no anti-join first. (A large
    upload to PostgreSQL takes the anti-join: see the race tests above.)"""
    project = ProjectFactory()
    known = CaseFactory(project=project, file="a.py", classname="a", name="test_x")
    run = make_run(db_session, project)
    with count_queries.watching() as queries:
        store.store_test_report(
            db_session,
            run,
            report(ParsedCase("test_x", "a", "a.py"), ParsedCase("test_y", "a", "a.py")),
        )
    inserts = [q for q in queries.statements if q.startswith('INSERT INTO "case"')]
    assert len(inserts) == 1
    assert "ON CONFLICT" in inserts[0]
    assert "EXISTS" not in inserts[0]
    cases = dict(db_session.execute(select(Case.name, Case.id)).all())
    assert cases.keys() == {"test_x", "test_y"}
    assert cases["test_x"] == known.id
    assert len(results_by_name(db_session, run)) == 2


def test_a_second_report_for_the_same_run_merges_rather_than_duplicates(db_session):
    project = ProjectFactory()
    run = make_run(db_session, project)
    store.store_test_report(db_session, run, report(ParsedCase("test_x", "a", "a.py")))
    store.store_test_report(
        db_session, run, report(ParsedCase("test_x", "a", "a.py", outcome="failed"))
    )
    merged = results_by_name(db_session, run)["test_x"]
    assert (merged.outcome, merged.retry_flake, merged.attempts) == ("passed", True, 2)


@pytest.mark.parametrize(("cases", "analyzed"), [(10, False), (store.ANALYZE_STAGING_FROM, True)])
def test_only_large_stagings_are_analyzed_on_postgresql(db_session, count_queries, cases, analyzed):
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("ANALYZE of the staging table is PostgreSQL's (SQLite plans without it)")
    run = make_run(db_session, ProjectFactory())
    parsed = [ParsedCase(f"test_{n}", "pkg.mod", "pkg/mod.py") for n in range(cases)]
    with count_queries.watching() as queries:
        store.store_test_report(db_session, run, report(*parsed))
    assert any("ANALYZE ingest_staging" in q for q in queries.statements) is analyzed
    assert db_session.scalar(select(func.count()).where(Result.run_id == run.id)) == cases


def test_the_late_sighting_check_of_every_upload_probes_an_index(db_session):
    """It runs on every upload: a scan of the project's cases cost ~100 ms at 100,000."""
    if db_session.get_bind().dialect.name != "sqlite":
        pytest.skip("read from SQLite's plan; PostgreSQL's planner scans tables this small")
    query = store.any_later_sighting(1, BASE_TIME)
    compiled = query.compile(db_session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = db_session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    details = " ".join(row[-1] for row in plan)
    assert "USING COVERING INDEX ix_case_project_id_first_seen_at" in details, details


@pytest.mark.parametrize(
    ("added", "staged", "refresh"),
    [
        (store.STATISTICS_NEW_CASES_MIN, store.STATISTICS_NEW_CASES_MIN, True),
        (store.STATISTICS_NEW_CASES_MIN - 1, store.STATISTICS_NEW_CASES_MIN - 1, False),
        (500, 1000, True),  # half the suite is new
        (499, 1000, False),  # a suite mostly known already
        (0, 1000, False),
    ],
)
def test_only_an_upload_of_a_mostly_new_suite_refreshes_the_statistics(added, staged, refresh):
    assert store.brings_new_suite(added, staged) is refresh


def case_lookup_index(db_session, project_id: int) -> str:
    """The index PostgreSQL's planner picks to look a case up by (project, identity)."""
    query = select(Case.id).where(Case.project_id == project_id, Case.identity == "0" * 64)
    compiled = query.compile(db_session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = db_session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
    return json.dumps(plan)


@pytest.mark.parametrize(("known", "analyzed"), [(0, True), (300, False)])
def test_a_new_suite_teaches_postgresql_how_to_look_its_cases_up(
    db_session, count_queries, known, analyzed
):
    """Without statistics, PostgreSQL rated the (project, first sighting) index
    as good as the unique one and walked every case of the project for each case
    of an upload (179 ms instead of 12 for 1,000 cases)."""
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite's planner picks the unique index without statistics")
    project = ProjectFactory()
    suite = [ParsedCase(f"test_{n}", "pkg.mod", "pkg/mod.py") for n in range(300)]
    if known:
        store.store_test_report(db_session, make_run(db_session, project), report(*suite))
    run = make_run(db_session, project, build="second")
    with count_queries.watching() as queries:
        store.store_test_report(db_session, run, report(*suite))
    assert any(q.startswith('ANALYZE "case"') for q in queries.statements) is analyzed
    assert "uq_case_project_id_identity" in case_lookup_index(db_session, project.id)
    assert db_session.scalar(select(func.count()).where(Result.run_id == run.id)) == 300
