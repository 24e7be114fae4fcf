"""The weekly review on factory-built histories with planted facts.

Week 2026-W20 runs from Monday 11 May to Sunday 17 May 2026; W19 is the week
before. Every test passes ``now`` explicitly, so none depends on the day it runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.analytics.review import (
    InvalidWeek,
    Week,
    project_zone,
    review_json,
    weekly_review,
)
from dashboard.models import Case, Project, Run
from tests.factories import (
    CaseFactory,
    ProjectFactory,
    QuarantineFactory,
    coverage_run,
    run_with_results,
)

W19 = datetime(2026, 5, 4, tzinfo=UTC)  # Monday 00:00 UTC
W20 = datetime(2026, 5, 11, tzinfo=UTC)
W21 = datetime(2026, 5, 18, tzinfo=UTC)
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # a Wednesday in W21
FILLERS = 6  # passing cases in every run, so one failure is no infrastructure failure


@pytest.fixture
def project(db_session) -> Project:
    return ProjectFactory(slug="web", name="Web", branch_coverage_threshold=0.4)


def fillers(project: Project) -> dict[Case, str]:
    cases = [
        CaseFactory(project=project, file="tests/test_filler.py", name=f"test_filler_{i}")
        for i in range(FILLERS)
    ]
    return dict.fromkeys(cases, "P")


def case(project: Project, name: str, file: str = "tests/test_app.py") -> Case:
    return CaseFactory(project=project, file=file, classname="tests.test_app", name=name)


def runs(project, start: datetime, plan: dict[Case, str], background, **fields) -> list[Run]:
    """One run per letter position of the plan's strings, 6 hours apart from ``start``."""
    length = max(len(letters) for letters in plan.values())
    made = []
    for index in range(length):
        outcomes = dict(background)
        outcomes.update({c: letters[index] for c, letters in plan.items() if index < len(letters)})
        made.append(
            run_with_results(project, start + timedelta(hours=6 * index), outcomes, **fields)
        )
    return made


def names(items) -> list[str]:
    return [item.case.name for item in items]


# --- the planted history -----------------------------------------------------------------


@pytest.fixture
def planted(db_session, project):
    """W19 and W20 with one test of each kind, and fillers that always pass."""
    background = fillers(project)
    tests = {
        name: case(project, name)
        for name in (
            "test_became_flaky",
            "test_recovered",
            "test_too_few_runs",
            "test_absent",
            "test_broke",
            "test_still_flaky",
            "test_always_failing",
        )
    }
    tests["test_slowed"] = case(project, "test_slowed", file="tests/net/test_slow.py")
    t = tests
    before = runs(
        project,
        W19 + timedelta(hours=1),
        {
            t["test_became_flaky"]: "PPPP",
            t["test_recovered"]: "PRPP",
            t["test_too_few_runs"]: "RPPP",
            t["test_absent"]: "PPRP",
            t["test_broke"]: "PPPP",
            t["test_still_flaky"]: "PRPP",
            t["test_always_failing"]: "FFFF",
        },
        background,
    )
    this = runs(
        project,
        W20 + timedelta(hours=1),
        {
            t["test_became_flaky"]: "PPRP",
            t["test_recovered"]: "PPPP",
            t["test_too_few_runs"]: "PP",
            t["test_broke"]: "PFFF",
            t["test_still_flaky"]: "RPPP",
            t["test_always_failing"]: "FFFF",
        },
        background,
    )
    # A regression: 1 s in the three weeks before, 2 s this week (5 samples each).
    for day in range(5):
        run_with_results(
            project,
            W20 - timedelta(days=15 - day),
            {**background, t["test_slowed"]: {"duration_s": 1.0}},
        )
        run_with_results(
            project,
            W20 + timedelta(days=day, hours=12),
            {**background, t["test_slowed"]: {"duration_s": 2.0}},
        )
    # Branch coverage of main: src/x.py drops from 100% to 50%, src/y.py gains.
    coverage_run(
        project,
        {"src/x.py": (10, 10, 10, 10), "src/y.py": (10, 5, 10, 5), "src/z.py": (10, 9, 4, 4)},
        started_at=W19 + timedelta(days=5),
    )
    coverage_run(
        project,
        {"src/x.py": (10, 6, 10, 5), "src/y.py": (10, 8, 10, 8), "src/z.py": (10, 9, 4, 4)},
        started_at=W20 + timedelta(days=5),
    )
    # On another branch, coverage means nothing to the review.
    coverage_run(
        project, {"src/x.py": (10, 0, 10, 0)}, started_at=W20 + timedelta(days=6), branch="dev"
    )
    QuarantineFactory(
        case=t["test_still_flaky"],
        reason="flaky on CI",
        created_at=W20 - timedelta(days=3),
    )
    QuarantineFactory(
        case=t["test_absent"],
        reason="waits for the vendor",
        created_at=W19,
        expires_at=W20 + timedelta(days=2),
    )
    QuarantineFactory(
        case=t["test_broke"], reason="lifted", created_at=W19, lifted_at=W19 + timedelta(days=1)
    )
    QuarantineFactory(case=t["test_recovered"], reason="later", created_at=W21 + timedelta(hours=1))
    db_session.flush()
    return tests, before, this


