"""A realistic demo history, written as report files, for ``suitescope demo``.

Pure: nothing here touches the database. ``plan_history`` lays out a few weeks
of CI builds on ``main`` and short-lived feature branches; ``iter_history``
then renders each job of each build as the bytes real tools write (pytest
xunit1 and xunit2, jest-junit, Cobertura with branch data, LCOV; some files
gzipped). The command sends them through ``ingest_upload``, so the demo
exercises the same pipeline as real CI, and a parser change shows up in it.

The planted facts the pages are meant to show (and the tests check) are named
at module level: ``RETRY_FLAKE``, ``FLIPPER``, ``ONE_JOB_FAILURE``,
``SAME_COMMIT_FLAKE``, ``BREAKS_ON_MAIN``, ``DURATION_REGRESSION``,
``SCRIPT_NAMED``, ``UNICODE_NAMED`` and ``COVERAGE_DROP_FILE`` on
``COVERAGE_DROP_BRANCH``.

Deterministic: the same (days, seed, now) gives the same bytes. Every random
choice comes from ``random.Random`` seeded with ``seed`` (the plan) or with a
string derived from it (one per job of a build), so a run's outcomes do not
depend on the order in which anything is rendered.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from string import Template
from xml.sax.saxutils import escape, quoteattr

from ingest.pipeline import IncomingFile, UploadMeta

DEFAULT_SEED = 1729
DEFAULT_DAYS = 30
MAIN = "main"
PY311, PY312, FRONTEND, DOCS = "py3.11", "py3.12", "frontend", "docs"
PYTHON_JOBS = (PY311, PY312)
PYTHON_VERSIONS = {PY311: "3.11.10", PY312: "3.12.7"}
BUILD_URL = "https://ci.example.com/acme/suitescope-demo/builds/"
CHECKOUT = "/home/runner/work/suitescope-demo/suitescope-demo"
FIRST_BUILD_NUMBER = 4100

# Builds start in working hours (UTC); none later than a few minutes ago.
WORKDAY_START_HOUR = 8
WORKDAY_HOURS = 10
FRESHNESS = timedelta(minutes=5)


# --- What the command ingests ------------------------------------------------------------


@dataclass(slots=True)
class DemoUpload:
    """One call of ``ingest_upload``: a job's report files (or one shard's)."""

    meta: UploadMeta
    files: list[IncomingFile]


@dataclass(slots=True)
class DemoDay:
    """The uploads of one day of the history, in time order (for progress reports)."""

    index: int
    date: date
    uploads: list[DemoUpload]

    @property
    def runs(self) -> int:
        """Distinct (build, job) pairs: shards of one run count once."""
        return len({(u.meta.build, u.meta.job) for u in self.uploads})


# --- The test suite ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseKey:
    """A test's identity as Suitescope stores it: (file, classname, name)."""

    file: str
    classname: str
    name: str


class Trait(StrEnum):
    """How a test behaves across the history."""

    STEADY = "steady"
    SKIPPED = "skipped"
    RETRY_FLAKE = "retry-flake"  # fails, then passes on a pytest-rerunfailures rerun
    FLIPPER = "flipper"  # fails about a quarter of the runs, whatever the commit
    ONE_JOB = "one-job"  # always fails on py3.12, never on py3.11
    SAME_COMMIT = "same-commit"  # fails on the first run of some commits, passes on re-run
    BREAKS = "breaks"  # broken on main for two days, then fixed
    REGRESSES = "regresses"  # three times slower over the last 7 days
    HTTP_503 = "http-503"  # a remote API answers 503 now and then
    CONNECTION_RESET = "connection-reset"
    JEST_TIMEOUT = "jest-timeout"


@dataclass(frozen=True, slots=True)
class DemoCase:
    key: CaseKey
    line: int
    base_ms: float
    trait: Trait = Trait.STEADY
    # Unit tests that need no database or network keep passing in an outage.
    needs_services: bool = True


def python_key(file: str, cls: str, name: str) -> CaseKey:
    """The key pytest's xunit1 report gives a test: classname is the dotted module + class."""
    module = file.removesuffix(".py").replace("/", ".")
    return CaseKey(file, f"{module}.{cls}" if cls else module, name)


def params(name: str, *ids: str) -> tuple[str, ...]:
    return tuple(f"{name}[{i}]" for i in ids)


RETRY_FLAKE = python_key("tests/test_storage.py", "TestUploadStore", "test_concurrent_writes")
FLIPPER = python_key("tests/test_webhooks.py", "TestDelivery", "test_retries_on_timeout")
ONE_JOB_FAILURE = python_key("tests/test_compat.py", "TestDatetime", "test_utc_offset_parsing")
SAME_COMMIT_FLAKE = python_key("tests/test_api.py", "TestUploads", "test_upload_then_list")
BREAKS_ON_MAIN = python_key("tests/test_reports.py", "TestSummary", "test_totals_include_skipped")
DURATION_REGRESSION = python_key("tests/test_search.py", "TestSearchIndex", "test_full_text_query")
SCRIPT_NAMED = python_key("tests/test_security.py", "TestEscaping", "<script>alert(1)</script>")
UNICODE_NAMED = python_key("tests/test_security.py", "TestEscaping", "test_slugify[Crème brûlée]")
HTTP_503_TEST = python_key("tests/test_integrations.py", "TestGitHub", "test_fetch_status_checks")
RESET_TEST = python_key("tests/test_api.py", "TestUploads", "test_stream_large_upload")
SKIPPED_TEST = python_key("tests/test_cli.py", "", "test_postgres_copy")
JEST_TIMEOUT_TEST = CaseKey(
    "web/src/components/FlakyList.test.tsx", "FlakyList", "loads the next page on scroll"
)
ONE_JOB_FAILURE_JOB = PY312

