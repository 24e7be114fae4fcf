"""How fast a large JUnit report goes in, against the floor of a bare lxml pass.

``python -m bench.ingest [--cases 100000] [--repeat 3]`` generates a pytest-style
JUnit file (5% failing with multi-line tracebacks, 3% skipped) and measures in
one run:

* floor: a bare ``lxml.etree.iterparse`` pass extracting each case's fields;
* parse: our detection and parse into normalised records;
* ingest: our whole pipeline (parse, identities, store) into SQLite and, when
  ``BENCH_POSTGRES_URL`` names a PostgreSQL server, into PostgreSQL;
* peak memory of a whole SQLite ingest, in a fresh process;
* for comparison, Codecov's Rust parser (``test-results-parser``, the
  ``[bench]`` extra) when installed: speed only, as its 0.6.1 release reads a
  self-closing ``<skipped/>`` or ``<failure/>`` as a pass.

Each ratio is the median over ``--repeat`` turns of (measurement ÷ a floor
pass taken in the same turn, just before it): on a shared machine the floor
itself can double within minutes, and a floor measured apart from the
ingests moved the SQLite ratio between 3.9 and 8.8 for the same code. It ends
with one ``RESULT ingest ...`` line.
Targets: parse_ratio <= 1.5, sqlite_ratio <= 4, postgresql_ratio <= 8, peak_mb <= 250.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from lxml import etree
from sqlalchemy.engine import make_url

from bench.common import Timer, median, result_line
from config import normalise_database_url
from tests.fixtures.database import postgres_database

TARGETS = {"parse_ratio": 1.5, "sqlite_ratio": 4.0, "postgresql_ratio": 8.0, "peak_mb": 250.0}
TRACEBACK = """def {name}(client, payload_factory, upload_token):
    payload = payload_factory(compression="gzip", encoding="utf-8", cases=1000)
    headers = {{"Authorization": f"Bearer {{upload_token}}"}}
    response = client.post("/api/v1/uploads", data=payload, headers=headers)
>   assert response.status_code == 201
E   AssertionError: assert 500 == 201
E    +  where 500 = <WrapperTestResponse streamed [500 INTERNAL SERVER ERROR]>.status_code

tests/integration/api/test_module_{module}.py:{line}: AssertionError"""


def generate_report(cases: int, seed: int = 7) -> bytes:
    """A pytest-style (xunit1) JUnit report with ``cases`` test cases."""
    rng = random.Random(seed)
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<testsuites>']
    parts.append(
        f'<testsuite name="pytest" errors="0" failures="0" skipped="0" tests="{cases}" '
        'time="1234.5" timestamp="2026-11-26T09:00:00.000000" hostname="ci">'
    )
    for index in range(cases):
        module = index // 50
        name = f"test_upload_accepts_compressed_payloads_{index}[gzip-utf8-shard-{index % 7}]"
        attrs = (
            f'classname="tests.integration.api.test_module_{module}.TestUploadEndpoint" '
            f'name={quoteattr(name)} file="tests/integration/api/test_module_{module}.py" '
            f'line="{index % 400}" '
            f'time="{rng.uniform(0.001, 2.0):.3f}"'
        )
        roll = rng.random()
        if roll < 0.05:
            trace = escape(TRACEBACK.format(name=name, module=module, line=index % 400))
            parts.append(
                f'<testcase {attrs}><failure message="AssertionError: assert 500 == 201">'
                f"{trace}</failure></testcase>"
            )
        elif roll < 0.08:
            parts.append(
                f'<testcase {attrs}><skipped type="pytest.skip" message="needs redis">'
                "tests/conftest.py:12: needs redis</skipped></testcase>"
            )
        else:
            parts.append(f"<testcase {attrs}/>")
    parts.append("</testsuite></testsuites>\n")
    return "\n".join(parts).encode("utf-8")


def floor_parse(data: bytes) -> int:
    """The least any parser must do: walk the cases and pull out their fields."""
    count = 0
    events = etree.iterparse(
        _BytesReader(data),
        events=("end",),
        tag="testcase",
        resolve_entities=False,
        no_network=True,
    )
    for _, element in events:
        fields = (
            element.get("name"),
            element.get("classname"),
            element.get("file"),
            element.get("time"),
        )
        for child in element:
            fields += (child.tag, child.get("message"), child.text)
        count += len(fields) > 0
        element.clear(keep_tail=False)
    return count


class _BytesReader:
    """A file-like view of bytes for iterparse, without copying them."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else self._position + size
        chunk = self._view[self._position : end].tobytes()
        self._position += len(chunk)
        return chunk


def our_parse(data: bytes) -> int:
    from ingest.detect import detect_and_parse

    return len(detect_and_parse(data, "junit.xml").cases)


def rust_available() -> bool:
    try:
        import test_results_parser  # noqa: F401
    except ImportError:
        return False
    return True


def rust_parse(data: bytes) -> int:
    import test_results_parser

    return len(test_results_parser.parse_junit_xml(data).testruns)


