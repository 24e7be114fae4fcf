"""The page benchmark runs end to end on a tiny history and ends with its RESULT line."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bench import pages

NUMBER = r"\d+(?:\.\d+)?"
RESULT_LINE = re.compile(
    rf"RESULT pages sqlite_p95_max_ms=(?P<sqlite>{NUMBER}) "
    rf"postgresql_p95_max_ms=n/a growth_max=(?P<growth>{NUMBER})"
)
TINY = ["--runs", "6", "--cases", "24", "--small-runs", "4", "--small-cases", "12"]


def test_benchmark_on_sqlite_ends_with_a_result_line(monkeypatch, capsys):
    monkeypatch.delenv(pages.POSTGRES_URL_VARIABLE, raising=False)

    assert pages.main([*TINY, "--requests", "2"]) == 0

    output = capsys.readouterr().out
    assert "PostgreSQL skipped: BENCH_POSTGRES_URL is not set" in output
    for call in pages.CALLS:
        assert f"sqlite  {call.label} " in output
    last_line = output.rstrip("\n").splitlines()[-1]
    match = RESULT_LINE.fullmatch(last_line)
    assert match, last_line
    assert float(match["sqlite"]) > 0
    assert float(match["growth"]) > 0


def test_a_kept_history_is_reused(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(pages.POSTGRES_URL_VARIABLE, raising=False)
    arguments = [*TINY, "--scale", "large", "--requests", "1", "--keep", str(tmp_path)]

    assert pages.main(arguments) == 0
    assert "built in" in capsys.readouterr().out
    assert pages.main(arguments) == 0
    assert "kept database reused" in capsys.readouterr().out
    assert list(tmp_path.glob("bench_pages_large_6x24.*"))


def test_the_history_has_the_shapes_the_pages_look_for():
    history = pages.plan_history(pages.Scale("large", 120, 400), datetime.now(UTC))
    kinds = {case.kind for case in history.cases}
    assert {"flaky", "retry", "broken", "job_failing", "slowdown", "skipped", "new"} <= kinds
    assert {run.branch for run in history.runs} == {branch for branch, _ in pages.BRANCHES}
    assert any(run.infrastructure for run in history.runs)
    commits = [(run.job, run.commit) for run in history.runs]
    assert len(set(commits)) < len(commits), "some commit runs twice"
    rows = [row for run in history.runs for row in pages.run_results(history, run)]
    assert len(rows) == sum(run.totals["tests"] for run in history.runs)
    failures = sum(row[2] in ("failed", "error") for row in rows)
    assert 0.002 < failures / len(rows) < 0.05


def test_scales_follow_the_options():
    large_only = pages.chosen_scales(pages.parse_args(["--scale", "large", "--runs", "30"]))
    assert large_only == [pages.Scale("large", 30, 4_000)]
    both = pages.chosen_scales(pages.parse_args(["--runs", "50", "--cases", "200"]))
    assert both == [pages.Scale("small", 50, 200), pages.Scale("large", 50, 200)]


@pytest.mark.parametrize(
    ("environ", "reason"),
    [({}, "is not set"), ({"BENCH_POSTGRES_URL": "sqlite:///x.db"}, "not a PostgreSQL URL")],
)
def test_postgresql_is_skipped_with_the_reason(environ, reason):
    server, why = pages.postgres_server(environ)
    assert server is None
    assert reason in why