# file -> (class, test names); "" is for module-level test functions.
# fmt: off
PYTHON_SUITE: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "tests/test_api.py": (
        ("TestUploads", (
            "test_upload_junit", "test_upload_gzip", "test_upload_then_list",
            "test_stream_large_upload", "test_rejects_bad_token", "test_rejects_oversized_body",
            "test_duplicate_upload_is_acknowledged", "test_shards_merge",
        )),
        ("TestRunsEndpoint", (
            "test_list_runs", "test_run_detail", *params("test_pagination", "10", "50", "200"),
            "test_filters_by_branch",
        )),
    ),
    "tests/test_auth.py": (
        ("TestTokens", (
            "test_token_is_hashed", "test_revoked_token_is_refused", "test_last_used_is_recorded",
            *params("test_scopes", "read", "upload", "admin"),
        )),
        ("", ("test_login_required", "test_logout_clears_session", "test_password_hashing")),
    ),
    "tests/test_parsing.py": (
        ("TestJunit", (
            *params("test_parse", "gzip-utf8", "gzip-latin1", "plain-utf8", "plain-utf16"),
            "test_nested_suites", "test_rerun_elements", "test_skipped_with_message",
            "test_bad_xml_is_refused", 'test_names_are_escaped["a & b"]',
        )),
        ("TestCobertura", (
            "test_condition_coverage", "test_sources_make_paths_relative",
            "test_without_branch_data", "test_merges_partial_classes",
        )),
    ),
    "tests/test_detect.py": (
        ("", (
            *params("test_detect", "junit", "cobertura", "lcov", "jacoco", "clover",
                    "coveragepy-json", "go-coverprofile"),
            "test_unknown_format_is_refused", "test_gzip_bomb_is_refused",
        )),
    ),
    "tests/test_storage.py": (
        ("TestUploadStore", (
            "test_concurrent_writes", *params("test_bulk_insert", "100", "10000"),
            "test_upsert_cases", "test_shard_merge", "test_rollback_on_error",
        )),
        ("TestMigrations", ("test_upgrade_head", "test_downgrade_base")),
    ),
    "tests/test_webhooks.py": (
        ("TestDelivery", (
            "test_retries_on_timeout", "test_signature_header",
            "test_gives_up_after_three_attempts",
            *params("test_payload_schema", "run.finished", "run.failed"),
        )),
    ),
    "tests/test_compat.py": (
        ("TestDatetime", (
            "test_utc_offset_parsing",
            *params("test_parse_iso", "Z", "+00:00", "-05:00", "no-zone"), "test_naive_is_utc",
        )),
    ),
    "tests/test_reports.py": (
        ("TestSummary", ("test_totals_include_skipped", "test_pass_rate", "test_empty_run")),
        ("TestWeeklyReview", (
            "test_sections", *params("test_top_flaky", "5", "10"), "test_render_markdown",
        )),
    ),
    "tests/test_search.py": (
        ("TestSearchIndex", (
            "test_full_text_query", "test_prefix_query", *params("test_query", "a & b", "ünïcödé"),
            "test_reindex",
        )),
    ),
    "tests/test_security.py": (
        ("TestEscaping", (
            "<script>alert(1)</script>", "test_escapes_ampersand", "test_slugify[Crème brûlée]",
        )),
        ("TestHeaders", (
            "test_csrf_required",
            *params("test_header", "Content-Security-Policy", "X-Frame-Options"),
        )),
    ),
    "tests/test_integrations.py": (
        ("TestGitHub", (
            "test_fetch_status_checks", "test_comment_on_pull_request", "test_parse_webhook",
        )),
        ("TestSlack", ("test_post_message", "test_truncates_long_messages")),
    ),
    "tests/test_analytics.py": (
        ("TestFlakiness", (
            "test_retry_flake_counts", "test_same_commit_pairs",
            *params("test_flip_rate", "steady", "alternating", "one-job"),
            "test_infrastructure_runs_are_ignored", "test_wilson_interval",
        )),
        ("TestDurations", (
            "test_median_and_p95", "test_regression_needs_five_samples",
            *params("test_parallelism_estimate", "2", "4", "8"),
        )),
    ),
    "tests/test_coverage.py": (
        ("TestLineRate", (
            "test_rate", "test_no_lines_is_none", *params("test_delta", "branch", "default"),
        )),
        ("TestBranchRate", (
            "test_rate", "test_missing_branch_data_is_not_zero", "test_treemap_by_directory",
        )),
    ),
    "tests/test_cli.py": (
        ("", (
            "test_help", "test_ingest_command", "test_upload_retries", "test_version",
            "test_postgres_copy",
        )),
    ),
    "tests/e2e/test_browser.py": (
        ("TestBrowser", (
            "test_login_flow", "test_dashboard_loads", "test_flaky_page_filters",
            "test_run_detail_page",
        )),
    ),
}
# fmt: on

TRAITS: dict[CaseKey, Trait] = {
    RETRY_FLAKE: Trait.RETRY_FLAKE,
    FLIPPER: Trait.FLIPPER,
    ONE_JOB_FAILURE: Trait.ONE_JOB,
    SAME_COMMIT_FLAKE: Trait.SAME_COMMIT,
    BREAKS_ON_MAIN: Trait.BREAKS,
    DURATION_REGRESSION: Trait.REGRESSES,
    HTTP_503_TEST: Trait.HTTP_503,
    RESET_TEST: Trait.CONNECTION_RESET,
    SKIPPED_TEST: Trait.SKIPPED,
    JEST_TIMEOUT_TEST: Trait.JEST_TIMEOUT,
}

# The slow end of the suite: migrations and browser tests take seconds.
SLOW_MS: dict[CaseKey, float] = {
    python_key("tests/test_storage.py", "TestMigrations", "test_upgrade_head"): 3200.0,
    python_key("tests/test_storage.py", "TestMigrations", "test_downgrade_base"): 2100.0,
    python_key("tests/e2e/test_browser.py", "TestBrowser", "test_login_flow"): 6400.0,
    python_key("tests/e2e/test_browser.py", "TestBrowser", "test_dashboard_loads"): 4300.0,
    python_key("tests/e2e/test_browser.py", "TestBrowser", "test_flaky_page_filters"): 9100.0,
    python_key("tests/e2e/test_browser.py", "TestBrowser", "test_run_detail_page"): 2700.0,
    DURATION_REGRESSION: 300.0,
}

# jest-junit joins nested describe blocks with a right-pointing angle quote.
JEST_NESTING = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "

# jest-junit with classNameTemplate "{classname}", titleTemplate "{title}" and
# addFileAttribute: file -> (describe block, test titles).
# fmt: off
JEST_SUITE: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "web/src/components/RunTable.test.tsx": (
        (f"RunTable{JEST_NESTING}sorting", (
            "sorts by duration", "sorts by name", "keeps the sort in the URL",
        )),
        (f"RunTable{JEST_NESTING}rendering", ("renders an empty state", "highlights failed runs")),
    ),
    "web/src/components/FlakyList.test.tsx": (
        ("FlakyList", (
            "filters by branch", "shows the Wilson interval", "loads the next page on scroll",
            "quarantines from the row menu",
        )),
    ),
    "web/src/lib/format.test.ts": (
        ("formatDuration", ("formats milliseconds", "formats minutes", "handles 0")),
        ("formatPercent", ("rounds to one decimal", "shows n/a for NaN")),
    ),
    "web/src/lib/api.test.ts": (
        ("api client", ("retries on 503", "sends the token header", "parses error bodies")),
    ),
    "web/src/charts/trend.test.ts": (
        ("trendChart", ("builds a Plotly figure", "marks infrastructure failures")),
    ),
}
# fmt: on

# pytest --doctest-modules with xunit2 (no file attribute): module -> functions.
DOCTESTS: dict[str, tuple[str, ...]] = {
    "src/suitescope_demo/util/dates.py": ("parse_iso", "humanize_delta"),
    "src/suitescope_demo/analytics/flakiness.py": ("wilson_interval", "flip_rate"),
    "src/suitescope_demo/analytics/durations.py": ("median", "percentile"),
    "src/suitescope_demo/ingest/detect.py": ("sniff",),
}


