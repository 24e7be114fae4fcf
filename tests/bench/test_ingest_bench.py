"""The ingest benchmark runs end to end on a small report and ends with its RESULT line."""

from __future__ import annotations

import re

import pytest

from bench import ingest

NUMBER = r"\d+(?:\.\d+)?"
RESULT_LINE = re.compile(
    rf"RESULT ingest parse_ratio=(?P<parse>{NUMBER}) sqlite_ratio=(?P<sqlite>{NUMBER}) "
    rf"postgresql_ratio=n/a peak_mb=n/a cases_per_s_sqlite=(?P<rate>{NUMBER})"
)


def test_benchmark_on_sqlite_ends_with_a_result_line(monkeypatch, capsys):
    monkeypatch.delenv("BENCH_POSTGRES_URL", raising=False)

    assert ingest.main(["--cases", "300", "--repeat", "2", "--no-peak"]) == 0

    output = capsys.readouterr().out
    assert "floor range" in output
    last_line = output.rstrip("\n").splitlines()[-1]
    match = RESULT_LINE.fullmatch(last_line)
    assert match, last_line
    assert float(match["parse"]) > 0
    assert float(match["sqlite"]) > 0


def test_each_ratio_is_taken_against_the_floor_of_its_own_turn():
    # Turn by turn 3, 1.5 and 3: the median is 3, where the ratio of the two
    # medians (3 over 2) would be 1.5.
    assert ingest.median_ratio([3.0, 3.0, 6.0], [1.0, 2.0, 2.0]) == pytest.approx(3.0)
    assert ingest.median_ratio([2.0, 4.0], [1.0, 1.0]) == pytest.approx(3.0)


def test_the_report_has_the_requested_cases_and_the_parser_finds_them():
    report = ingest.generate_report(120)

    assert ingest.floor_parse(report) == 120
    assert ingest.our_parse(report) == 120
