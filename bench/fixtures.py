"""What our rollback fixture saves over recreating the schema for every test.

``python -m bench.fixtures [--tests N]`` (from the repository root) runs N
simulated database tests under each of two fixtures, interleaved, on SQLite and,
when ``BENCH_POSTGRES_URL`` names a PostgreSQL server, on PostgreSQL:

* **rollback**: the test harness's own mechanism, imported rather than copied:
  ``tests.fixtures.database.rolled_back_transaction`` around an app whose schema
  came from the Alembic migrations, plus an app context like ``db_session``.
* **recreate**: the testing chapter's naive fixture, ``db.create_all()`` before
  and ``db.drop_all()`` after each test. Its app is built once, not per test as
  in the chapter, so the comparison is if anything kind to it.

Each simulated test writes a project, a run and nine cases with their results
(20 rows) through ``db.session`` and commits, as application code does, then
reads them back. It prints per-test milliseconds (medians, as this machine is
shared and noisy) and ends with one ``RESULT fixtures ...`` line of
recreate-to-rollback ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.orm import contains_eager

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
from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import Case, Project, Result, Run
from tests.fixtures.database import (
    postgres_database,
    rolled_back_transaction,
    sqlite_database,
    testing_settings,
)

DEFAULT_TESTS = 200
# The first tests of a strategy pay for SQL compilation and cold caches; they
# are run but not counted.
WARMUP_TESTS = 4
CASES_PER_TEST = 9  # nine cases and nine results, plus a project and a run: 20 rows
BENCH_SLUG = "bench"
STARTED_AT = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

# (engine, metric, minimum recreate/rollback ratio) the issue asks for.
TARGETS = (
    ("sqlite", "overhead", 15.0),
    ("postgresql", "overhead", 50.0),
    ("postgresql", "whole", 5.0),
)

Fixture = Callable[[Flask], AbstractContextManager[None]]


@dataclass(frozen=True)
class Sample:
    """One simulated test's timings, in seconds."""

    set_up: float
    body: float
    tear_down: float

    @property
    def overhead(self) -> float:
        """The fixture's own cost: everything but the test body."""
        return self.set_up + self.tear_down

    @property
    def whole(self) -> float:
        return self.set_up + self.body + self.tear_down


@dataclass(frozen=True)
class Strategy:
    name: str
    label: str
    fixture: Fixture


@dataclass(frozen=True)
class EngineResult:
    """Both strategies' samples on one database engine."""

    engine: str
    samples: dict[str, list[Sample]]

    def milliseconds(self, strategy: str, metric: str) -> list[float]:
        return [getattr(sample, metric) * 1000 for sample in self.samples[strategy]]

    def ratio(self, metric: str) -> float:
        """How many times slower recreate is than rollback, median against median."""
        recreate = median(self.milliseconds(RECREATE.name, metric))
        return recreate / median(self.milliseconds(ROLLBACK.name, metric))


# --- the two fixtures and the test they wrap -----------------------------------


@contextmanager
def rollback_fixture(app: Flask) -> Iterator[None]:
    """The harness's ``app`` and ``db_session`` fixtures, in the same order."""
    with rolled_back_transaction(app), app.app_context():
        yield
        db.session.remove()


@contextmanager
def recreate_fixture(app: Flask) -> Iterator[None]:
    """The chapter's naive fixture: a fresh schema for every test."""
    with app.app_context():
        db.create_all()
        try:
            yield
        finally:
            # The session's open transaction holds locks that DROP TABLE would
            # wait for on PostgreSQL, so it goes first.
            db.session.remove()
            db.drop_all()


ROLLBACK = Strategy("rollback", "rollback (savepoint)", rollback_fixture)
RECREATE = Strategy("recreate", "create_all/drop_all", recreate_fixture)