def _base_ms(key: CaseKey) -> float:
    """A stable typical duration: most tests take 5-200 ms."""
    if key in SLOW_MS:
        return SLOW_MS[key]
    rng = random.Random(f"duration:{key.file}:{key.classname}:{key.name}")
    return min(200.0, max(5.0, rng.lognormvariate(math.log(25.0), 0.9)))


def _case(key: CaseKey, line: int, index: int) -> DemoCase:
    return DemoCase(
        key=key,
        line=line,
        base_ms=_base_ms(key),
        trait=TRAITS.get(key, Trait.STEADY),
        needs_services=index % 10 != 0,
    )


@lru_cache(maxsize=1)
def python_catalogue() -> tuple[DemoCase, ...]:
    cases: list[DemoCase] = []
    for file, groups in PYTHON_SUITE.items():
        line = 12
        for cls, names in groups:
            line += 8
            for name in names:
                cases.append(_case(python_key(file, cls, name), line, len(cases)))
                line += 17
    return tuple(cases)


@lru_cache(maxsize=1)
def jest_catalogue() -> tuple[DemoCase, ...]:
    cases: list[DemoCase] = []
    for file, groups in JEST_SUITE.items():
        for describe, titles in groups:
            for title in titles:
                key = CaseKey(file, describe, title)
                cases.append(_case(key, 10 + 12 * len(cases), len(cases)))
    return tuple(cases)


@lru_cache(maxsize=1)
def doctest_catalogue() -> tuple[DemoCase, ...]:
    cases: list[DemoCase] = []
    for path, functions in DOCTESTS.items():
        module = path.removeprefix("src/").removesuffix(".py").replace("/", ".")
        classname = path.removesuffix(".py").replace("/", ".")
        for function in functions:
            key = CaseKey("", classname, f"{module}.{function}")
            cases.append(_case(key, 1, len(cases)))
    return tuple(cases)


# --- Failures, as the tools print them ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailureText:
    """A failure's ``message`` attribute and element text, with ``$`` placeholders.

    ``element`` is the JUnit element pytest writes: ``failure`` for a failed
    assertion or exception in the test, ``error`` for one in a fixture.
    """

    message: str
    trace: str
    element: str = "failure"
    waits_s: float = 0.0  # a timeout: the test waited this long before failing

    def render(self, values: dict[str, str]) -> tuple[str, str]:
        return (
            Template(self.message).safe_substitute(values),
            Template(self.trace).safe_substitute(values),
        )


SEPARATOR = "_ " * 40
SITE = "/opt/hostedtoolcache/Python/$pyfull/x64/lib/python$py/site-packages"

DATABASE_LOCKED = FailureText(
    message="sqlite3.OperationalError: database is locked",
    trace=f"""self = <tests.test_storage.TestUploadStore object at $addr>
store = <UploadStore path='/tmp/pytest-of-runner/pytest-$n/test_concurrent_writes0/uploads.db'>

    def test_concurrent_writes(self, store):
        with ThreadPoolExecutor(max_workers=8) as pool:
>           list(pool.map(store.save, make_uploads(50)))

tests/test_storage.py:$line:
{SEPARATOR}
/opt/hostedtoolcache/Python/$pyfull/x64/lib/python$py/concurrent/futures/_base.py:619: in result_iterator
    yield _result_or_cancel(fs.pop())
src/suitescope_demo/ingest/store.py:88: in save
    connection.execute(INSERT_UPLOAD, row)
E   sqlite3.OperationalError: database is locked

src/suitescope_demo/ingest/store.py:88: OperationalError""",  # noqa: E501
)

READ_TIMEOUT = FailureText(
    message=(
        "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='hooks.example.com', "
        "port=443): Read timed out. (read timeout=5)"
    ),
    waits_s=5.0,
    trace=f"""self = <tests.test_webhooks.TestDelivery object at $addr>
receiver = <WebhookReceiver url='https://hooks.example.com/suitescope'>

    def test_retries_on_timeout(self, receiver):
>       delivery = deliver(receiver.url, event="run.finished", attempts=3)

tests/test_webhooks.py:$line:
{SEPARATOR}
src/suitescope_demo/webhooks/delivery.py:41: in deliver
    response = session.post(url, json=payload, timeout=5)
{SITE}/requests/sessions.py:637: in post
    return self.request("POST", url, data=data, json=json, **kwargs)
{SITE}/requests/adapters.py:713: in send
    raise ReadTimeout(e, request=request)
E   requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='hooks.example.com', port=443): Read timed out. (read timeout=5)

{SITE}/requests/adapters.py:713: ReadTimeout""",  # noqa: E501
)

UTCFROMTIMESTAMP = FailureText(
    message=(
        "DeprecationWarning: datetime.datetime.utcfromtimestamp() is deprecated and scheduled "
        "for removal in a future version. Use timezone-aware objects to represent datetimes "
        "in UTC: datetime.datetime.fromtimestamp(timestamp, datetime.UTC)."
    ),
    trace=f"""self = <tests.test_compat.TestDatetime object at $addr>

    def test_utc_offset_parsing(self):
>       assert to_utc("1732608000") == datetime(2024, 11, 26, 8, 0, tzinfo=UTC)

tests/test_compat.py:$line:
{SEPARATOR}
src/suitescope_demo/util/dates.py:23: in to_utc
    naive = datetime.utcfromtimestamp(int(value))
E   DeprecationWarning: datetime.datetime.utcfromtimestamp() is deprecated and scheduled for removal in a future version. Use timezone-aware objects to represent datetimes in UTC: datetime.datetime.fromtimestamp(timestamp, datetime.UTC).

src/suitescope_demo/util/dates.py:23: DeprecationWarning""",  # noqa: E501
)

DUPLICATE_KEY = FailureText(
    message=(
        "sqlalchemy.exc.IntegrityError: (psycopg.errors.UniqueViolation) duplicate key value "
        'violates unique constraint "uq_run_project_id_build_job"\n'
        "DETAIL:  Key (project_id, build, job)=(1, $build, $job) already exists."
    ),
    trace=f"""self = <tests.test_api.TestUploads object at $addr>
client = <FlaskClient <Flask 'suitescope_demo'>>, token = 'ss_test-token-0001'

    def test_upload_then_list(self, client, token):
        first = upload(client, token, build="$build", job="$job")
>       second = upload(client, token, build="$build", job="$job")

tests/test_api.py:$line:
{SEPARATOR}
src/suitescope_demo/api/uploads.py:64: in create_upload
    run = get_or_create_run(session, project.id, meta)
src/suitescope_demo/ingest/store.py:41: in get_or_create_run
    session.flush()
{SITE}/sqlalchemy/engine/default.py:941: in do_execute
    cursor.execute(statement, parameters)
E   sqlalchemy.exc.IntegrityError: (psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "uq_run_project_id_build_job"
E   DETAIL:  Key (project_id, build, job)=(1, $build, $job) already exists.
E   [SQL: INSERT INTO run (project_id, build, job, started_at) VALUES (%(project_id)s, %(build)s, %(job)s, %(started_at)s) RETURNING run.id]

{SITE}/psycopg/cursor.py:97: IntegrityError""",  # noqa: E501
)

