"""Many CI jobs uploading at once: throughput, latency, and that nothing is lost or doubled.

``python -m bench.load [--uploads 200] [--clients 16] [--engine both]`` serves
the app with gunicorn (``--workers 4``) on a free loopback port, against a fresh
SQLite file (WAL) and, when ``BENCH_POSTGRES_URL`` names a PostgreSQL server, a
throwaway database on it. For each engine it generates JUnit reports of
``--cases`` cases: ``--shards`` shards of one build (distinct cases, which
must merge into one run) and ``--uploads`` independent builds of the same
suite, then sends them all twice, each time to a project of its own:

* baseline: from one client, one upload after another;
* load: from ``--clients`` threads at once, the shards first so that they race
  to create their run.

Every upload goes through ``suitescope upload``'s own sending and retry logic
(``ingest.upload_client.send_with_retries``). Afterwards the database is
checked: ``lost`` counts cases sent but not stored (or counted), ``doubled``
cases stored or counted more than once; each run's totals must equal the sum
of its shards, and ``errors_5xx`` counts server errors.

``--restart-postgres`` restarts the PostgreSQL cluster (``pg_ctlcluster``) in
the middle of the load and reports what clients saw during the outage: every
failure must be a 503 with ``Retry-After`` (never a 500), every upload must
succeed after its retries, and nothing may be lost or doubled. It disturbs
everyone using that server: run it rarely.

Throughput is uploads per second of wall time; latency percentiles are per
HTTP request of the load phase. It ends with one ``RESULT load ...`` line.
Target: postgresql_uploads_per_s >= 30.
"""

from __future__ import annotations

import argparse
import gzip
import os
import queue
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import POSTGRES_URL_VARIABLE, Timer, percentile, positive_int, result_line
from config import normalise_database_url
from ingest.upload_client import RetryPolicy, UploadFailed, UploadRequest, send_with_retries
from tests.fixtures.database import postgres_database

TARGET_POSTGRESQL_UPLOADS_PER_S = 30.0
ROOT = Path(__file__).resolve().parent.parent
SHARDED_BUILD = "load-sharded"
SERVER_START_TIMEOUT_S = 60
# What `suitescope upload` does by default; the restart mode needs the retries.
RETRIES = 3
BACKOFF_S = 2.0


# --- reports ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedUpload:
    """One upload and what it must leave behind."""

    build: str
    report: bytes  # gzip-compressed JUnit XML
    cases: int
    passed: int
    failed: int
    skipped: int


def junit_report(prefix: str, cases: int, rng: random.Random) -> tuple[bytes, dict[str, int]]:
    """A pytest-style JUnit report of ``cases`` cases named after ``prefix``, and its counts.

    About 5% fail and 3% are skipped, drawn from ``rng``, so every upload has
    its own counts to check.
    """
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<testsuites>',
        f'<testsuite name="pytest" tests="{cases}" time="{cases * 0.05:.1f}" '
        'timestamp="2026-11-26T09:00:00" hostname="ci">',
    ]
    for index in range(cases):
        module = index // 50
        attrs = (
            f'classname="tests.{prefix}.test_module_{module}" '
            f"name={quoteattr(f'test_case_{index}')} "
            f'file="tests/{prefix}/test_module_{module}.py" time="{rng.uniform(0.001, 0.1):.3f}"'
        )
        roll = rng.random()
        if roll < 0.05:
            counts["failed"] += 1
            parts.append(
                f'<testcase {attrs}><failure message="assert 500 == 201">'
                f"E   assert 500 == 201 (case {index})</failure></testcase>"
            )
        elif roll < 0.08:
            counts["skipped"] += 1
            parts.append(f'<testcase {attrs}><skipped message="needs redis"/></testcase>')
        else:
            counts["passed"] += 1
            parts.append(f"<testcase {attrs}/>")
    parts.append("</testsuite></testsuites>\n")
    data = "\n".join(parts).encode("utf-8")
    return gzip.compress(data, compresslevel=6, mtime=0), counts


