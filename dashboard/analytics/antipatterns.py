"""The testing chapter's anti-patterns, recognised in test reports: the rules.

Pure functions over plain values; ``review.py`` runs the queries and assembles
what these say. The thresholds, once:

* **Live external calls**: a failure whose type and message match a rule of
  ``NETWORK_RULES`` (refused or reset connections, network timeouts, name
  resolution, TLS, HTTP 429 or 5xx reported by an HTTP client), unless every
  host the message names is loopback: a local server that was not started is a
  broken fixture, not a live API.
* **Shared database state**: a failure matching ``DATABASE_RULES`` (integrity or
  unique violations, deadlocks, serialization failures, "database is locked"),
  or a test that fails only in parallel runs: it failed in at least
  ``PARALLEL_ONLY_MIN_FAILURES`` parallel runs of the week, in no serial run,
  and passed in at least ``PARALLEL_ONLY_MIN_SERIAL_PASSES`` serial runs. A run
  is *parallel* when its summed case time is at least ``PARALLEL_RATIO`` times
  its wall time (workers or shards overlapped); other timed runs are serial.
* **Setup and teardown bloat**: a job (one suite) whose median run of the week
  spends at least ``SETUP_SHARE`` of its wall time, and at least
  ``SETUP_MIN_SECONDS``, outside its test cases (wall time minus the summed
  case time). pytest counts function-scoped fixtures inside each case, so what
  shows here is collection, session fixtures and start-up.
* **Serial suites**: a job whose median run takes at least
  ``SERIAL_MIN_SECONDS`` (5 minutes) with its summed case time within
  ``SERIAL_CLOSENESS`` of its wall time: one process ran the tests one by one.
* **Low branch coverage**: files under the project's branch-coverage threshold,
  ranked by uncovered branches (``coverage.rank_by_uncovered_branches``).
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from dashboard.analytics.durations import median

PARALLEL_RATIO = 1.5
PARALLEL_ONLY_MIN_FAILURES = 2
PARALLEL_ONLY_MIN_SERIAL_PASSES = 2
SETUP_SHARE = 0.3
SETUP_MIN_SECONDS = 30.0
SERIAL_MIN_SECONDS = 300.0
SERIAL_CLOSENESS = 0.2


@dataclass(frozen=True, slots=True)
class Rule:
    """One named symptom: a failure whose text matches ``pattern`` shows it."""

    name: str
    pattern: re.Pattern[str]


def _rule(name: str, pattern: str, flags: int = re.IGNORECASE) -> Rule:
    return Rule(name, re.compile(pattern, flags))


NETWORK_RULES: tuple[Rule, ...] = (
    _rule("connection refused", r"connection ?refused|ECONNREFUSED|\[Errno (?:111|61)\]"),
    _rule(
        "connection reset",
        r"connection ?reset|ECONNRESET|\[Errno (?:104|54)\]|RemoteDisconnected|connection aborted",
    ),
    _rule(
        "network timeout",
        r"\b(?:Read|Connect|Pool|Write)Timeout|SocketTimeoutException|socket\.timeout|ETIMEDOUT"
        r"|\[Errno 110\]|\b(?:read|connect|connection|handshake|write) (?:operation )?timed out",
    ),
    _rule(
        "name resolution",
        r"Name or service not known|failure in name resolution|nodename nor servname|getaddrinfo"
        r"|gaierror|NameResolutionError|ENOTFOUND|EAI_AGAIN|UnknownHostException"
        r"|Could not resolve host|No address associated with hostname",
    ),
    _rule(
        "TLS",
        r"\bSSL\w*(?:Error|Exception)\b|\[SSL[:\]]|CERTIFICATE_VERIFY_FAILED"
        r"|certificate verify failed|TLS handshake|handshake failure|self[- ]signed certificate"
        r"|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_HAS_EXPIRED|javax\.net\.ssl",
    ),
    # Case-sensitive, and only in the words HTTP clients use (requests, urllib,
    # httpx, SDKs): the app under test answering 500 to Flask's test client
    # shows up as "assert 500 == 200" or "500 INTERNAL SERVER ERROR" instead.
    _rule(
        "HTTP 429 or 5xx",
        r"\b(?:429|5\d\d) (?:Client|Server) Error\b|\bHTTP Error (?:429|5\d\d)\b"
        r"|(?:Client|Server) error '(?:429|5\d\d)\b|Too Many Requests|RateLimitError"
        r"|\b(?:Bad Gateway|Service Unavailable|Gateway Time-?out)\b",
        flags=0,
    ),
)

DATABASE_RULES: tuple[Rule, ...] = (
    _rule(
        "unique violation",
        r"UniqueViolation|UNIQUE constraint failed|unique constraint"
        r"|duplicate key value violates|Duplicate entry .* for key",
    ),
    _rule(
        "integrity violation",
        r"IntegrityError|ForeignKeyViolation|FOREIGN KEY constraint failed"
        r"|violates foreign key constraint|violates not-null constraint",
    ),
    _rule("deadlock", r"deadlock"),
    _rule("serialization failure", r"could not serialize access|SerializationFailure"),
    _rule(
        "database locked",
        r"database is locked|database table is locked|lock wait timeout exceeded"
        r"|could not obtain lock|LockNotAvailable|SQLITE_BUSY",
    ),
)

# Hosts a message names: URLs, urllib3's host='...', psycopg's server at "...",
# and bare IPv4 address:port pairs (Node's "connect ECONNREFUSED 10.0.0.5:443").
HOST_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\b[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?(\[[0-9A-Fa-f:.]+\]|[^\s/:'\"?#)]+)", re.I),
    re.compile(r"\b(?:host|server at)[= ]?['\"]([^'\"]+)['\"]", re.I),
    re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3}):\d+\b"),
)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "0.0.0.0"})


def matching(rules: Iterable[Rule], text: str) -> list[str]:
    """Names of the rules ``text`` matches, in the table's order."""
    return [rule.name for rule in rules if rule.pattern.search(text)]