def test_each_section_lists_exactly_the_planted_tests(db_session, project, planted):
    review = weekly_review(project, "2026-W20", now=NOW)

    assert review.week.label == "2026-W20"
    assert names(review.new_flaky) == ["test_became_flaky"]
    assert names(review.recovered) == ["test_recovered"]
    assert names(review.new_failing) == ["test_broke"]
    assert sorted(names(review.top_flaky)) == ["test_became_flaky", "test_still_flaky"]
    assert names(review.regressions) == ["test_slowed"]
    assert [d.path for d in review.coverage_movers.drops] == ["src/x.py"]
    assert [d.path for d in review.coverage_movers.gains] == ["src/y.py"]
    assert names(review.quarantine.active) == ["test_still_flaky"]
    assert names(review.quarantine.expired) == ["test_absent"]
    assert review.anti_patterns == []


def test_the_sections_carry_their_evidence(db_session, project, planted):
    _, before, this = planted

    review = weekly_review(project, "2026-W20", now=NOW)

    new = review.new_flaky[0]
    assert new.first_flake_run_id == this[2].id
    assert new.evidence[0].kind == "retry_flake"
    assert "retried into a pass" in new.why
    recovered = review.recovered[0]
    assert recovered.executions == 4  # four clean runs this week
    assert recovered.last_flake_run_id == before[1].id
    failing = review.new_failing[0]
    assert failing.first_failure_run_id == this[1].id
    assert failing.latest_failure_run_id == this[3].id
    assert failing.message == "assert 1 == 2"
    assert failing.job == "default"
    regression = review.regressions[0]
    assert (regression.baseline_median_s, regression.recent_median_s) == (1.0, 2.0)
    drop = review.coverage_movers.drops[0]
    assert (drop.old_branch_rate, drop.new_branch_rate) == (1.0, 0.5)
    assert review.quarantine.active[0].age_days == 10  # created 3 days before W20, seen at its end
    assert review.quarantine.expired[0].expires_at == W20 + timedelta(days=2)


def test_owners_come_from_the_projects_rules(db_session, project, planted):
    project.owners = "*.py @everyone\ntests/net/ @net-team alice@example.com"
    db_session.flush()

    review = weekly_review(project, "2026-W20", now=NOW)

    assert review.regressions[0].case.owners == ("@net-team", "alice@example.com")
    assert review.new_flaky[0].case.owners == ("@everyone",)
    assert review.quarantine.active[0].case.owners == ("@everyone",)


def test_without_owners_nobody_is_named(db_session, project, planted):
    review = weekly_review(project, "2026-W20", now=NOW)

    assert review.new_flaky[0].case.owners == ()


def test_the_json_has_every_key_of_the_issue(db_session, project, planted):
    body = review_json(weekly_review(project, "2026-W20", now=NOW))

    assert set(body) >= {
        "week",
        "headline",
        "new_flaky",
        "recovered",
        "new_failing",
        "top_flaky",
        "regressions",
        "coverage_movers",
        "quarantine",
        "anti_patterns",
        "previous_week",
        "next_week",
        "project",
    }
    assert body["week"]["label"] == "2026-W20"
    assert body["previous_week"] == "2026-W19"
    assert body["next_week"] is None  # W21 is not over at NOW
    assert [t["name"] for t in body["new_flaky"]] == ["test_became_flaky"]
    assert body["coverage_movers"]["drops"][0]["path"] == "src/x.py"


# --- the headline ---------------------------------------------------------------------------


