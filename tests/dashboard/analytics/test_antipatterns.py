"""The anti-pattern rules: the message classifiers' tables and the suite thresholds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.analytics.antipatterns import (
    DATABASE_RULES,
    NETWORK_RULES,
    RunTiming,
    database_reasons,
    fails_only_in_parallel,
    failure_text,
    named_hosts,
    network_reasons,
    suite_timings,
)

NETWORK_FAILURES = [
    (
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.stripe.com', "
        "port=443): Max retries exceeded (Caused by NewConnectionError('Failed to establish "
        "a new connection: [Errno 111] Connection refused'))",
        "connection refused",
    ),
    ("Error: connect ECONNREFUSED 10.0.0.5:443", "connection refused"),
    ("java.net.ConnectException: Connection refused (Connection refused)", "connection refused"),
    ("ConnectionResetError: [Errno 104] Connection reset by peer", "connection reset"),
    ("Error: read ECONNRESET", "connection reset"),
    ("ConnectionResetError: [Errno 54]", "connection reset"),
    (
        "('Connection aborted.', RemoteDisconnected('Remote end closed connection without "
        "response'))",
        "connection reset",
    ),
    (
        "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.github.com', port=443): "
        "Read timed out. (read timeout=5)",
        "network timeout",
    ),
    ("httpx.ConnectTimeout: timed out", "network timeout"),
    ("java.net.SocketTimeoutException: Read timed out", "network timeout"),
    ("Error: connect ETIMEDOUT 52.1.2.3:443", "network timeout"),
    ("socket.gaierror: [Errno -2] Name or service not known", "name resolution"),
    ("[Errno -3] Temporary failure in name resolution", "name resolution"),
    ("Error: getaddrinfo ENOTFOUND api.example.com", "name resolution"),
    ("java.net.UnknownHostException: api.example.com", "name resolution"),
    (
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
        "failed: unable to get local issuer certificate",
        "TLS",
    ),
    ("SSLError(SSLEOFError(8, 'EOF occurred in violation of protocol'))", "TLS"),
    ("Error: self signed certificate in certificate chain", "TLS"),
    (
        "requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: "
        "https://api.example.com/v1/items",
        "HTTP 429 or 5xx",
    ),
    ("urllib.error.HTTPError: HTTP Error 429: Too Many Requests", "HTTP 429 or 5xx"),
    (
        "httpx.HTTPStatusError: Server error '502 Bad Gateway' for url 'https://s3.example.com/'",
        "HTTP 429 or 5xx",
    ),
    ("stripe.error.RateLimitError: Request rate limit exceeded", "HTTP 429 or 5xx"),
]

NOT_NETWORK = [
    "assert 500 == 200",  # the app under test answered 500 to Flask's test client
    "AssertionError: assert '503 SERVICE UNAVAILABLE' == '200 OK'",
    "assert 'Too many requests' in body",
    "Failed: Timeout >10.0s",  # pytest-timeout: a slow test, not the network
    "(1205, 'Lock wait timeout exceeded; try restarting transaction')",
    "AssertionError: expected refused, got accepted",
    "KeyError: 'ssl'",
    # Loopback only: a local server that was not started.
    "HTTPConnectionPool(host='localhost', port=8000): Max retries exceeded "
    "(Caused by NewConnectionError('[Errno 111] Connection refused'))",
    "connect ECONNREFUSED 127.0.0.1:5432",
    'connection to server at "127.0.0.1", port 5432 failed: Connection refused',
    "ConnectionRefusedError: http://[::1]:9000/ refused: [Errno 111] Connection refused",
]

DATABASE_FAILURES = [
    (
        'psycopg.errors.UniqueViolation: duplicate key value violates unique constraint "uq_x"',
        ["unique violation"],
    ),
    (
        "sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed: "
        "user.email",
        ["unique violation", "integrity violation"],
    ),
    ("IntegrityError: FOREIGN KEY constraint failed", ["integrity violation"]),
    ("Duplicate entry 'a@b.c' for key 'users.email'", ["unique violation"]),
    ("psycopg.errors.DeadlockDetected: deadlock detected", ["deadlock"]),
    ("(1213, 'Deadlock found when trying to get lock')", ["deadlock"]),
    ("sqlite3.OperationalError: database is locked", ["database locked"]),
    ("(1205, 'Lock wait timeout exceeded; try restarting transaction')", ["database locked"]),
    (
        "psycopg.errors.SerializationFailure: could not serialize access due to concurrent update",
        ["serialization failure"],
    ),
]

NOT_DATABASE = [
    "assert 1 == 2",
    "AssertionError: assert 'unique' in tags",
    "ValueError: the name must be unique",
]


@pytest.mark.parametrize(("message", "reason"), NETWORK_FAILURES)
def test_network_rules_recognise_real_messages(message, reason):
    assert network_reasons(message) == [reason]


@pytest.mark.parametrize("message", NOT_NETWORK)
def test_network_rules_leave_other_failures_alone(message):
    assert network_reasons(message) == []


@pytest.mark.parametrize(("message", "reasons"), DATABASE_FAILURES)
def test_database_rules_recognise_real_messages(message, reasons):
    assert database_reasons(message) == reasons


@pytest.mark.parametrize("message", NOT_DATABASE)
def test_database_rules_leave_other_failures_alone(message):
    assert database_reasons(message) == []


def test_rule_names_are_unique_and_every_rule_is_exercised():
    for rules, cases in ((NETWORK_RULES, NETWORK_FAILURES), (DATABASE_RULES, DATABASE_FAILURES)):
        names = [rule.name for rule in rules]
        assert len(names) == len(set(names))
        exercised = {
            name for _, found in cases for name in ([found] if isinstance(found, str) else found)
        }
        assert exercised == set(names)


def test_the_failure_type_counts_as_part_of_the_text():
    assert network_reasons(failure_text("ConnectionRefusedError", "boom")) == ["connection refused"]
    assert failure_text(None, None) == ""


def test_named_hosts_from_urls_pools_and_addresses():
    text = (
        "GET https://user@api.example.com:443/x failed; host='db.internal'; "
        'server at "10.1.2.3", port 5432; connect 127.0.0.1:80; http://[::1]:9/'
    )
    assert sorted(named_hosts(text)) == sorted(
        ["api.example.com", "::1", "db.internal", "10.1.2.3", "127.0.0.1"]
    )


def test_a_remote_host_next_to_a_loopback_one_is_still_remote():
    text = "proxy http://localhost:3128 to https://api.example.com: Connection refused"
    assert network_reasons(text) == ["connection refused"]


def test_parallel_only_needs_repeated_parallel_failures_and_serial_passes():
    assert fails_only_in_parallel(2, 0, 2)
    assert not fails_only_in_parallel(1, 0, 5)  # one failure may be chance
    assert not fails_only_in_parallel(3, 1, 5)  # fails alone too
    assert not fails_only_in_parallel(3, 0, 1)  # hardly seen alone


def timing(job: str, wall: float, cases: float, run_id: int = 1) -> RunTiming:
    return RunTiming(run_id, job, datetime(2026, 5, 11, tzinfo=UTC), wall, cases)


@pytest.mark.parametrize(
    ("wall", "cases", "bloated", "serial", "parallel"),
    [
        (100.0, 70.0, True, False, False),  # 30% and 30 s outside: at both thresholds
        (100.0, 71.0, False, False, False),  # 29% outside
        (35.0, 10.0, False, False, False),  # 71% outside, but only 25 s
        (50.0, 10.0, True, False, False),  # 40 s outside
        (300.0, 240.0, False, True, False),  # 5 min, case time 80% of wall time
        (300.0, 360.0, False, True, False),  # 120%: still one process, within 20%
        (299.0, 299.0, False, False, False),  # under 5 minutes
        (300.0, 450.0, False, False, True),  # 1.5x: workers overlapped
    ],
)
def test_run_thresholds(wall, cases, bloated, serial, parallel):
    run = timing("unit", wall, cases)
    assert (run.is_bloated, run.is_serial, run.is_parallel) == (bloated, serial, parallel)


def test_suites_are_judged_on_their_median_run():
    runs = [
        timing("unit", 100.0, 20.0, 1),
        timing("unit", 100.0, 20.0, 2),
        timing("unit", 100.0, 95.0, 3),
        timing("e2e", 600.0, 590.0, 4),
    ]

    suites = {suite.job: suite for suite in suite_timings(runs)}

    assert list(suites) == ["e2e", "unit"]
    assert (suites["unit"].is_bloated, suites["unit"].is_serial) == (True, False)
    assert suites["unit"].outside_share == pytest.approx(0.8)
    assert (suites["e2e"].is_bloated, suites["e2e"].is_serial) == (False, True)