TOTALS_OFF_BY_ONE = FailureText(
    message=(
        "AssertionError: assert 41 == 42\n"
        " +  where 41 = RunSummary(passed=38, failed=2, errors=1, skipped=1).total"
    ),
    trace=f"""self = <tests.test_reports.TestSummary object at $addr>
run = <Run 7 build=4182 job=py3.11>

    def test_totals_include_skipped(self, run):
        summary = summarize(run)
>       assert summary.total == 42
E       AssertionError: assert 41 == 42
E        +  where 41 = RunSummary(passed=38, failed=2, errors=1, skipped=1).total

tests/test_reports.py:$line: AssertionError
{SEPARATOR}""",
)

SERVICE_UNAVAILABLE = FailureText(
    message=(
        "requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: "
        "https://api.github.com/repos/acme/suitescope-demo/commits/$sha/status"
    ),
    trace=f"""self = <tests.test_integrations.TestGitHub object at $addr>
github = <GitHubClient api='https://api.github.com' repo='acme/suitescope-demo'>

    def test_fetch_status_checks(self, github):
>       checks = github.status_checks("$sha")

tests/test_integrations.py:$line:
{SEPARATOR}
src/suitescope_demo/integrations/github.py:57: in status_checks
    response.raise_for_status()
E   requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: https://api.github.com/repos/acme/suitescope-demo/commits/$sha/status

{SITE}/requests/models.py:1024: HTTPError""",
)

CONNECTION_RESET = FailureText(
    message="ConnectionResetError: [Errno 104] Connection reset by peer",
    trace=f"""self = <tests.test_api.TestUploads object at $addr>
live_server = <LiveServer listening at http://127.0.0.1:$port>

    def test_stream_large_upload(self, live_server):
        with open(BIG_REPORT, "rb") as body:
>           response = requests.post(live_server.url("/api/v1/uploads"), data=body, timeout=30)

tests/test_api.py:$line:
{SEPARATOR}
{SITE}/urllib3/connectionpool.py:789: in urlopen
    response = self._make_request(
/opt/hostedtoolcache/Python/$pyfull/x64/lib/python$py/socket.py:720: in readinto
    return self._sock.recv_into(b)
E   ConnectionResetError: [Errno 104] Connection reset by peer

/opt/hostedtoolcache/Python/$pyfull/x64/lib/python$py/socket.py:720: ConnectionResetError""",
)

CONNECTION_REFUSED = FailureText(
    message='failed on setup with "ConnectionRefusedError: [Errno 111] Connection refused"',
    trace=f"""@pytest.fixture(scope="session")
    def database(postgres_url):
>       engine = connect_with_retry(postgres_url, attempts=1)

tests/conftest.py:48:
{SEPARATOR}
src/suitescope_demo/db/session.py:31: in connect_with_retry
    connection = engine.connect()
{SITE}/psycopg/connection.py:119: in connect
    raise last_ex.with_traceback(None)
E   ConnectionRefusedError: [Errno 111] Connection refused

{SITE}/psycopg/connection.py:119: ConnectionRefusedError""",
    element="error",
)

JEST_TIMEOUT = FailureText(
    message="",
    waits_s=5.0,
    trace=f"""thrown: "Exceeded timeout of 5000 ms for a test.
Add a timeout value to this test to increase the timeout, if this is a long-running test. See https://jestjs.io/docs/api#testname-fn-timeout."
    at it ({CHECKOUT}/web/src/components/FlakyList.test.tsx:$line:3)
    at Object.describe ({CHECKOUT}/web/src/components/FlakyList.test.tsx:12:1)
    at Runtime._execModule ({CHECKOUT}/node_modules/jest-runtime/build/index.js:1439:24)""",
)

SKIP_REASON = "requires PostgreSQL (set TEST_DATABASE_URL)"


# --- The plan: which builds run, when, and what goes wrong -------------------------------


class Incident(StrEnum):
    """Something planted on one build (the rest is chance)."""

    SAME_COMMIT_FAILURE = "same-commit-failure"  # SAME_COMMIT_FLAKE fails; re-run follows
    INFRA_OUTAGE = "infra-outage"  # py3.11's database service is down; re-run follows
    RETRY = "retry"  # RETRY_FLAKE needs its rerun on py3.11


RERUN_INCIDENTS = frozenset({Incident.SAME_COMMIT_FAILURE, Incident.INFRA_OUTAGE})


@dataclass(frozen=True, slots=True)
class Build:
    """One CI build: every job shares its number; a re-run is a new build of the same commit."""

    number: int
    branch: str
    commit: str
    commit_at: datetime  # when the commit was pushed (its first build started)
    started_at: datetime
    day: int
    attempt: int = 1
    sharded: bool = False
    docs: bool = False  # the docs job ran (a path filter: only when src/ changed)
    incidents: frozenset[Incident] = frozenset()

    @property
    def build_id(self) -> str:
        return str(self.number)

    @property
    def jobs(self) -> tuple[str, ...]:
        return (PY311, PY312, FRONTEND, DOCS) if self.docs else (PY311, PY312, FRONTEND)


@dataclass(frozen=True, slots=True)
class FeatureBranch:
    name: str
    starts_at: float  # share of the history before its first push
    days_alive: int

    def days(self, total_days: int) -> range:
        first = min(total_days - 1, int(self.starts_at * (total_days - 1)))
        return range(first, min(total_days, first + self.days_alive))


COVERAGE_DROP_BRANCH = "feature/streaming-parser"
COVERAGE_DROP_FILE = "src/suitescope_demo/ingest/parser.py"
FEATURE_BRANCHES = (
    FeatureBranch(COVERAGE_DROP_BRANCH, 0.2, 4),
    FeatureBranch("fix/webhook-timeouts", 0.5, 2),
    FeatureBranch("feature/coverage-treemap", 0.85, 6),  # still open today
)


@dataclass(frozen=True, slots=True)
class Plan:
    """A whole history's builds and the planted events' times."""

    days: int
    seed: int
    now: datetime
    first_day: date
    builds: tuple[Build, ...]
    broken_from: datetime | None  # BREAKS_ON_MAIN fails on main commits in [from, until)
    broken_until: datetime | None

    @property
    def regression_from(self) -> datetime:
        """DURATION_REGRESSION is slow from here on: inside the 7-day window."""
        return self.now - timedelta(days=6, hours=12)

    def is_broken(self, build: Build) -> bool:
        if self.broken_from is None or self.broken_until is None or build.branch != MAIN:
            return False
        return self.broken_from <= build.commit_at < self.broken_until

    def progress(self, build: Build) -> float:
        """How far into the history the build's commit is, 0 to 1 (coverage drifts with it)."""
        span = max(1, self.days - 1)
        return min(1.0, (build.commit_at.date() - self.first_day).days / span)