def test_headline_figures_against_the_previous_week(db_session, project):
    background = fillers(project)
    wobbly = case(project, "test_wobbly")
    for hour in (1, 2):
        run_with_results(project, W19 + timedelta(hours=hour), {**background, wobbly: "P"})
    # Same commit and job, failed then passed: a same-commit flake disrupting one run.
    disrupted = run_with_results(
        project,
        W20 + timedelta(hours=1),
        {**background, wobbly: "F"},
        commit_sha="c1",
        wall_seconds=90.0,
    )
    run_with_results(
        project,
        W20 + timedelta(hours=2),
        {**background, wobbly: "P"},
        commit_sha="c1",
        wall_seconds=30.0,
    )
    run_with_results(
        project, W20 + timedelta(hours=3), {**background, wobbly: "P"}, wall_seconds=60.0
    )
    run_with_results(
        project, W20 + timedelta(hours=4), {**background, wobbly: "P"}, job="lint", wall_seconds=5.0
    )
    coverage_run(project, {"src/a.py": (10, 5, 4, 1)}, started_at=W20 + timedelta(days=1))
    coverage_run(project, {"src/a.py": (10, 8, 4, 3)}, started_at=W20 + timedelta(days=2))

    headline = weekly_review(project, "2026-W20", now=NOW).headline
    figures = {f.key: (f.value, f.previous) for f in headline.figures}

    assert figures["runs"] == (4, 2)
    assert figures["pass_rate"] == (0.75, 1.0)
    assert figures["flaky_run_share"] == (0.25, 0.0)
    assert figures["flaky_ci_seconds"] == (disrupted.wall_seconds, 0.0)
    assert figures["line_coverage"] == (0.8, None)  # the week's latest report
    assert figures["branch_coverage"] == (0.75, None)
    by_job = {row.job: row for row in headline.wall_time}
    assert set(by_job) == {"default", "lint"}
    assert by_job["default"].runs == 3
    assert by_job["default"].median_s == 60.0
    assert by_job["default"].p95_s == pytest.approx(87.0)
    assert by_job["lint"].previous_median_s is None
    assert by_job["default"].previous_median_s == pytest.approx(background_seconds(7))


def background_seconds(cases: int) -> float:
    """The default wall time of a run of ``cases`` cases of 0.05 s (plus 10%)."""
    return cases * 0.05 * 1.1


def test_ci_time_counts_each_disrupted_run_once(db_session, project):
    background = fillers(project)
    one, two = case(project, "test_one"), case(project, "test_two")
    run_with_results(
        project,
        W20 + timedelta(hours=1),
        {**background, one: "F", two: "F"},
        commit_sha="c",
        wall_seconds=100.0,
    )
    run_with_results(
        project,
        W20 + timedelta(hours=2),
        {**background, one: "P", two: "P"},
        commit_sha="c",
        wall_seconds=100.0,
    )
    # A retry flake's failed attempt: half of its 4 s over two attempts.
    run_with_results(
        project,
        W20 + timedelta(hours=3),
        {**background, one: {"flaky": True, "duration_s": 4.0}},
        wall_seconds=100.0,
    )

    headline = weekly_review(project, "2026-W20", now=NOW).headline

    assert headline.figure("flaky_ci_seconds").value == pytest.approx(100.0 + 2.0)
    assert headline.figure("flaky_run_share").value == pytest.approx(1 / 3)


# --- anti-patterns --------------------------------------------------------------------------

STRIPE_REFUSED = (
    "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.stripe.com', port=443): "
    "Max retries exceeded with url: /v1/charges (Caused by NewConnectionError('Failed to "
    "establish a new connection: [Errno 111] Connection refused'))"
)
LOCAL_REFUSED = (
    "requests.exceptions.ConnectionError: HTTPConnectionPool(host='localhost', port=8000): "
    "Max retries exceeded with url: / "
    "(Caused by NewConnectionError('[Errno 111] Connection refused'))"
)
RATE_LIMITED = (
    "requests.exceptions.HTTPError: 429 Client Error: Too Many Requests "
    "for url: https://api.github.com/repos"
)
UNIQUE = (
    "sqlalchemy.exc.IntegrityError: (psycopg.errors.UniqueViolation) duplicate key value "
    'violates unique constraint "uq_user_username"'
)


def failure(message: str, failure_type: str | None = None) -> dict:
    return {"failing": True, "message": message, "failure_type": failure_type}


def kinds(review) -> list[str]:
    return [pattern.kind for pattern in review.anti_patterns]


def pattern(review, kind: str):
    return next(p for p in review.anti_patterns if p.kind == kind)


