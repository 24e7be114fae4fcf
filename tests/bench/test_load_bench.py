"""The load benchmark runs end to end at a tiny scale, and checks what it claims to check."""

from __future__ import annotations

import re

import pytest

from bench import load

NUMBER = r"\d+(?:\.\d+)?"
RESULT_LINE = re.compile(
    rf"RESULT load postgresql_uploads_per_s=n/a sqlite_uploads_per_s=(?P<rate>{NUMBER}) "
    rf"p95_ms=(?P<p95>{NUMBER}) lost=0 doubled=0 errors_5xx=0"
)


def test_benchmark_on_sqlite_ends_with_a_clean_result_line(monkeypatch, capsys):
    monkeypatch.delenv(load.POSTGRES_URL_VARIABLE, raising=False)
    arguments = ["--uploads", "3", "--shards", "2", "--cases", "20", "--clients", "3"]

    assert load.main([*arguments, "--workers", "2"]) == 0

    captured = capsys.readouterr()
    assert "PostgreSQL skipped: BENCH_POSTGRES_URL is not set" in captured.err
    last_line = captured.out.rstrip("\n").splitlines()[-1]
    match = RESULT_LINE.fullmatch(last_line)
    assert match, last_line
    assert float(match["rate"]) > 0


def test_the_plan_puts_the_shards_of_one_build_first_with_distinct_cases():
    planned = load.plan_uploads(uploads=2, shards=3, cases=10)
    assert [p.build for p in planned] == [load.SHARDED_BUILD] * 3 + ["load-0", "load-1"]
    for item in planned:
        assert item.passed + item.failed + item.skipped == item.cases == 10


def sent(*builds: str) -> list[load.PlannedUpload]:
    return [load.PlannedUpload(build, b"", 10, 8, 1, 1) for build in builds]


class FakeRows:
    """What ``verify`` reads, without a database."""

    def __init__(self, monkeypatch, rows):
        monkeypatch.setattr(load, "stored_runs", lambda _url, _slug: rows)


def test_verify_counts_lost_and_doubled_cases(monkeypatch):
    planned = sent(load.SHARDED_BUILD, load.SHARDED_BUILD, "load-0", "load-1")
    FakeRows(
        monkeypatch,
        [
            # The sharded run holds one shard too many: 10 doubled.
            (load.SHARDED_BUILD, 30, 24, 3, 3, 0, 30),
            # load-0 lost 4 results; load-1 never arrived: 10 lost.
            ("load-0", 6, 4, 1, 1, 0, 6),
        ],
    )
    verdict = load.verify("unused", "load", planned)
    assert (verdict.lost, verdict.doubled) == (14, 10)
    assert len(verdict.problems) == 3


def test_verify_accepts_what_was_sent(monkeypatch):
    planned = sent(load.SHARDED_BUILD, load.SHARDED_BUILD, "load-0")
    FakeRows(
        monkeypatch,
        [(load.SHARDED_BUILD, 20, 16, 2, 2, 0, 20), ("load-0", 10, 8, 1, 1, 0, 10)],
    )
    verdict = load.verify("unused", "load", planned)
    assert (verdict.lost, verdict.doubled, verdict.problems) == (0, 0, [])


@pytest.mark.parametrize(
    ("choice", "server", "expected"),
    [
        ("both", "", ["sqlite"]),
        ("both", "postgresql+psycopg://u@127.0.0.1/p", ["sqlite", "postgresql"]),
        ("sqlite", "postgresql://u@127.0.0.1/p", ["sqlite"]),
    ],
)
def test_engines(choice, server, expected):
    assert load.chosen_engines(choice, {load.POSTGRES_URL_VARIABLE: server}) == expected


def test_postgresql_alone_needs_a_server():
    with pytest.raises(SystemExit):
        load.chosen_engines("postgresql", {})