def failure_text(failure_type: str | None, message: str | None) -> str:
    return " ".join(part for part in (failure_type, message) if part)


def named_hosts(text: str) -> list[str]:
    hosts = []
    for pattern in HOST_PATTERNS:
        hosts += [match.strip("[]").lower() for match in pattern.findall(text)]
    return hosts


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def network_reasons(text: str) -> list[str]:
    """The network symptoms in a failure, or none when it names only loopback hosts."""
    reasons = matching(NETWORK_RULES, text)
    hosts = named_hosts(text)
    if reasons and hosts and all(is_loopback(host) for host in hosts):
        return []
    return reasons


def database_reasons(text: str) -> list[str]:
    return matching(DATABASE_RULES, text)


def fails_only_in_parallel(
    parallel_failures: int, serial_failures: int, serial_passes: int
) -> bool:
    """Failed repeatedly when tests ran side by side, and never when they ran alone."""
    return (
        parallel_failures >= PARALLEL_ONLY_MIN_FAILURES
        and serial_failures == 0
        and serial_passes >= PARALLEL_ONLY_MIN_SERIAL_PASSES
    )


# --- suite timings ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunTiming:
    """A run's wall time and the summed time of its cases (both > 0)."""

    run_id: int
    job: str
    started_at: datetime
    wall_seconds: float
    case_seconds: float

    @property
    def outside_seconds(self) -> float:
        return self.wall_seconds - self.case_seconds

    @property
    def outside_share(self) -> float:
        return self.outside_seconds / self.wall_seconds

    @property
    def case_ratio(self) -> float:
        return self.case_seconds / self.wall_seconds

    @property
    def is_parallel(self) -> bool:
        return self.case_ratio >= PARALLEL_RATIO

    @property
    def is_bloated(self) -> bool:
        return self.outside_share >= SETUP_SHARE and self.outside_seconds >= SETUP_MIN_SECONDS

    @property
    def is_serial(self) -> bool:
        close = abs(self.case_ratio - 1) <= SERIAL_CLOSENESS
        return close and self.wall_seconds >= SERIAL_MIN_SECONDS


@dataclass(frozen=True, slots=True)
class SuiteTiming:
    """One job's runs of the week and their medians."""

    job: str
    runs: list[RunTiming]  # newest first
    wall_seconds: float
    case_seconds: float
    outside_seconds: float
    outside_share: float
    case_ratio: float

    @property
    def is_bloated(self) -> bool:
        return self.outside_share >= SETUP_SHARE and self.outside_seconds >= SETUP_MIN_SECONDS

    @property
    def is_serial(self) -> bool:
        close = abs(self.case_ratio - 1) <= SERIAL_CLOSENESS
        return close and self.wall_seconds >= SERIAL_MIN_SECONDS


def suite_timings(runs: Sequence[RunTiming]) -> list[SuiteTiming]:
    """Per job, the medians over its runs (jobs by name)."""
    by_job: dict[str, list[RunTiming]] = defaultdict(list)
    for run in runs:
        by_job[run.job].append(run)
    suites = []
    for job, job_runs in sorted(by_job.items()):
        job_runs.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        suites.append(
            SuiteTiming(
                job=job,
                runs=job_runs,
                wall_seconds=median(r.wall_seconds for r in job_runs),
                case_seconds=median(r.case_seconds for r in job_runs),
                outside_seconds=median(r.outside_seconds for r in job_runs),
                outside_share=median(r.outside_share for r in job_runs),
                case_ratio=median(r.case_ratio for r in job_runs),
            )
        )
    return suites