def test_live_external_calls_from_network_failures(db_session, project):
    background = fillers(project)
    stripe, github, local, plain = (
        case(project, n) for n in ("test_charge", "test_repos", "test_local", "test_math")
    )
    first = run_with_results(
        project,
        W20 + timedelta(hours=1),
        {**background, stripe: failure(STRIPE_REFUSED), local: failure(LOCAL_REFUSED), plain: "F"},
    )
    second = run_with_results(
        project,
        W20 + timedelta(hours=2),
        {**background, stripe: failure(STRIPE_REFUSED), github: failure(RATE_LIMITED)},
    )
    # An infrastructure failure (every case failed) is never evidence.
    run_with_results(
        project,
        W20 + timedelta(hours=3),
        {c: failure(STRIPE_REFUSED) for c in [*background, plain]},
    )
    # Last week's failures are last week's.
    run_with_results(
        project, W19 + timedelta(hours=3), {**background, plain: failure(STRIPE_REFUSED)}
    )

    review = weekly_review(project, "2026-W20", now=NOW)

    assert kinds(review) == ["live_external_calls"]
    found = pattern(review, "live_external_calls")
    assert [f.case.name for f in found.cases] == ["test_charge", "test_repos"]
    charge, repos = found.cases
    assert charge.run_ids == [first.id, second.id]
    assert charge.failures == 2
    assert charge.reasons == ["connection refused"]
    assert repos.reasons == ["HTTP 429 or 5xx"]
    assert repos.message == RATE_LIMITED
    assert found.run_ids == [first.id, second.id]
    assert "Mock the service" in found.remedy


def test_shared_database_state_from_messages_and_parallel_only_failures(db_session, project):
    background = fillers(project)
    unique, racy, broken = (
        case(project, "test_signup"),
        case(project, "test_racy"),
        case(project, "test_broken"),
    )
    everyone = {**background, unique: "P", racy: "P", broken: "P"}
    # Parallel runs: 9 cases of 0.05 s in 0.1 s of wall time.
    parallel = [
        run_with_results(
            project,
            W20 + timedelta(hours=h),
            {**everyone, racy: "F", broken: "F"},
            wall_seconds=0.1,
        )
        for h in (1, 2)
    ]
    serial = [run_with_results(project, W20 + timedelta(hours=h), everyone) for h in (3, 4)]
    serial.append(
        run_with_results(
            project,
            W20 + timedelta(hours=5),
            {**everyone, broken: "F", unique: failure(UNIQUE, "IntegrityError")},
        )
    )

    review = weekly_review(project, "2026-W20", now=NOW)

    assert kinds(review) == ["shared_database_state"]
    found = pattern(review, "shared_database_state")
    by_name = {f.case.name: f for f in found.cases}
    assert set(by_name) == {"test_signup", "test_racy"}
    assert by_name["test_racy"].reasons == ["fails only in parallel runs"]
    assert by_name["test_racy"].run_ids == [r.id for r in parallel]
    assert by_name["test_signup"].reasons == ["integrity violation", "unique violation"]
    assert by_name["test_signup"].run_ids == [serial[-1].id]
    assert "transaction" in found.remedy


def test_a_parallel_failure_without_serial_passes_proves_nothing(db_session, project):
    background = fillers(project)
    racy = case(project, "test_racy")
    for hour in (1, 2):
        run_with_results(
            project, W20 + timedelta(hours=hour), {**background, racy: "F"}, wall_seconds=0.1
        )
    run_with_results(
        project, W20 + timedelta(hours=3), {**background, racy: "P"}
    )  # one serial pass

    assert weekly_review(project, "2026-W20", now=NOW).anti_patterns == []