def simulated_test_body() -> None:
    """A typical database test: store a small run as app code would, then read it back.

    Every test uses the same project slug, so a fixture that leaked rows into
    the next test would fail on the unique constraint instead of passing quietly.
    """
    project = Project(slug=BENCH_SLUG, name="Bench")
    db.session.add(project)
    db.session.flush()  # cases refer to their project by id only
    run = Run(project=project, build="1", started_at=STARTED_AT)
    cases = [new_case(project.id, f"test_{number}") for number in range(CASES_PER_TEST)]
    results = [Result(run=run, case=case, outcome="passed", duration_s=0.01) for case in cases]
    db.session.add_all([run, *cases, *results])
    db.session.commit()

    query = (
        select(Result)
        .join(Result.case)
        .join(Result.run)
        .join(Run.project)
        .where(Project.slug == BENCH_SLUG)
        .options(contains_eager(Result.case))
    )
    read_back = db.session.scalars(query).all()
    if len(read_back) != CASES_PER_TEST:
        raise RuntimeError(f"read {len(read_back)} results back, wrote {CASES_PER_TEST}")


def new_case(project_id: int, name: str) -> Case:
    file, classname = "tests/test_bench.py", "tests.test_bench"
    return Case(
        project_id=project_id,
        file=file,
        classname=classname,
        name=name,
        identity=Case.identity_of(file, classname, name),
    )


# --- measuring -------------------------------------------------------------------


def measure(fixture: Fixture, app: Flask) -> Sample:
    timer = Timer()
    with fixture(app):
        set_up = timer.lap()
        simulated_test_body()
        body = timer.lap()
    return Sample(set_up=set_up, body=body, tear_down=timer.lap())


def run_interleaved(
    contenders: Sequence[tuple[Strategy, Flask]], tests: int
) -> dict[str, list[Sample]]:
    """``tests`` samples per strategy, taken in turn so machine noise hits both alike.

    Who goes first alternates (ABBA...), so neither strategy always runs right
    after the other has warmed or dirtied a cache.
    """
    samples: dict[str, list[Sample]] = {strategy.name: [] for strategy, _ in contenders}
    for index in range(WARMUP_TESTS + tests):
        order = contenders if index % 2 == 0 else contenders[::-1]
        for strategy, app in order:
            sample = measure(strategy.fixture, app)
            if index >= WARMUP_TESTS:
                samples[strategy.name].append(sample)
    return samples


def build_app(url: URL, instance_dir: Path) -> Flask:
    return create_app(testing_settings(url, INSTANCE_DIR=instance_dir))


def migrated_app(url: URL, instance_dir: Path) -> Flask:
    """An app whose schema came from the migrations, as the harness's ``session_app``."""
    from flask_migrate import upgrade

    app = build_app(url, instance_dir)
    with app.app_context():
        upgrade()
        db.session.remove()
    return app


def dispose(app: Flask) -> None:
    """Close pooled connections, so the scratch databases can be dropped cleanly."""
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def measure_engine(engine: str, urls: tuple[URL, URL], workdir: Path, tests: int) -> EngineResult:
    """Each strategy gets its own database: recreate drops every table the other needs."""
    rollback_url, recreate_url = urls
    print(f"{engine}: measuring {tests} tests per strategy...", file=sys.stderr, flush=True)
    rollback_app = migrated_app(rollback_url, workdir / "instance")
    recreate_app = build_app(recreate_url, workdir / "instance")
    try:
        contenders = [(ROLLBACK, rollback_app), (RECREATE, recreate_app)]
        return EngineResult(engine, run_interleaved(contenders, tests))
    finally:
        dispose(rollback_app)
        dispose(recreate_app)


@contextmanager
def sqlite_urls(directory: Path) -> Iterator[tuple[URL, URL]]:
    with (
        sqlite_database(directory, "bench_rollback") as rollback,
        sqlite_database(directory, "bench_recreate") as recreate,
    ):
        yield rollback, recreate


@contextmanager
def postgres_urls(server_url: URL) -> Iterator[tuple[URL, URL]]:
    # The process id keeps two runs on one server out of each other's way.
    suffix = os.getpid()
    with (
        postgres_database(server_url, f"suitescope_bench_rollback_{suffix}") as rollback,
        postgres_database(server_url, f"suitescope_bench_recreate_{suffix}") as recreate,
    ):
        yield rollback, recreate