def plan_history(days: int, seed: int, now: datetime) -> Plan:
    """Lay out every build of ``days`` days ending at ``now`` (timezone-aware)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    rng = random.Random(seed)
    first_day = now.date() - timedelta(days=days - 1)
    pushes = sorted(_pushes(rng, seed, days, first_day, now), key=lambda b: b.started_at)
    pushes = _plant_incidents(pushes, days, rng)
    builds = _with_reruns(pushes, rng, now)
    numbered = tuple(
        replace(build, number=FIRST_BUILD_NUMBER + index) for index, build in enumerate(builds)
    )
    broken_from = _break_time(numbered, days)
    return Plan(
        days=days,
        seed=seed,
        now=now,
        first_day=first_day,
        builds=numbered,
        broken_from=broken_from,
        broken_until=broken_from + timedelta(days=2) if broken_from else None,
    )


def _pushes(
    rng: random.Random, seed: int, days: int, first_day: date, now: datetime
) -> Iterator[Build]:
    """First builds of every commit pushed to main and the feature branches."""
    commits: Counter[str] = Counter()
    for day in range(days):
        current = first_day + timedelta(days=day)
        weekend = current.weekday() >= 5
        branches = [MAIN] * (1 if weekend else rng.randint(2, 4))
        for feature in FEATURE_BRANCHES:
            if day in feature.days(days):
                branches += [feature.name] * (rng.randint(0, 1) if weekend else rng.randint(1, 3))
        for branch in branches:
            started_at = _working_time(rng, current)
            if started_at > now - FRESHNESS:
                continue
            commits[branch] += 1
            yield Build(
                number=0,
                branch=branch,
                commit=_commit_sha(seed, branch, commits[branch]),
                commit_at=started_at,
                started_at=started_at,
                day=day,
            )


def _working_time(rng: random.Random, day: date) -> datetime:
    seconds = rng.randrange(WORKDAY_HOURS * 3600)
    start = datetime(day.year, day.month, day.day, WORKDAY_START_HOUR, tzinfo=UTC)
    return start + timedelta(seconds=seconds)


def _commit_sha(seed: int, branch: str, number: int) -> str:
    return hashlib.sha1(f"{seed}:{branch}:{number}".encode(), usedforsecurity=False).hexdigest()


def _plant_incidents(pushes: list[Build], days: int, rng: random.Random) -> list[Build]:
    """Put the planted incidents on chosen builds, then sprinkle chance ones.

    Planted days are counted back from today, so short histories have them
    too; the first build of the history carries a retry flake and is sharded.
    """
    incidents: dict[int, set[Incident]] = {0: {Incident.RETRY}} if pushes else {}
    for day, incident, nth in (
        (days - 2, Incident.SAME_COMMIT_FAILURE, 0),
        (days // 3, Incident.SAME_COMMIT_FAILURE, 0),
        (days - 6, Incident.INFRA_OUTAGE, 1),  # the day's second main build, if it has two
    ):
        index = _free_main_build(pushes, incidents, max(0, day), nth)
        if index is not None:
            incidents[index] = {incident}
    planted = []
    for index, build in enumerate(pushes):
        chosen = incidents.get(index, set())
        if not chosen and rng.random() < 0.05:
            chosen = {Incident.SAME_COMMIT_FAILURE}
        sharded = index == 0 or rng.random() < 0.25
        # Doctests run on main when the sources changed (a path filter): a third of pushes.
        docs = build.branch == MAIN and (index == 0 or rng.random() < 0.35)
        planted.append(replace(build, incidents=frozenset(chosen), sharded=sharded, docs=docs))
    return planted


def _free_main_build(
    pushes: Sequence[Build], taken: dict[int, set[Incident]], day: int, nth: int
) -> int | None:
    """The ``nth`` main build without an incident on ``day``, or on the nearest day with one.

    A weekend day may have a single main build, already taken.
    """
    days = {build.day for build in pushes}
    for candidate_day in sorted(days, key=lambda d: (abs(d - day), -d)):
        free = [
            index
            for index, build in enumerate(pushes)
            if build.branch == MAIN and build.day == candidate_day and index not in taken
        ]
        if free:
            return free[min(nth, len(free) - 1)]
    return None


def _with_reruns(pushes: list[Build], rng: random.Random, now: datetime) -> list[Build]:
    """Add re-runs: always after a planted failure, now and then after any build."""
    builds = list(pushes)
    for build in pushes:
        if not (build.incidents & RERUN_INCIDENTS or rng.random() < 0.05):
            continue
        rerun = replace(
            build,
            started_at=build.started_at + timedelta(minutes=rng.randint(15, 50)),
            attempt=2,
            sharded=rng.random() < 0.25,
            incidents=frozenset(),
        )
        if rerun.started_at <= now - FRESHNESS:
            builds.append(rerun)
    return sorted(builds, key=lambda b: b.started_at)


def _break_time(builds: Sequence[Build], days: int) -> datetime | None:
    """The first main commit of the middle day, after noon if there is one."""
    day = days // 2
    main = [b for b in builds if b.branch == MAIN and b.day == day and b.attempt == 1]
    if not main:
        return None
    afternoon = [b for b in main if b.started_at.hour >= 12]
    return (afternoon or main)[0].commit_at


# --- One job of one build: what each test did --------------------------------------------


@dataclass(slots=True)
class CaseRun:
    """One test's outcome in one job, ready to render."""

    case: DemoCase
    outcome: str  # "passed", "failed", "error" or "skipped"
    seconds: float
    failure: tuple[str, str] | None = None  # (message, trace)
    failure_element: str = "failure"
    skip_reason: str | None = None
    reruns: list[tuple[str, str]] = field(default_factory=list)  # failed attempts, then a pass


@dataclass(slots=True)
class JobContext:
    plan: Plan
    build: Build
    job: str
    rng: random.Random

    @property
    def infra_down(self) -> bool:
        return Incident.INFRA_OUTAGE in self.build.incidents and self.job == PY311

    def values(self, case: DemoCase) -> dict[str, str]:
        """What fills a failure text's placeholders for this case in this job."""
        pyfull = PYTHON_VERSIONS.get(self.job, "3.12.7")
        return {
            "addr": f"0x7f{self.rng.getrandbits(36):09x}",
            "n": str(self.rng.randint(0, 40)),
            "port": str(self.rng.randint(32768, 60999)),
            "line": str(case.line + 3),
            "py": pyfull.rsplit(".", 1)[0],
            "pyfull": pyfull,
            "build": self.build.build_id,
            "job": self.job,
            "sha": self.build.commit,
        }


def job_rng(plan: Plan, build: Build, job: str) -> random.Random:
    return random.Random(f"{plan.seed}:{build.number}:{job}")


def simulate(cases: Iterable[DemoCase], context: JobContext) -> list[CaseRun]:
    return [simulate_case(case, context) for case in cases]


def simulate_case(case: DemoCase, context: JobContext) -> CaseRun:
    # Drawn first, whatever the outcome, so one planted change moves no other draw.
    seconds = _duration(case, context)
    if case.trait is Trait.SKIPPED:
        return CaseRun(case, "skipped", 0.0, skip_reason=SKIP_REASON)
    if context.infra_down and case.needs_services:
        # Setup fails fast when the service refuses the connection.
        return _failed(case, context, CONNECTION_REFUSED, seconds=0.004)
    failure = _planted_failure(case, context)
    if failure is not None:
        return _failed(case, context, failure, seconds)
    run = CaseRun(case, "passed", seconds)
    if _needs_rerun(case, context):
        run.reruns.append(DATABASE_LOCKED.render(context.values(case)))
    return run