def plan_uploads(uploads: int, shards: int, cases: int, seed: int = 11) -> list[PlannedUpload]:
    """The shards of one build first (distinct cases each), then ``uploads`` other builds.

    The other builds run the same suite, as a project's builds do, so their
    first wave races to add the same new cases.
    """
    rng = random.Random(seed)
    planned = []
    for shard in range(shards):
        report, counts = junit_report(f"shard_{shard}", cases, rng)
        planned.append(PlannedUpload(SHARDED_BUILD, report, cases, **counts))
    for index in range(uploads):
        report, counts = junit_report("suite", cases, rng)
        planned.append(PlannedUpload(f"load-{index}", report, cases, **counts))
    return planned


# --- the server ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True, slots=True)
class ServerOptions:
    workers: int = 4
    worker_class: str = "sync"
    threads: int = 1


@contextmanager
def gunicorn(database_url: str, scratch: Path, options: ServerOptions) -> Iterator[str]:
    """``gunicorn wsgi:app`` with production settings on a free loopback port; its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "SUITESCOPE_ENV": "production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_hex(16),
        "SUITESCOPE_INSTANCE_DIR": str(scratch / "instance"),
        "SUITESCOPE_DEMO": "0",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(options.workers),
        "--worker-class",
        options.worker_class,
        "--threads",
        str(options.threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "wsgi:app",
    ]
    log = (scratch / f"gunicorn-{port}.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        errors = server_errors(scratch / f"gunicorn-{port}.log")
        if errors:
            print(f"server log: {len(errors)} error lines, the first:", file=sys.stderr)
            for line in errors[:3]:
                print(f"  {line}", file=sys.stderr)


def wait_until_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before serving")
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or the workers are still loading the app
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer on {url} within {SERVER_START_TIMEOUT_S}s")


def server_errors(log: Path) -> list[str]:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if re.search(r"ERROR|WARNING|Traceback", line)]


def prepare_database(database_url: str, projects: list[str]) -> dict[str, str]:
    """Migrate the database and create one project and token per name; the tokens."""
    from flask_migrate import upgrade

    from dashboard import create_app
    from dashboard.extensions import db
    from dashboard.projects import create_project, create_token

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": False})
    tokens = {}
    with app.app_context():
        upgrade()
        for slug in projects:
            tokens[slug] = create_token(create_project(slug)).secret
        db.session.remove()
        db.engine.dispose()
    return tokens


# --- the clients ------------------------------------------------------------------


@dataclass(slots=True)
class Attempt:
    """One HTTP request: when it was sent, how long it took, what came back."""

    started: float
    seconds: float
    status: int | None  # None: no reply (connection refused or reset)
    retry_after: str | None


class RecordingSession(requests.Session):
    """A ``requests`` session that notes every POST's status and latency."""

    def __init__(self, attempts: list[Attempt]) -> None:
        super().__init__()
        self.attempts = attempts

    def post(self, *args, **kwargs) -> requests.Response:
        started = time.perf_counter()
        try:
            response = super().post(*args, **kwargs)
        except requests.RequestException:
            self.attempts.append(Attempt(started, time.perf_counter() - started, None, None))
            raise
        self.attempts.append(
            Attempt(
                started,
                time.perf_counter() - started,
                response.status_code,
                response.headers.get("Retry-After"),
            )
        )
        return response


@dataclass(slots=True)
class LoadOutcome:
    seconds: float
    attempts: list[Attempt]
    failures: list[str]  # uploads that failed for good, with the reason