# --- reporting -------------------------------------------------------------------


def summary(values: list[float]) -> str:
    return f"{format_value(median(values))} [{format_value(percentile(values, 90))}]"


def table_rows(result: EngineResult) -> list[tuple[str, ...]]:
    metrics = ("overhead", "body", "whole")
    rows = [
        (
            result.engine,
            strategy.label,
            *(summary(result.milliseconds(strategy.name, metric)) for metric in metrics),
        )
        for strategy in (ROLLBACK, RECREATE)
    ]
    ratios = tuple(f"{format_value(result.ratio(metric))}x" for metric in metrics)
    rows.append((result.engine, "recreate / rollback", *ratios))
    return rows


def format_table(rows: list[tuple[str, ...]]) -> str:
    header = ("engine", "fixture", "fixture overhead", "test body", "whole test")
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def target_lines(results: dict[str, EngineResult]) -> list[str]:
    lines = []
    for engine, metric, minimum in TARGETS:
        if engine not in results:
            lines.append(f"  {engine} {metric} ratio >= {minimum:g}x: not measured")
            continue
        ratio = results[engine].ratio(metric)
        verdict = "met" if ratio >= minimum else "NOT met"
        lines.append(
            f"  {engine} {metric} ratio >= {minimum:g}x: {verdict} ({format_value(ratio)}x)"
        )
    return lines


def fixtures_result_line(results: dict[str, EngineResult]) -> str:
    def ratio(engine: str, metric: str) -> float | None:
        return results[engine].ratio(metric) if engine in results else None

    return result_line(
        "fixtures",
        sqlite_overhead_ratio=ratio("sqlite", "overhead"),
        postgresql_overhead_ratio=ratio("postgresql", "overhead"),
        sqlite_test_ratio=ratio("sqlite", "whole"),
        postgresql_test_ratio=ratio("postgresql", "whole"),
    )


def report(results: dict[str, EngineResult], tests: int, skipped: str) -> None:
    rows = [row for result in results.values() for row in table_rows(result)]
    print(f"Per-test milliseconds, median [p90], {tests} interleaved tests per fixture:")
    print()
    print(format_table(rows))
    print()
    print("Targets (recreate / rollback, medians):")
    print("\n".join(target_lines(results)))
    if skipped:
        print(f"PostgreSQL skipped: {skipped}")
    print(fixtures_result_line(results))


# --- command line ----------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fixtures",
        description=(
            "Compare the test harness's rollback fixture with recreating the schema per "
            "test (create_all/drop_all), on SQLite and optionally PostgreSQL."
        ),
        epilog=(
            f"Set {POSTGRES_URL_VARIABLE} to a server URL (e.g. {POSTGRES_URL_EXAMPLE}) "
            "to measure PostgreSQL too; throwaway databases are created on it and dropped."
        ),
    )
    parser.add_argument(
        "--tests",
        type=positive_int,
        default=DEFAULT_TESTS,
        help=f"simulated tests per fixture and engine (default: {DEFAULT_TESTS})",
    )
    parser.add_argument(
        "--scratch-dir",
        type=Path,
        help="directory for the SQLite files (default: a temporary directory, removed)",
    )
    return parser.parse_args(argv)


@contextmanager
def scratch_directory(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="suitescope-bench-") as directory:
        yield Path(directory)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    server, skipped = postgres_server(os.environ)
    results: dict[str, EngineResult] = {}
    with scratch_directory(args.scratch_dir) as workdir:
        with sqlite_urls(workdir) as urls:
            results["sqlite"] = measure_engine("sqlite", urls, workdir, args.tests)
        if server is not None:
            with postgres_urls(server) as urls:
                results["postgresql"] = measure_engine("postgresql", urls, workdir, args.tests)
    report(results, args.tests, skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