def _planted_failure(case: DemoCase, context: JobContext) -> FailureText | None:
    """The failure this case shows in this job, if any (draws from the job's rng)."""
    rng, build = context.rng, context.build
    trait = case.trait
    if trait is Trait.FLIPPER:
        return READ_TIMEOUT if rng.random() < 0.25 else None
    if trait is Trait.ONE_JOB:
        return UTCFROMTIMESTAMP if context.job == ONE_JOB_FAILURE_JOB else None
    if trait is Trait.SAME_COMMIT:
        return DUPLICATE_KEY if Incident.SAME_COMMIT_FAILURE in build.incidents else None
    if trait is Trait.BREAKS:
        return TOTALS_OFF_BY_ONE if context.plan.is_broken(build) else None
    if trait is Trait.HTTP_503:
        return SERVICE_UNAVAILABLE if rng.random() < 0.05 else None
    if trait is Trait.CONNECTION_RESET:
        return CONNECTION_RESET if rng.random() < 0.03 else None
    if trait is Trait.JEST_TIMEOUT:
        return JEST_TIMEOUT if rng.random() < 0.06 else None
    return None


def _needs_rerun(case: DemoCase, context: JobContext) -> bool:
    if case.trait is not Trait.RETRY_FLAKE:
        return False
    forced = Incident.RETRY in context.build.incidents and context.job == PY311
    return forced or context.rng.random() < 0.15


def _failed(case: DemoCase, context: JobContext, text: FailureText, seconds: float) -> CaseRun:
    return CaseRun(
        case,
        "error" if text.element == "error" else "failed",
        seconds + text.waits_s,
        failure=text.render(context.values(case)),
        failure_element=text.element,
    )


def _duration(case: DemoCase, context: JobContext) -> float:
    """Seconds: the case's typical time with noise; py3.12 is a little faster."""
    base = case.base_ms
    if case.trait is Trait.REGRESSES and context.build.started_at >= context.plan.regression_from:
        base *= 3.0
    factor = 0.93 if context.job == PY312 else 1.0
    return round(base * factor * context.rng.lognormvariate(0.0, 0.12) / 1000.0, 4)


# --- Test reports --------------------------------------------------------------------------


def _counts(runs: Sequence[CaseRun]) -> Counter[str]:
    return Counter(run.outcome for run in runs)


def _hostname(build: Build, job: str) -> str:
    digest = hashlib.sha1(f"{build.number}:{job}".encode(), usedforsecurity=False).hexdigest()
    return f"fv-az{digest[:4]}-{digest[4:7]}"


def render_pytest(
    runs: Sequence[CaseRun], started_at: datetime, hostname: str, *, xunit1: bool
) -> bytes:
    """A pytest ``--junitxml`` report; xunit1 adds ``file`` and ``line`` to each case."""
    counts = _counts(runs)
    wall = 1.4 + sum(run.seconds for run in runs)
    suite = (
        f'<testsuite name="pytest" errors="{counts["error"]}" failures="{counts["failed"]}" '
        f'skipped="{counts["skipped"]}" tests="{len(runs)}" time="{wall:.3f}" '
        f'timestamp="{started_at.isoformat()}" hostname="{hostname}">'
    )
    root = "<testsuites>" if xunit1 else '<testsuites name="pytest tests">'
    body = "".join(_pytest_case(run, xunit1) for run in runs)
    document = f'<?xml version="1.0" encoding="utf-8"?>{root}{suite}{body}</testsuite></testsuites>'
    return document.encode("utf-8")


def _pytest_case(run: CaseRun, xunit1: bool) -> str:
    key = run.case.key
    where = f' file={quoteattr(key.file)} line="{run.case.line}"' if xunit1 else ""
    attrs = f"classname={quoteattr(key.classname)}{where} name={quoteattr(key.name)}"
    children = "".join(
        f"<rerun message={quoteattr(message)}>{escape(trace)}</rerun>"
        for message, trace in run.reruns
    )
    if run.outcome == "skipped":
        reason = run.skip_reason or ""
        children += (
            f'<skipped type="pytest.skip" message={quoteattr(reason)}>'
            f"{escape(f'{key.file}:{run.case.line + 1}: {reason}')}</skipped>"
        )
    elif run.failure is not None:
        message, trace = run.failure
        tag = run.failure_element
        children += f"<{tag} message={quoteattr(message)}>{escape(trace)}</{tag}>"
    time = f'time="{run.seconds:.3f}"'
    if not children:
        return f"<testcase {attrs} {time} />"
    return f"<testcase {attrs} {time}>{children}</testcase>"


def render_jest(runs: Sequence[CaseRun], started_at: datetime) -> bytes:
    """A jest-junit report: one suite per test file, failures as element text only."""
    by_file: dict[str, list[CaseRun]] = {}
    for run in runs:
        by_file.setdefault(run.case.key.file, []).append(run)
    counts = _counts(runs)
    total = sum(run.seconds for run in runs)
    suites = "".join(
        _jest_suite(file, file_runs, started_at) for file, file_runs in by_file.items()
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<testsuites name="jest tests" tests="{len(runs)}" failures="{counts["failed"]}" '
        f'errors="0" time="{total + 2.1:.3f}">{suites}</testsuites>'
    )
    return document.encode("utf-8")


def _jest_suite(file: str, runs: Sequence[CaseRun], started_at: datetime) -> str:
    counts = _counts(runs)
    cases = []
    for run in runs:
        key = run.case.key
        head = (
            f"<testcase classname={quoteattr(key.classname)} name={quoteattr(key.name)} "
            f'time="{run.seconds:.3f}" file={quoteattr(key.file)}>'
        )
        failure = f"<failure>{escape(run.failure[1])}</failure>" if run.failure else ""
        cases.append(f"{head}{failure}</testcase>")
    return (
        f'<testsuite name={quoteattr(file)} errors="0" failures="{counts["failed"]}" '
        f'skipped="{counts["skipped"]}" timestamp="{started_at:%Y-%m-%dT%H:%M:%S}" '
        f'time="{sum(r.seconds for r in runs):.3f}" tests="{len(runs)}">'
        f"{''.join(cases)}</testsuite>"
    )


# --- Coverage ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    lines: int
    branch_points: int  # two branches each
    line_rate: float  # on main, at the start of the history
    branch_rate: float
    drift: float = 0.0  # change of both rates on main over the whole history