def timed(function: Callable[[], object]) -> float:
    timer = Timer()
    function()
    return timer.stop()


def interleaved_samples(functions: list[Callable[[], object]], repeat: int) -> list[list[float]]:
    """Seconds of each function in each turn, run in turns so machine noise hits all alike."""
    samples: list[list[float]] = [[] for _ in functions]
    for _ in range(repeat):
        for index, function in enumerate(functions):
            samples[index].append(timed(function))
    return samples


def median_ratio(times: list[float], floors: list[float]) -> float:
    """The median of each turn's time over the floor of the same turn."""
    return median([time / floor for time, floor in zip(times, floors, strict=True)])


def ingest_into(
    database_url: str, data: bytes, repeat: int, floor: Callable[[], object] | None = None
) -> tuple[list[float], list[float]]:
    """Seconds of each whole ingest of ``data`` into a migrated database, and of
    the ``floor`` pass run just before each (empty without one).

    Each repetition is a new build of a new project, so every case identity is
    new: the expensive path (the first upload of a suite) is the one measured.
    """
    from flask_migrate import upgrade

    from dashboard import create_app
    from dashboard.extensions import db
    from dashboard.projects import create_project
    from ingest.pipeline import IncomingFile, UploadMeta, ingest_upload

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": False})
    samples, floors = [], []
    with app.app_context():
        upgrade()
        for attempt in range(repeat):
            project = create_project(f"bench-{attempt}-{os.getpid()}")
            if floor is not None:
                floors.append(timed(floor))
            timer = Timer()
            ingest_upload(
                db.session,
                project.id,
                UploadMeta(build=f"b{attempt}"),
                [IncomingFile("junit.xml", data)],
                max_bytes=len(data) + 1,
            )
            samples.append(timer.stop())
        db.session.remove()
        db.engine.dispose()
    return samples, floors


def _peak_child(path: str, database_url: str, queue) -> None:
    data = Path(path).read_bytes()
    ingest_into(database_url, data, repeat=1)
    queue.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def peak_memory_mb(path: Path, scratch: Path) -> float:
    """Peak resident memory of one whole SQLite ingest, in a fresh interpreter."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    url = f"sqlite:///{scratch / 'peak.db'}"
    child = context.Process(target=_peak_child, args=(str(path), url, queue))
    child.start()
    peak = queue.get(timeout=600)
    child.join()
    return peak


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cases", type=int, default=100_000, help="cases in the report")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per measurement")
    parser.add_argument("--no-peak", action="store_true", help="skip the peak-memory child")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = generate_report(args.cases)
    print(f"report: {args.cases} cases, {len(data) / 1e6:.1f} MB", file=sys.stderr)
    assert our_parse(data) == args.cases, "our parser lost cases"

    def floor() -> int:
        return floor_parse(data)

    contenders = [floor, lambda: our_parse(data)]
    if rust_available():
        contenders.append(lambda: rust_parse(data))
    floors, parses, *rust_times = interleaved_samples(contenders, args.repeat)
    rust = median(rust_times[0]) if rust_times else None

    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        sqlite, sqlite_floors = ingest_into(
            f"sqlite:///{scratch / 'ingest.db'}", data, args.repeat, floor
        )
        floors += sqlite_floors
        postgresql = postgresql_floors = None
        server = os.environ.get("BENCH_POSTGRES_URL")
        if server:
            name = f"suitescope_bench_ingest_{os.getpid()}"
            with postgres_database(make_url(normalise_database_url(server)), name) as url:
                postgresql, postgresql_floors = ingest_into(
                    url.render_as_string(hide_password=False), data, args.repeat, floor
                )
            floors += postgresql_floors
        else:
            print("PostgreSQL skipped: BENCH_POSTGRES_URL is not set", file=sys.stderr)
        report_path = scratch / "report.xml"
        report_path.write_bytes(data)
        peak = None if args.no_peak else peak_memory_mb(report_path, scratch)

    figures = {
        "parse_ratio": median_ratio(parses, floors[: args.repeat]),
        "sqlite_ratio": median_ratio(sqlite, sqlite_floors),
        "postgresql_ratio": median_ratio(postgresql, postgresql_floors) if postgresql else None,
        "peak_mb": peak,
        "cases_per_s_sqlite": args.cases / median(sqlite),
    }
    print(f"{'measurement (medians)':<28}{'seconds':>10}")
    for label, value in [
        ("floor (lxml iterparse)", median(floors)),
        ("our parse", median(parses)),
        ("test-results-parser (Rust)", rust),
        ("ingest SQLite", median(sqlite)),
        ("ingest PostgreSQL", median(postgresql) if postgresql else None),
    ]:
        print(f"{label:<28}{'n/a' if value is None else f'{value:.3f}':>10}")
    print(f"floor range {min(floors):.3f}-{max(floors):.3f} s over {len(floors)} passes")
    for key, target in TARGETS.items():
        value = figures[key]
        verdict = "n/a" if value is None else ("met" if value <= target else "MISSED")
        print(f"target {key} <= {target}: {verdict}")
    print(result_line("ingest", **figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
