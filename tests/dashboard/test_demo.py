"""The demo history generator, and ``suitescope demo`` through the real pipeline."""

from __future__ import annotations

import gzip
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard import demo
from dashboard.commands.demo import demo_command
from dashboard.models import CoverageReport, Project, Result, Run
from ingest.detect import detect_and_parse
from ingest.records import ParsedCase, ParsedCoverage, ParsedTestReport
from tests.factories import ProjectFactory, RunFactory

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # a Thursday afternoon
DAYS = 8  # long enough for every planted fact, short enough to parse in a blink


@pytest.fixture(scope="module")
def plan() -> demo.Plan:
    return demo.plan_history(DAYS, demo.DEFAULT_SEED, NOW)


@pytest.fixture(scope="module")
def uploads(plan: demo.Plan) -> list[demo.DemoUpload]:
    return [upload for day in demo.iter_history(plan) for upload in day.uploads]


@pytest.fixture(scope="module")
def parsed(uploads) -> list[tuple[demo.DemoUpload, list[ParsedTestReport | ParsedCoverage]]]:
    return [(u, [detect_and_parse(f.data, f.name) for f in u.files]) for u in uploads]


def junit_reports(parsed) -> list[tuple[demo.DemoUpload, ParsedTestReport]]:
    return [(u, r) for u, reports in parsed for r in reports if isinstance(r, ParsedTestReport)]


def case_key(case: ParsedCase) -> demo.CaseKey:
    return demo.CaseKey(case.file, case.classname, case.name)


def outcomes_of(parsed, key: demo.CaseKey) -> list[tuple[demo.DemoUpload, ParsedCase]]:
    return [
        (upload, case)
        for upload, report in junit_reports(parsed)
        for case in report.cases
        if case_key(case) == key
    ]


def is_infrastructure_failure(report: ParsedTestReport) -> bool:
    executed = [c for c in report.cases if c.outcome != "skipped"]
    failed = [c for c in executed if c.outcome in ("failed", "error")]
    return len(failed) > 0.8 * len(executed)


# --- The generator -------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes():
    first = demo.generate_history(days=3, seed=7, now=NOW)
    again = demo.generate_history(days=3, seed=7, now=NOW)
    other = demo.generate_history(days=3, seed=8, now=NOW)
    assert [(u.meta, [(f.name, f.data) for f in u.files]) for u in first] == [
        (u.meta, [(f.name, f.data) for f in u.files]) for u in again
    ]
    assert [f.data for u in first for f in u.files] != [f.data for u in other for f in u.files]


def test_every_file_parses_without_warnings(parsed):
    formats = set()
    for upload, reports in parsed:
        for file, report in zip(upload.files, reports, strict=True):
            assert report.warnings == [], file.name
            formats.add((report.format, getattr(report, "dialect", None)))
    assert formats == {("junit", "pytest"), ("junit", "jest"), ("cobertura", None), ("lcov", None)}


def test_some_files_are_gzipped(uploads):
    gzipped = [f for u in uploads for f in u.files if f.name.endswith(".gz")]
    assert gzipped
    assert all(gzip.decompress(f.data).startswith(b"<?xml") for f in gzipped)


def test_runs_are_spread_over_the_days_in_utc(plan, uploads):
    moments = [u.meta.started_at for u in uploads]
    assert all(m.tzinfo is UTC for m in moments)
    assert min(moments) >= NOW - timedelta(days=DAYS)
    assert max(moments) <= NOW
    assert len({m.date() for m in moments}) == DAYS
    assert {b.branch for b in plan.builds} >= {"main", demo.COVERAGE_DROP_BRANCH}


def test_suite_has_a_realistic_size():
    files = {c.key.file for c in demo.python_catalogue()}
    cases = demo.python_catalogue() + demo.jest_catalogue() + demo.doctest_catalogue()
    assert len(files) >= 15
    assert 120 <= len(cases) <= 200


def test_jobs_of_a_build_share_its_id(uploads):
    jobs_by_build = defaultdict(set)
    for upload in uploads:
        jobs_by_build[upload.meta.build].add(upload.meta.job)
    assert all({demo.PY311, demo.PY312, demo.FRONTEND} <= jobs for jobs in jobs_by_build.values())


def test_names_that_need_escaping_survive(parsed, uploads):
    names = {case.name for _, report in junit_reports(parsed) for case in report.cases}
    assert demo.SCRIPT_NAMED.name == "<script>alert(1)</script>"
    assert {demo.SCRIPT_NAMED.name, demo.UNICODE_NAMED.name, "test_query[a & b]"} <= names
    raw = uploads[0].files[0].data
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert b"<script>" not in raw


def test_a_retry_flake_passes_after_a_rerun(parsed):
    flakes = [case for _, case in outcomes_of(parsed, demo.RETRY_FLAKE) if case.retry_flake]
    assert flakes
    assert all(case.outcome == "passed" and case.attempts == 2 for case in flakes)


def test_same_commit_passes_and_fails_in_the_same_job(parsed):
    by_commit_job = defaultdict(set)
    for upload, case in outcomes_of(parsed, demo.SAME_COMMIT_FLAKE):
        by_commit_job[upload.meta.commit, upload.meta.job].add((upload.meta.build, case.outcome))
    mixed = [
        runs for runs in by_commit_job.values() if {o for _, o in runs} >= {"passed", "failed"}
    ]
    assert mixed
    assert all(len({build for build, _ in runs}) >= 2 for runs in mixed)  # a re-run


