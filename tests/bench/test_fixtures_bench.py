"""The fixture benchmark runs end to end, and its shared helpers compute what they claim."""

from __future__ import annotations

import re

import pytest

from bench import fixtures
from bench.common import median, percentile, result_line, timed

NUMBER = r"\d+(?:\.\d+)?"
RESULT_LINE = re.compile(
    rf"RESULT fixtures sqlite_overhead_ratio=(?P<sqlite_overhead>{NUMBER}) "
    r"postgresql_overhead_ratio=n/a "
    rf"sqlite_test_ratio=(?P<sqlite_test>{NUMBER}) "
    r"postgresql_test_ratio=n/a"
)


def test_benchmark_on_sqlite_ends_with_a_result_line(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(fixtures.POSTGRES_URL_VARIABLE, raising=False)

    assert fixtures.main(["--tests", "5", "--scratch-dir", str(tmp_path)]) == 0

    output = capsys.readouterr().out
    assert "PostgreSQL skipped: BENCH_POSTGRES_URL is not set" in output
    last_line = output.rstrip("\n").splitlines()[-1]
    match = RESULT_LINE.fullmatch(last_line)
    assert match, last_line
    assert float(match["sqlite_overhead"]) > 0
    assert float(match["sqlite_test"]) > 0


def test_a_non_postgresql_url_is_skipped_with_the_reason():
    server, reason = fixtures.postgres_server({"BENCH_POSTGRES_URL": "sqlite:///x.db"})
    assert server is None
    assert "not a PostgreSQL URL" in reason


def test_a_postgres_url_is_normalised_to_psycopg():
    server, reason = fixtures.postgres_server({"BENCH_POSTGRES_URL": "postgres://u@127.0.0.1/p"})
    assert server is not None
    assert server.drivername == "postgresql+psycopg"
    assert reason == ""


def test_tests_must_be_positive():
    with pytest.raises(SystemExit):
        fixtures.parse_args(["--tests", "0"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (25.2345, "25.2"),
        (156.7, "157"),
        (3.14159, "3.14"),
        (0.17345, "0.173"),
        (0.0, "0"),
        (7, "7"),
        (None, "n/a"),
        ("ok", "ok"),
    ],
)
def test_result_line_formats_each_value(value, expected):
    assert result_line("demo", x=value) == f"RESULT demo x={expected}"


def test_result_line_keeps_the_order_of_its_values():
    line = result_line("fixtures", b_ratio=2.0, a_ratio=None)
    assert line == "RESULT fixtures b_ratio=2.00 a_ratio=n/a"


def test_result_line_refuses_values_that_would_break_parsing():
    with pytest.raises(ValueError, match="single words"):
        result_line("demo", note="two words")


@pytest.mark.parametrize(
    ("values", "expected"),
    [([3.0, 1.0, 2.0], 2.0), ([4.0, 1.0, 3.0, 2.0], 2.5), ([5.0], 5.0)],
)
def test_median(values, expected):
    assert median(values) == expected


@pytest.mark.parametrize(
    ("pct", "expected"),
    [(0, 10.0), (100, 50.0), (50, 30.0), (90, 46.0), (25, 20.0)],
)
def test_percentile_interpolates_between_ranks(pct, expected):
    assert percentile([50.0, 10.0, 40.0, 20.0, 30.0], pct) == pytest.approx(expected)


def test_percentile_refuses_empty_input_and_out_of_range_percentiles():
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_timed_stops_when_the_block_ends():
    with timed() as timer:
        first_lap = timer.lap()
    elapsed = timer.elapsed
    assert 0 <= first_lap <= elapsed
    assert timer.elapsed == elapsed