def send_all(
    url: str, token: str, planned: list[PlannedUpload], clients: int, *, label: str
) -> LoadOutcome:
    """Send every planned upload from ``clients`` threads, each with its own session."""
    work: queue.SimpleQueue[PlannedUpload] = queue.SimpleQueue()
    for item in planned:
        work.put(item)
    attempts: list[Attempt] = []
    failures: list[str] = []
    done = [0]
    lock = threading.Lock()
    policy = RetryPolicy(retries=RETRIES, backoff=BACKOFF_S)

    def client() -> None:
        own: list[Attempt] = []
        with RecordingSession(own) as session:
            while True:
                try:
                    item = work.get_nowait()
                except queue.Empty:
                    break
                request = UploadRequest(
                    endpoint=f"{url}/api/v1/uploads",
                    token=token,
                    metadata={"build": item.build, "branch": "main", "commit": "c0ffee"},
                    files=[(f"{item.build}.xml.gz", item.report)],
                )
                try:
                    send_with_retries(session, request, policy, lambda _line: None)
                except UploadFailed as error:
                    with lock:
                        failures.append(f"{item.build}: {error.message} ({error.status})")
                with lock:
                    done[0] += 1
                    if done[0] % 50 == 0:
                        print(f"  {label}: {done[0]}/{len(planned)} uploads", file=sys.stderr)
        with lock:
            attempts.extend(own)

    timer = Timer()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadOutcome(timer.stop(), attempts, failures)


# --- checking what was stored ----------------------------------------------------------


@dataclass(slots=True)
class Verdict:
    lost: int = 0
    doubled: int = 0
    problems: list[str] = field(default_factory=list)