def test_setup_bloat_and_serial_suites_from_run_times(db_session, project):
    slow = [
        CaseFactory(project=project, file=f"tests/test_slow_{i}.py", name=f"test_{i}")
        for i in range(4)
    ]
    quick = fillers(project)
    bloated = [
        run_with_results(
            project, W20 + timedelta(hours=h), quick, job="integration", wall_seconds=120.0
        )
        for h in (1, 2)
    ]
    # A lean run of the same job: the suite is judged on its median run.
    run_with_results(project, W20 + timedelta(hours=3), quick, job="integration")
    serial = [
        run_with_results(
            project,
            W20 + timedelta(hours=h),
            {c: {"duration_s": 100.0} for c in slow},
            job="e2e",
            wall_seconds=410.0,
        )
        for h in (1, 2)
    ]
    # Healthy: parallel (case time 3x wall time) or short.
    run_with_results(
        project,
        W20 + timedelta(hours=1),
        {c: {"duration_s": 100.0} for c in slow},
        job="e2e-xdist",
        wall_seconds=130.0,
    )
    run_with_results(project, W20 + timedelta(hours=1), quick, job="unit")

    review = weekly_review(project, "2026-W20", now=NOW)

    assert kinds(review) == ["setup_teardown_bloat", "serial_suite"]
    bloat = pattern(review, "setup_teardown_bloat")
    assert [s.job for s in bloat.suites] == ["integration"]
    assert bloat.suites[0].runs == 3
    assert bloat.suites[0].run_ids == [bloated[1].id, bloated[0].id]  # newest first
    assert bloat.suites[0].outside_share > 0.99
    serial_found = pattern(review, "serial_suite")
    assert [s.job for s in serial_found.suites] == ["e2e"]
    suite = serial_found.suites[0]
    assert suite.run_ids == [serial[1].id, serial[0].id]
    assert suite.estimate_run_id == serial[1].id
    assert suite.estimate == {1: 400.0, 2: 200.0, 4: 100.0, 8: 100.0}
    assert "pytest-xdist" in serial_found.remedy


def test_low_branch_coverage_ranks_files_by_uncovered_branches(db_session, project):
    project.branch_coverage_threshold = 0.8
    run_with_results(project, W20 + timedelta(hours=1), fillers(project))
    measured = coverage_run(
        project,
        {
            "src/small.py": (10, 2, 10, 2),  # 8 uncovered, 20%
            "src/big.py": (50, 30, 50, 30),  # 20 uncovered, 60%
            "src/fine.py": (10, 9, 10, 9),  # above the threshold
            "src/plain.py": (10, 1, None, None),  # no branch data
        },
        started_at=W20 + timedelta(hours=2),
    )
    coverage_run(
        project, {"src/other.py": (10, 0, 10, 0)}, started_at=W20 + timedelta(hours=3), branch="dev"
    )

    review = weekly_review(project, "2026-W20", now=NOW)

    assert kinds(review) == ["low_branch_coverage"]
    found = pattern(review, "low_branch_coverage")
    assert [(f.path, f.missing_branches) for f in found.files] == [
        ("src/big.py", 20),
        ("src/small.py", 8),
    ]
    assert found.coverage_run_id == measured.id
    assert found.run_ids == [measured.id]
    assert "error handlers and edge cases" in found.remedy


# --- weeks and time zones ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "local_monday_utc"),
    [
        ("Pacific/Auckland", datetime(2026, 5, 10, 12, 0, tzinfo=UTC)),  # NZST, UTC+12
        ("America/Los_Angeles", datetime(2026, 5, 11, 7, 0, tzinfo=UTC)),  # PDT, UTC-7
    ],
)
def test_a_week_starts_at_local_monday_midnight(db_session, zone, local_monday_utc):
    project = ProjectFactory(timezone=zone)
    background = fillers(project)
    run_with_results(project, local_monday_utc - timedelta(minutes=1), background)  # W19
    run_with_results(project, local_monday_utc, background)
    run_with_results(project, local_monday_utc + timedelta(days=7, minutes=-1), background)
    run_with_results(project, local_monday_utc + timedelta(days=7), background)

    review = weekly_review(project, "2026-W20", now=NOW + timedelta(days=2))
    earlier = weekly_review(project, "2026-W19", now=NOW + timedelta(days=2))

    assert (review.week.start, review.week.end) == (
        local_monday_utc,
        local_monday_utc + timedelta(days=7),
    )
    assert review.runs == 2  # from local Monday 00:00 to the last minute of Sunday
    assert earlier.runs == 1  # the minute before


def test_a_week_across_a_daylight_saving_change_lasts_167_hours():
    week = Week.parse("2026-W10", project_zone(Project(timezone="America/Los_Angeles")))

    assert week.start == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # PST
    assert week.end == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # PDT
    assert week.end - week.start == timedelta(hours=167)


def test_the_default_week_is_the_last_complete_one_in_the_projects_zone(db_session):
    auckland = ProjectFactory(timezone="Pacific/Auckland")
    utc = ProjectFactory(timezone="UTC")
    # Sunday 22:00 UTC is already Monday 10:00 in Auckland.
    sunday_night = datetime(2026, 5, 17, 22, 0, tzinfo=UTC)

    assert weekly_review(auckland, None, now=sunday_night).week.label == "2026-W20"
    assert weekly_review(utc, None, now=sunday_night).week.label == "2026-W19"
    assert weekly_review(utc, "", now=W21).week.label == "2026-W20"  # W20 just ended