PYTHON_SOURCES = (
    SourceFile("src/suitescope_demo/__init__.py", 4, 0, 1.0, 1.0),
    SourceFile("src/suitescope_demo/cli.py", 50, 6, 0.71, 0.55, 0.04),
    SourceFile("src/suitescope_demo/api/__init__.py", 11, 1, 1.0, 1.0),
    SourceFile("src/suitescope_demo/api/auth.py", 58, 8, 0.93, 0.86),
    SourceFile("src/suitescope_demo/api/runs.py", 85, 11, 0.88, 0.78, 0.02),
    SourceFile("src/suitescope_demo/api/uploads.py", 113, 16, 0.9, 0.81, 0.03),
    SourceFile("src/suitescope_demo/ingest/__init__.py", 4, 0, 1.0, 1.0),
    SourceFile("src/suitescope_demo/ingest/detect.py", 44, 7, 0.96, 0.92),
    SourceFile(COVERAGE_DROP_FILE, 128, 20, 0.91, 0.82),
    SourceFile("src/suitescope_demo/ingest/gzip_reader.py", 25, 4, 0.95, 0.83),
    SourceFile("src/suitescope_demo/ingest/store.py", 100, 12, 0.89, 0.75, 0.03),
    SourceFile("src/suitescope_demo/analytics/flakiness.py", 79, 14, 0.85, 0.71, 0.06),
    SourceFile("src/suitescope_demo/analytics/durations.py", 59, 8, 0.9, 0.79, 0.02),
    SourceFile("src/suitescope_demo/analytics/coverage.py", 52, 7, 0.8, 0.62, 0.05),
    SourceFile("src/suitescope_demo/reports/summary.py", 37, 5, 0.94, 0.88),
    SourceFile("src/suitescope_demo/reports/weekly.py", 71, 10, 0.74, 0.56, 0.04),
    SourceFile("src/suitescope_demo/search/index.py", 46, 6, 0.86, 0.7),
    SourceFile("src/suitescope_demo/webhooks/delivery.py", 41, 7, 0.83, 0.67),
    SourceFile("src/suitescope_demo/integrations/github.py", 55, 7, 0.78, 0.6),
    SourceFile("src/suitescope_demo/db/session.py", 27, 4, 0.97, 0.83),
    SourceFile("src/suitescope_demo/db/migrations.py", 23, 2, 0.68, 0.5),
    SourceFile("src/suitescope_demo/util/dates.py", 31, 6, 0.98, 0.9),
)

FRONTEND_SOURCES = (
    SourceFile("web/src/main.ts", 24, 2, 0.71, 0.5),
    SourceFile("web/src/components/RunTable.tsx", 118, 22, 0.84, 0.68, 0.03),
    SourceFile("web/src/components/FlakyList.tsx", 97, 18, 0.79, 0.61, 0.04),
    SourceFile("web/src/lib/format.ts", 41, 10, 0.98, 0.95),
    SourceFile("web/src/lib/api.ts", 63, 12, 0.87, 0.75),
    SourceFile("web/src/charts/trend.ts", 56, 8, 0.82, 0.62),
)


def _branch_change(source: SourceFile, build: Build) -> SourceFile:
    """What a feature branch did to a file before it merged (or did not)."""
    if build.branch == COVERAGE_DROP_BRANCH and source.path == COVERAGE_DROP_FILE:
        # The streaming parser: 30 new lines, 12 tested; 9 new branch points, 2 of 18 tested.
        return _grown(source, new_lines=30, tested_lines=12, new_points=9, tested_branches=2)
    if build.branch == "fix/webhook-timeouts" and source.path.endswith("webhooks/delivery.py"):
        return replace(source, line_rate=source.line_rate + 0.08, branch_rate=0.83)
    return source


def _grown(
    source: SourceFile, *, new_lines: int, tested_lines: int, new_points: int, tested_branches: int
) -> SourceFile:
    lines = source.lines + new_lines
    points = source.branch_points + new_points
    covered_lines = source.lines * source.line_rate + tested_lines
    covered_branches = source.branch_points * 2 * source.branch_rate + tested_branches
    return replace(
        source,
        lines=lines,
        branch_points=points,
        line_rate=covered_lines / lines,
        branch_rate=covered_branches / (points * 2),
        drift=0.0,
    )


@dataclass(frozen=True, slots=True)
class FileCoverage:
    path: str
    lines: tuple[tuple[int, int], ...]  # (line number, hits)
    branches: dict[int, tuple[int, int]]  # line number -> (covered, valid)

    @property
    def lines_covered(self) -> int:
        return sum(1 for _, hits in self.lines if hits)

    @property
    def branches_valid(self) -> int:
        return sum(valid for _, valid in self.branches.values())

    @property
    def branches_covered(self) -> int:
        return sum(covered for covered, _ in self.branches.values())