def test_one_job_failure_fails_only_on_its_job(parsed):
    outcomes = defaultdict(set)
    for upload, report in junit_reports(parsed):
        if is_infrastructure_failure(report):
            continue
        for case in report.cases:
            if case_key(case) == demo.ONE_JOB_FAILURE:
                outcomes[upload.meta.job].add(case.outcome)
    assert outcomes == {demo.PY311: {"passed"}, demo.PY312: {"failed"}}


def test_flipper_fails_about_a_quarter_of_main_runs(parsed):
    main = [c for u, c in outcomes_of(parsed, demo.FLIPPER) if u.meta.branch == demo.MAIN]
    share = sum(c.outcome == "failed" for c in main) / len(main)
    assert 0.1 < share < 0.45


def test_break_on_main_lasts_two_days(plan, parsed):
    for upload, case in outcomes_of(parsed, demo.BREAKS_ON_MAIN):
        build = next(b for b in plan.builds if b.build_id == upload.meta.build)
        if case.outcome != "error":  # an infrastructure run errors everything
            assert (case.outcome == "failed") == plan.is_broken(build)
    assert plan.broken_until - plan.broken_from == timedelta(days=2)


def test_one_run_is_an_infrastructure_failure(parsed):
    infra = [(u, r) for u, r in junit_reports(parsed) if is_infrastructure_failure(r)]
    assert len(infra) == 1
    upload, report = infra[0]
    assert upload.meta.job == demo.PY311
    assert "Connection refused" in next(c.message for c in report.cases if c.outcome == "error")


def test_failures_carry_multi_line_tracebacks(parsed):
    messages = {
        case.message
        for _, report in junit_reports(parsed)
        for case in report.cases
        if case.outcome == "failed"
    }
    assert any("Read timed out" in m for m in messages)
    assert any("duplicate key value violates unique constraint" in m for m in messages)
    traces = [
        case.trace
        for _, report in junit_reports(parsed)
        for case in report.cases
        if case.outcome in ("failed", "error")
    ]
    assert all(trace.count("\n") >= 3 for trace in traces)


def test_a_sharded_run_has_two_disjoint_uploads(parsed):
    shards = defaultdict(list)
    for upload, report in junit_reports(parsed):
        shards[upload.meta.build, upload.meta.job].append({case_key(c) for c in report.cases})
    sharded = [parts for parts in shards.values() if len(parts) == 2]
    assert sharded
    assert all(not (first & second) for first, second in sharded)


def test_duration_regression_in_the_last_week(plan, parsed):
    before, after = [], []
    for upload, case in outcomes_of(parsed, demo.DURATION_REGRESSION):
        recent = upload.meta.started_at >= plan.regression_from
        (after if recent else before).append(case.duration_s)
    assert statistics.median(after) >= 2 * statistics.median(before)
    assert statistics.median(after) - statistics.median(before) >= 0.1


def test_feature_branch_drops_one_files_branch_coverage(parsed):
    rates = defaultdict(list)
    for upload, reports in parsed:
        for report in reports:
            if isinstance(report, ParsedCoverage) and report.format == "cobertura":
                file = next(f for f in report.files if f.path == demo.COVERAGE_DROP_FILE)
                rates[upload.meta.branch].append(file.branches_covered / file.branches_valid)
    assert max(rates[demo.COVERAGE_DROP_BRANCH]) < min(rates[demo.MAIN]) - 0.1


# --- The command ---------------------------------------------------------------------------


def test_demo_command_loads_a_demo_project(runner, db_session):
    result = runner.invoke(demo_command, ["--days", "2"])
    assert result.exit_code == 0, result.output
    project = db_session.scalars(select(Project).where(Project.slug == "demo")).one()
    assert project.is_demo
    assert project.name == "Demo project"
    runs = db_session.scalars(select(Run).where(Run.project_id == project.id)).all()
    python_runs = [run for run in runs if run.job == demo.PY311]
    assert python_runs
    assert {run.tests for run in python_runs} == {len(demo.python_catalogue())}
    assert db_session.scalar(select(func.count(Result.id))) == sum(run.tests for run in runs)
    assert db_session.scalar(select(func.count(CoverageReport.id))) > 0
    assert "day 2/2" in result.stderr
    assert f"{len(runs)} runs" in result.stdout


def test_demo_refuses_a_demo_project_that_has_runs(runner, db_session):
    # A second history with the same build numbers would merge into the first.
    RunFactory(project=ProjectFactory(slug="demo", is_demo=True))
    result = runner.invoke(demo_command, ["--days", "1"])
    assert result.exit_code == 2
    assert "already has 1 runs" in result.output


def test_demo_refuses_a_real_project(runner, db_session):
    ProjectFactory(slug="web")
    result = runner.invoke(demo_command, ["--project", "web", "--days", "1"])
    assert result.exit_code == 2
    assert "real data" in result.output


def test_if_empty_does_nothing_when_a_project_exists(app, runner, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "SUITESCOPE_DEMO", True)
    ProjectFactory(slug="web")
    result = runner.invoke(demo_command, ["--if-empty", "--days", "1"])
    assert result.exit_code == 0
    assert "already has a project" in result.stderr
    assert db_session.scalar(select(func.count(Project.id))) == 1


def test_if_empty_does_nothing_when_demo_is_off(app, runner, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "SUITESCOPE_DEMO", False)
    result = runner.invoke(demo_command, ["--if-empty", "--days", "1"])
    assert result.exit_code == 0
    assert "SUITESCOPE_DEMO is off" in result.stderr
    assert db_session.scalar(select(func.count(Project.id))) == 0