def test_an_unknown_time_zone_falls_back_to_utc():
    assert project_zone(Project(timezone="Mars/Olympus")).key == "UTC"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-20", "ISO week such as 2026-W47"),
        ("last week", "ISO week such as 2026-W47"),
        ("2026-W20\x00", "ISO week such as 2026-W47"),
        ("2025-W53", "2025 has no ISO week 53"),
        ("2026-W00", "2026 has no ISO week 0"),
        ("0001-W01", "between 1970 and 9998"),
        ("9999-W52", "between 1970 and 9998"),
        ("2026-W22", "has not started yet"),
    ],
)
def test_bad_weeks_are_refused_with_a_clear_message(db_session, project, text, message):
    with pytest.raises(InvalidWeek, match=message):
        weekly_review(project, text, now=NOW)


def test_week_parsing_accepts_53_week_years_and_lower_case(db_session, project):
    assert weekly_review(project, "2020-W53", now=NOW).week.monday.isoformat() == "2020-12-28"
    assert weekly_review(project, " 2026-w20 ", now=NOW).week.label == "2026-W20"


def test_links_to_neighbours_never_lead_into_the_future(db_session, project):
    run_with_results(project, W19 + timedelta(hours=1), fillers(project))

    current = weekly_review(project, "2026-W21", now=NOW)
    last = weekly_review(project, "2026-W20", now=NOW)
    later = weekly_review(project, "2026-W20", now=W21 + timedelta(days=7))

    assert (current.complete, current.next_week) == (False, None)
    assert current.previous_week.label == "2026-W20"
    assert (last.complete, last.next_week) == (True, None)
    assert later.next_week.label == "2026-W21"


def test_a_week_without_runs_has_empty_sections_but_its_quarantine_debt(
    db_session, project, planted
):
    review = weekly_review(project, "2026-W16", now=NOW)  # before the planted history

    assert review.runs == 0
    assert review.previous_week is None  # nothing ran before W16 either
    assert review.next_week.label == "2026-W17"
    assert not review.first_week
    assert review.new_flaky == review.recovered == review.new_failing == []
    assert review.top_flaky == review.regressions == review.anti_patterns == []
    assert review.coverage_movers.drops == review.coverage_movers.gains == []
    assert review.headline.figure("runs").value == 0
    assert review.headline.figure("pass_rate").value is None
    assert review.quarantine.active == review.quarantine.expired == []  # created later


def test_a_quiet_week_after_busy_ones_compares_with_them(db_session, project, planted):
    review = weekly_review(project, "2026-W21", now=W21 + timedelta(days=7))

    assert review.runs == 0
    assert review.previous_week.label == "2026-W20"
    assert review.headline.figure("runs").previous == 9  # 4 planted, 5 timing runs
    # Recovered needs runs: a test that did not run has not recovered.
    assert review.recovered == []
    assert names(review.quarantine.active) == ["test_still_flaky", "test_recovered"]


def test_the_first_week_of_a_project_has_nothing_to_compare_with(db_session, project):
    background = fillers(project)
    flaky_case = case(project, "test_flaky_from_day_one")
    run_with_results(project, W20 + timedelta(hours=1), {**background, flaky_case: "R"})

    review = weekly_review(project, "2026-W20", now=NOW)

    assert review.first_week
    assert review.previous_week is None
    assert all(f.previous is None for f in review.headline.figures)
    assert names(review.new_flaky) == ["test_flaky_from_day_one"]
    assert review.recovered == []


def test_query_count_does_not_grow_with_the_tests(db_session, project, count_queries):
    background = fillers(project)

    def history(count: int) -> int:
        for index in range(count):
            wobbly = case(project, f"test_wobbly_{count}_{index}", file=f"tests/test_{index}.py")
            run_with_results(project, W19 + timedelta(hours=index + 1), {**background, wobbly: "R"})
            run_with_results(project, W20 + timedelta(hours=index + 1), {**background, wobbly: "R"})
        db_session.flush()
        with count_queries.watching() as queries:
            weekly_review(project, "2026-W20", now=NOW)
        return queries.count

    few = history(2)
    many = history(8)

    assert many == few
    assert few <= 25