@lru_cache(maxsize=256)
def _layout(path: str, lines: int, branch_points: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A file's executable line numbers, in the order tests come to cover them."""
    rng = random.Random(f"layout:{path}:{lines}:{branch_points}")
    numbers = rng.sample(range(1, int(lines * 1.4) + 3), lines)
    return tuple(sorted(numbers)), tuple(numbers)


def file_coverage(source: SourceFile, build: Build, plan: Plan) -> FileCoverage:
    source = _branch_change(source, build)
    drift = source.drift * plan.progress(build)
    line_rate = min(1.0, source.line_rate + drift)
    branch_rate = min(1.0, source.branch_rate + drift)
    numbers, order = _layout(source.path, source.lines, source.branch_points)
    covered_lines = set(order[: round(source.lines * line_rate)])
    # Branch points sit on the lines tests cover first, so a covered branch has a hit line.
    branches = _branch_hits(order[: source.branch_points], branch_rate)
    lines = tuple(
        (number, (1 + number % 7) if number in covered_lines else 0) for number in numbers
    )
    return FileCoverage(source.path, lines, branches)


def _branch_hits(branch_lines: Sequence[int], rate: float) -> dict[int, tuple[int, int]]:
    """(covered, 2) per branch point: one branch of each first, then the second ones."""
    points = len(branch_lines)
    to_cover = round(points * 2 * rate)
    return {
        number: (int(index < to_cover) + int(index < to_cover - points), 2)
        for index, number in enumerate(branch_lines)
    }


def render_cobertura(files: Sequence[FileCoverage], generated_at: datetime) -> bytes:
    """Cobertura as ``coverage xml`` writes it with ``--branch``, paths relative to the repo."""
    by_package: dict[str, list[FileCoverage]] = {}
    for file in files:
        package = file.path.rsplit("/", 1)[0].replace("/", ".")
        by_package.setdefault(package, []).append(file)
    lines_valid = sum(len(f.lines) for f in files)
    lines_covered = sum(f.lines_covered for f in files)
    branches_valid = sum(f.branches_valid for f in files)
    branches_covered = sum(f.branches_covered for f in files)
    packages = "".join(_cobertura_package(name, group) for name, group in by_package.items())
    document = (
        '<?xml version="1.0" ?>\n'
        f'<coverage version="7.6.1" timestamp="{int(generated_at.timestamp() * 1000)}" '
        f'lines-valid="{lines_valid}" lines-covered="{lines_covered}" '
        f'line-rate="{_rate(lines_covered, lines_valid)}" branches-valid="{branches_valid}" '
        f'branches-covered="{branches_covered}" '
        f'branch-rate="{_rate(branches_covered, branches_valid)}" complexity="0">\n'
        "\t<!-- Generated by coverage.py: https://coverage.readthedocs.io/en/7.6.1 -->\n"
        f"\t<sources><source>{CHECKOUT}</source></sources>\n"
        f"\t<packages>{packages}</packages>\n</coverage>\n"
    )
    return document.encode("utf-8")


def _rate(covered: int, valid: int) -> str:
    return f"{covered / valid:.4g}" if valid else "1"


def _cobertura_package(name: str, files: Sequence[FileCoverage]) -> str:
    classes = "".join(_cobertura_class(file) for file in files)
    return (
        f'<package name="{name}" line-rate="0" branch-rate="0" complexity="0">'
        f"<classes>{classes}</classes></package>"
    )


def _cobertura_class(file: FileCoverage) -> str:
    rows = []
    for number, hits in file.lines:
        branch = file.branches.get(number)
        if branch is None:
            rows.append(f'<line number="{number}" hits="{hits}"/>')
            continue
        covered, valid = branch
        percent = round(100 * covered / valid)
        rows.append(
            f'<line number="{number}" hits="{hits}" branch="true" '
            f'condition-coverage="{percent}% ({covered}/{valid})"/>'
        )
    line_rate = _rate(file.lines_covered, len(file.lines))
    branch_rate = _rate(file.branches_covered, file.branches_valid)
    return (
        f'<class name="{file.path.rsplit("/", 1)[1]}" filename="{file.path}" '
        f'complexity="0" line-rate="{line_rate}" branch-rate="{branch_rate}">'
        f"<methods/><lines>{''.join(rows)}</lines></class>"
    )


def render_lcov(files: Sequence[FileCoverage]) -> bytes:
    """An istanbul/nyc ``lcov.info`` with BRDA branch records."""
    out: list[str] = []
    for file in files:
        hits_by_line = dict(file.lines)
        out += ["TN:", f"SF:{file.path}"]
        out += [f"DA:{number},{hits}" for number, hits in file.lines]
        for number, (covered, valid) in sorted(file.branches.items()):
            hit = hits_by_line[number]
            for branch in range(valid):
                taken = str(hit) if branch < covered else ("0" if hit else "-")
                out.append(f"BRDA:{number},{number},{branch},{taken}")
        out += [f"BRF:{file.branches_valid}", f"BRH:{file.branches_covered}"]
        out += [f"LF:{len(file.lines)}", f"LH:{file.lines_covered}", "end_of_record"]
    return ("\n".join(out) + "\n").encode("utf-8")


# --- From a build to its uploads -----------------------------------------------------------


def _gzip(data: bytes) -> bytes:
    # mtime=0: the same report always compresses to the same bytes.
    return gzip.compress(data, compresslevel=6, mtime=0)


def _meta(build: Build, job: str, started_at: datetime) -> UploadMeta:
    return UploadMeta(
        commit=build.commit,
        branch=build.branch,
        build=build.build_id,
        job=job,
        build_url=f"{BUILD_URL}{build.number}",
        started_at=started_at,
    )


def job_started_at(build: Build, job: str) -> datetime:
    """Jobs of a build start within a minute of each other (runners pick them up)."""
    offset = {PY311: 4, PY312: 9, FRONTEND: 2, DOCS: 31}[job]
    return build.started_at + timedelta(seconds=offset)


def build_uploads(plan: Plan, build: Build) -> list[DemoUpload]:
    uploads: list[DemoUpload] = []
    for job in build.jobs:
        context = JobContext(plan, build, job, job_rng(plan, build, job))
        if job in PYTHON_JOBS:
            uploads += _python_uploads(context)
        elif job == FRONTEND:
            uploads.append(_frontend_upload(context))
        else:
            uploads.append(_docs_upload(context))
    return uploads


def _python_uploads(context: JobContext) -> list[DemoUpload]:
    """py3.11 sends plain files; py3.12 gzips them and is sometimes split in two shards."""
    build, job = context.build, context.job
    started_at = job_started_at(build, job)
    runs = simulate(python_catalogue(), context)
    hostname = _hostname(build, job)
    coverage = render_cobertura(
        [file_coverage(source, build, context.plan) for source in PYTHON_SOURCES], started_at
    )
    meta = _meta(build, job, started_at)
    if job == PY311:
        junit = render_pytest(runs, started_at, hostname, xunit1=True)
        files = [IncomingFile("report.xml", junit), IncomingFile("coverage.xml", coverage)]
        return [DemoUpload(meta, files)]
    shards = _shards(runs) if build.sharded else [runs]
    uploads = []
    for number, shard in enumerate(shards, start=1):
        junit = _gzip(render_pytest(shard, started_at, f"{hostname}-{number}", xunit1=True))
        name = f"junit-{job}-shard{number}.xml.gz" if build.sharded else f"junit-{job}.xml.gz"
        files = [IncomingFile(name, junit)]
        if number == 1:  # the combined coverage travels with the first shard
            files.append(IncomingFile(f"coverage-{job}.xml.gz", _gzip(coverage)))
        uploads.append(DemoUpload(meta, files))
    return uploads


def _shards(runs: Sequence[CaseRun]) -> list[list[CaseRun]]:
    """Two disjoint halves, split by test file the way pytest-split does."""
    files = sorted({run.case.key.file for run in runs})
    first_half = set(files[::2])
    return [
        [run for run in runs if run.case.key.file in first_half],
        [run for run in runs if run.case.key.file not in first_half],
    ]


def _frontend_upload(context: JobContext) -> DemoUpload:
    build = context.build
    started_at = job_started_at(build, FRONTEND)
    runs = simulate(jest_catalogue(), context)
    coverage = render_lcov([file_coverage(s, build, context.plan) for s in FRONTEND_SOURCES])
    files = [
        IncomingFile("junit.xml", render_jest(runs, started_at)),
        IncomingFile("lcov.info", coverage),
    ]
    return DemoUpload(_meta(build, FRONTEND, started_at), files)


def _docs_upload(context: JobContext) -> DemoUpload:
    build = context.build
    started_at = job_started_at(build, DOCS)
    runs = simulate(doctest_catalogue(), context)
    junit = render_pytest(runs, started_at, _hostname(build, DOCS), xunit1=False)
    return DemoUpload(_meta(build, DOCS, started_at), [IncomingFile("doctests.xml", junit)])


def iter_history(plan: Plan) -> Iterator[DemoDay]:
    """The plan's uploads, one day at a time (rendered lazily: a month is ~100 MB of XML)."""
    for day in range(plan.days):
        builds = [b for b in plan.builds if b.day == day]
        uploads = [upload for build in builds for upload in build_uploads(plan, build)]
        yield DemoDay(day, plan.first_day + timedelta(days=day), uploads)


def generate_history(
    days: int = DEFAULT_DAYS, seed: int = DEFAULT_SEED, now: datetime | None = None
) -> list[DemoUpload]:
    """Every upload of a history, in time order (tests and small histories)."""
    plan = plan_history(days, seed, now or datetime.now(UTC))
    return [upload for day in iter_history(plan) for upload in day.uploads]