def stored_runs(database_url: str, slug: str) -> list[tuple]:
    """(build, tests, passed, failed, skipped, errors, results stored) of each run of ``slug``."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.execute(
                    text(
                        "SELECT r.build, r.tests, r.passed, r.failed, r.skipped, r.errors,"
                        " (SELECT count(*) FROM result WHERE result.run_id = r.id) AS stored"
                        " FROM run r JOIN project p ON p.id = r.project_id WHERE p.slug = :slug"
                    ),
                    {"slug": slug},
                )
            ]
    finally:
        engine.dispose()


def verify(database_url: str, slug: str, planned: list[PlannedUpload]) -> Verdict:
    """Compare what the database holds for project ``slug`` with what was sent.

    Per build: the run exists once; it holds one result per case sent (fewer is
    lost, more doubled); its counts equal the sum over its shards; its total
    equals the results it holds.
    """
    expected: dict[str, dict[str, int]] = {}
    for item in planned:
        sums = expected.setdefault(item.build, {"tests": 0, "passed": 0, "failed": 0, "skipped": 0})
        sums["tests"] += item.cases
        sums["passed"] += item.passed
        sums["failed"] += item.failed
        sums["skipped"] += item.skipped
    rows = stored_runs(database_url, slug)
    verdict = Verdict()
    seen: dict[str, int] = {}
    for build, tests, passed, failed, skipped, errors, stored in rows:
        seen[build] = seen.get(build, 0) + 1
        want = expected.get(build)
        if want is None:
            verdict.doubled += stored
            verdict.problems.append(f"unexpected run {build!r}")
            continue
        verdict.lost += max(0, want["tests"] - min(stored, tests))
        verdict.doubled += max(0, max(stored, tests) - want["tests"])
        got = {"tests": tests, "passed": passed, "failed": failed, "skipped": skipped}
        if got != want or errors or stored != tests:
            verdict.problems.append(f"run {build}: {got} stored={stored}, sent {want}")
    for build, want in expected.items():
        if build not in seen:
            verdict.lost += want["tests"]
            verdict.problems.append(f"run {build} missing")
        elif seen[build] > 1:
            verdict.doubled += want["tests"] * (seen[build] - 1)
            verdict.problems.append(f"run {build} stored {seen[build]} times")
    return verdict


# --- restarting PostgreSQL -----------------------------------------------------------------


def postgres_cluster(port: int) -> tuple[str, str]:
    """The (version, name) of the local cluster listening on ``port`` (``pg_lsclusters``)."""
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == str(port):
            return fields[0], fields[1]
    raise RuntimeError(f"no local PostgreSQL cluster listens on port {port} (pg_lsclusters)")


@dataclass(slots=True)
class Outage:
    started: float = 0.0
    ended: float = 0.0
    error: str | None = None


def restart_later(cluster: tuple[str, str], delay_s: float, outage: Outage) -> threading.Thread:
    """A thread that restarts the cluster after ``delay_s`` and notes when it was down."""

    def restart() -> None:
        time.sleep(delay_s)
        print(f"  restarting PostgreSQL {cluster[0]}/{cluster[1]}", file=sys.stderr)
        outage.started = time.perf_counter()
        done = subprocess.run(
            ["pg_ctlcluster", *cluster, "restart"], capture_output=True, text=True
        )
        outage.ended = time.perf_counter()
        if done.returncode:
            outage.error = done.stderr.strip() or f"exit {done.returncode}"

    thread = threading.Thread(target=restart)
    thread.start()
    return thread


# --- one engine ----------------------------------------------------------------------------


@dataclass(slots=True)
class EngineFigures:
    uploads_per_s: float
    baseline_uploads_per_s: float
    p50_ms: float
    p95_ms: float
    lost: int
    doubled: int
    errors_5xx: int
    failed_uploads: int
    unavailable_503: int = 0  # answered 503 with Retry-After (restart mode)
    retried_uploads: int = 0


def run_engine(
    engine: str, database_url: str, scratch: Path, args: argparse.Namespace
) -> EngineFigures:
    planned = plan_uploads(args.uploads, args.shards, args.cases)
    tokens = prepare_database(database_url, ["baseline", "load"])
    options = ServerOptions(args.workers, args.worker_class, args.threads)
    print(
        f"{engine}: {len(planned)} uploads of {args.cases} cases, gunicorn "
        f"{options.workers} {options.worker_class} workers",
        file=sys.stderr,
    )
    outage = Outage()
    with gunicorn(database_url, scratch, options) as url:
        baseline = send_all(url, tokens["baseline"], planned, 1, label=f"{engine} baseline")
        restarter = None
        if args.restart_postgres and engine == "postgresql":
            port = make_url(database_url).port or 5432
            restarter = restart_later(postgres_cluster(port), args.restart_after, outage)
        load = send_all(url, tokens["load"], planned, args.clients, label=f"{engine} load")
        if restarter is not None:
            restarter.join()
    verdicts = [verify(database_url, slug, planned) for slug in ("baseline", "load")]
    for verdict in verdicts:
        for problem in verdict.problems[:10]:
            print(f"  PROBLEM {engine}: {problem}", file=sys.stderr)
    if outage.error:
        print(f"  PROBLEM restart failed: {outage.error}", file=sys.stderr)
    for failure in [*baseline.failures, *load.failures][:10]:
        print(f"  FAILED upload {engine}: {failure}", file=sys.stderr)

    attempts = [*baseline.attempts, *load.attempts]
    statuses = Counter(a.status for a in attempts)
    print(
        f"  {engine}: replies by status {dict(sorted(statuses.items(), key=str))}", file=sys.stderr
    )
    expected_503 = [
        a
        for a in attempts
        if args.restart_postgres and engine == "postgresql" and a.status == 503 and a.retry_after
    ]
    errors = [
        a for a in attempts if a.status is not None and a.status >= 500 and a not in expected_503
    ]
    ok = [a.seconds * 1000 for a in load.attempts if a.status in (200, 201)]
    return EngineFigures(
        uploads_per_s=len(planned) / load.seconds,
        baseline_uploads_per_s=len(planned) / baseline.seconds,
        p50_ms=percentile(ok, 50) if ok else float("nan"),
        p95_ms=percentile(ok, 95) if ok else float("nan"),
        lost=sum(v.lost for v in verdicts),
        doubled=sum(v.doubled for v in verdicts),
        errors_5xx=len(errors),
        failed_uploads=len(baseline.failures) + len(load.failures),
        unavailable_503=len(expected_503),
        retried_uploads=len(attempts) - 2 * len(planned),
    )


@contextmanager
def engine_database(engine: str, scratch: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{scratch / 'load.db'}"
        return
    server = make_url(normalise_database_url(os.environ[POSTGRES_URL_VARIABLE]))
    with postgres_database(server, f"suitescope_bench_load_{os.getpid()}") as url:
        yield url.render_as_string(hide_password=False)


def chosen_engines(choice: str, environ=os.environ) -> list[str]:
    server = environ.get(POSTGRES_URL_VARIABLE, "")
    has_postgres = bool(re.match(r"postgres(ql)?(\+psycopg)?://", server))
    if choice == "postgresql" and not has_postgres:
        raise SystemExit(f"--engine postgresql needs {POSTGRES_URL_VARIABLE} (a server URL)")
    if choice == "both" and not has_postgres:
        print(f"PostgreSQL skipped: {POSTGRES_URL_VARIABLE} is not set", file=sys.stderr)
        return ["sqlite"]
    return ["sqlite", "postgresql"] if choice == "both" else [choice]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--uploads", type=positive_int, default=200, help="independent uploads")
    parser.add_argument("--shards", type=positive_int, default=8, help="shards of the one build")
    parser.add_argument("--cases", type=positive_int, default=1000, help="cases per report")
    parser.add_argument("--clients", type=positive_int, default=16, help="concurrent clients")
    parser.add_argument(
        "--engine", choices=["sqlite", "postgresql", "both"], default="both", help="databases"
    )
    parser.add_argument("--workers", type=positive_int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--worker-class", choices=["sync", "gthread"], default="sync", help="gunicorn workers"
    )
    parser.add_argument(
        "--threads", type=positive_int, default=1, help="threads per gthread worker"
    )
    parser.add_argument(
        "--restart-postgres",
        action="store_true",
        help="restart the PostgreSQL cluster mid-load (disturbs other users of the server)",
    )
    parser.add_argument(
        "--restart-after", type=float, default=2.0, help="seconds into the load to restart"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    figures: dict[str, EngineFigures] = {}
    for engine in chosen_engines(args.engine):
        with tempfile.TemporaryDirectory() as scratch_dir:
            scratch = Path(scratch_dir)
            with engine_database(engine, scratch) as url:
                figures[engine] = run_engine(engine, url, scratch, args)

    print(
        f"{'engine':<12}{'uploads/s':>10}{'1 client':>10}{'speed-up':>10}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'lost':>6}{'doubled':>8}{'5xx':>5}{'503+RA':>8}{'failed':>8}"
    )
    for engine, f in figures.items():
        print(
            f"{engine:<12}{f.uploads_per_s:>10.1f}{f.baseline_uploads_per_s:>10.1f}"
            f"{f.uploads_per_s / f.baseline_uploads_per_s:>10.2f}{f.p50_ms:>9.0f}{f.p95_ms:>9.0f}"
            f"{f.lost:>6}{f.doubled:>8}{f.errors_5xx:>5}{f.unavailable_503:>8}"
            f"{f.failed_uploads:>8}"
        )
    postgresql = figures.get("postgresql")
    if postgresql is not None:
        met = postgresql.uploads_per_s >= TARGET_POSTGRESQL_UPLOADS_PER_S
        print(
            f"target postgresql_uploads_per_s >= {TARGET_POSTGRESQL_UPLOADS_PER_S:g}: "
            f"{'met' if met else 'MISSED'}"
        )
    every = list(figures.values())
    values = {
        "postgresql_uploads_per_s": postgresql.uploads_per_s if postgresql else None,
        "sqlite_uploads_per_s": figures["sqlite"].uploads_per_s if "sqlite" in figures else None,
        "p95_ms": max(f.p95_ms for f in every),
        "lost": sum(f.lost for f in every),
        "doubled": sum(f.doubled for f in every),
        "errors_5xx": sum(f.errors_5xx for f in every),
    }
    if args.restart_postgres:
        values["unavailable_503"] = sum(f.unavailable_503 for f in every)
        values["failed_uploads"] = sum(f.failed_uploads for f in every)
    print(result_line("load", **values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
