"""The flaky tests screen: filters in the URL, sorting, search, paging, quarantine, escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.access import SESSION_KEY
from dashboard.models import Quarantine
from tests.factories import (
    CaseFactory,
    ProjectFactory,
    QuarantineFactory,
    UserFactory,
    result_history,
)

NOW = datetime.now(UTC)
RECENTLY = NOW - timedelta(days=2)
LONG_AGO = NOW - timedelta(days=400)
PAGE = "/p/web/flaky"


@pytest.fixture
def project(db_session):
    return ProjectFactory(slug="web", name="Web")


def flaky_case(project, name: str = "test_retry", outcomes: str = "PRF", **fields):
    """A case that flaked (a retry flake by default) two days ago."""
    run_fields = {k: fields.pop(k) for k in ("branch", "job", "wall_seconds") if k in fields}
    fields.setdefault("first_seen_at", LONG_AGO)
    case = CaseFactory(project=project, name=name, **fields)
    result_history(case, outcomes, start=RECENTLY, **run_fields)
    return case


def text_of(page: str) -> str:
    """The page with runs of whitespace made single spaces."""
    return " ".join(page.split())


def names_in(page: str) -> list[str]:
    return re.findall(r"<strong>(test_[^<]*)</strong>", page)


def hx(**headers) -> dict:
    return {"HX-Request": "true", **headers}


@pytest.fixture
def member_client(app, db_session):
    """Signed in, but not an admin."""
    user = UserFactory(username="member")
    db_session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session[SESSION_KEY] = user.id
    return client


# --- the screen -----------------------------------------------------------------------


def test_lists_a_flaky_test_with_its_evidence(client, db_session, project):
    case = flaky_case(project, name="test_upload", classname="tests.test_api.TestUpload")
    db_session.commit()
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.text
    assert "<strong>test_upload</strong>" in page
    assert "tests.test_api.TestUpload" in page
    assert '<span class="badge flaky">flaky</span>' in page
    assert "Why: retried into a pass in 1 run." in page
    [retry] = [r for r in case_results(db_session, case) if r.retry_flake]
    assert page.count(f'href="/p/web/runs/{retry.run_id}"') == 2  # evidence and "last flake"
    assert 'aria-current="page">Flaky tests' in page  # the project tab


def case_results(db_session, case):
    from dashboard.models import Result

    return list(db_session.scalars(select(Result).where(Result.case_id == case.id)))


def test_test_names_link_to_their_history_page(app, client, db_session, project):
    case = flaky_case(project)
    db_session.commit()
    page = client.get(PAGE).text
    history_link = f'href="/p/web/tests/{case.id}"'
    assert (history_link in page) is ("ui.test_history" in app.view_functions)


def test_empty_state_explains_what_makes_a_test_flaky(client, db_session, project):
    db_session.commit()
    page = text_of(client.get(PAGE + "?window=7&branch=main").text)
    assert "No flaky, failing or quarantined tests in this window." in page
    assert "failed and passed on the same commit" in page
    assert "Nothing qualifies in the last 7 days on branch main" in page
    assert "<table" not in page


@pytest.mark.parametrize("slug", ["nope", "%00", "UPPER"])
def test_unknown_project_is_a_404(client, db_session, slug):
    assert client.get(f"/p/{slug}/flaky").status_code == 404


def test_a_nul_in_a_filter_is_harmless(client, db_session, project):
    flaky_case(project)
    db_session.commit()
    response = client.get(PAGE + "?branch=%00&job=a%00&q=%00")
    assert response.status_code == 200
    assert names_in(response.text) == []  # job "a" matches nothing


def test_htmx_gets_the_screen_only_and_both_vary(client, db_session, project):
    flaky_case(project)
    db_session.commit()
    full = client.get(PAGE)
    partial = client.get(PAGE, headers=hx())
    assert "<html" in full.text
    assert "<html" not in partial.text
    assert partial.text.startswith('<section id="screen">')
    assert "<strong>test_retry</strong>" in partial.text
    for response in (full, partial):
        assert "HX-Request" in response.headers["Vary"]


def test_filters_live_in_the_url(client, db_session, project):
    flaky_case(project, name="test_main_py311", branch="main", job="py3.11")
    flaky_case(project, name="test_feature", branch="feature/x", job="py3.11")
    flaky_case(project, name="test_main_py312", branch="main", job="py3.12")
    db_session.commit()
    page = client.get(PAGE + "?window=7&branch=main&job=py3.11&status=flaky").text
    assert names_in(page) == ["test_main_py311"]
    assert '<option value="7" selected>' in page
    assert '<option value="main" selected>' in page
    assert '<option value="py3.11" selected>' in page
    assert '<option value="flaky" selected>' in page


def test_window_leaves_out_older_flakes(client, db_session, project):
    old = CaseFactory(project=project, name="test_old", first_seen_at=LONG_AGO)
    result_history(old, "R", start=NOW - timedelta(days=10))
    flaky_case(project, name="test_recent")
    db_session.commit()
    assert names_in(client.get(PAGE + "?window=7").text) == ["test_recent"]
    assert sorted(names_in(client.get(PAGE + "?window=14").text)) == ["test_old", "test_recent"]


def test_status_filter(client, db_session, project):
    flaky_case(project, name="test_flaky")
    flaky_case(project, name="test_failing", outcomes="PFFF")
    QuarantineFactory(case=flaky_case(project, name="test_quarantined"))
    db_session.commit()
    for status in ("flaky", "failing", "quarantined"):
        page = client.get(f"{PAGE}?status={status}").text
        assert names_in(page) == [f"test_{status}"]
        assert f'<span class="badge {status}">{status}</span>' in page
    everything = client.get(PAGE + "?status=nonsense").text  # unknown: no filter
    assert len(names_in(everything)) == 3


def test_search_matches_name_class_and_file(client, db_session, project):
    flaky_case(project, name="test_upload", classname="tests.test_api", file="tests/test_api.py")
    flaky_case(project, name="test_other", classname="tests.test_ui.TestPages")
    flaky_case(project, name="test_third", classname="x", file="tests/Integration.py")
    db_session.commit()
    assert names_in(client.get(PAGE + "?q=UPLOAD").text) == ["test_upload"]
    assert names_in(client.get(PAGE + "?q=testpages").text) == ["test_other"]
    assert names_in(client.get(PAGE + "?q=integration").text) == ["test_third"]
    assert names_in(client.get(PAGE + "?q=nothing-like-it").text) == []


def test_sorting_by_a_column_both_ways(client, db_session, project):
    for name in ("test_b", "test_c", "test_a"):
        flaky_case(project, name=name)
    db_session.commit()
    assert names_in(client.get(PAGE + "?sort=name").text) == ["test_a", "test_b", "test_c"]
    page = client.get(PAGE + "?sort=-name").text
    assert names_in(page) == ["test_c", "test_b", "test_a"]
    assert 'aria-sort="descending"' in page
    assert 'href="/p/web/flaky?sort=name"' in page  # clicking again flips the order


def test_default_order_is_cost_and_missing_values_sort_last(client, db_session, project):
    cheap = flaky_case(project, name="test_cheap", wall_seconds=1.0)  # 1 run disrupted
    dear = flaky_case(project, name="test_dear", wall_seconds=600.0)
    flipper = flaky_case(project, name="test_flipper", outcomes="PFPFPFPFPF", wall_seconds=1.0)
    db_session.commit()
    assert names_in(client.get(PAGE).text) == [dear.name, flipper.name, cheap.name]
    for sort in ("flip_rate", "-flip_rate"):  # only test_flipper has a flip rate
        assert names_in(client.get(f"{PAGE}?sort={sort}").text)[0] == "test_flipper"


def test_pagination(client, db_session, project):
    for index in range(30):
        flaky_case(project, name=f"test_{index:02d}")
    db_session.commit()
    first = client.get(PAGE + "?per_page=25&sort=name").text
    second = client.get(PAGE + "?per_page=25&sort=name&page=2").text
    assert len(names_in(first)) == 25
    assert names_in(second) == [f"test_{index}" for index in range(25, 30)]
    assert "Page 2 of 2 (30 in all)" in second
    assert 'rel="prev"' in second
    beyond = client.get(PAGE + "?per_page=25&sort=name&page=9").text
    assert names_in(beyond) == names_in(second)  # the last page, not an empty one


def test_report_strings_are_escaped(client, db_session, project):
    script = "<script>alert(1)</script>"
    case = flaky_case(project, name=script, classname="<b>cls</b>", branch="<i>b</i>")
    QuarantineFactory(case=case, reason='<img src=x onerror="alert(2)">', created_by="<u>me</u>")
    db_session.commit()
    page = client.get(PAGE).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;cls&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page
    assert "&lt;u&gt;me&lt;/u&gt;" in page
    for raw in (script, "<b>cls</b>", "<img src=x", "<u>me</u>", "<i>b</i>"):
        assert raw not in page


def test_query_count_does_not_grow_with_the_number_of_tests(client, db_session, count_queries):
    small = ProjectFactory(slug="small")
    large = ProjectFactory(slug="large")
    for index in range(3):
        flaky_case(small, name=f"test_{index}")
    for index in range(30):
        flaky_case(large, name=f"test_{index}")
    db_session.commit()

    def queries(slug: str) -> int:
        with count_queries.watching() as counter:
            assert client.get(f"/p/{slug}/flaky").status_code == 200
        return counter.count

    queries("small")  # warm up: first-request work is not the page's
    assert queries("small") == queries("large") <= 8


def test_admin_page_query_count_does_not_grow(admin_client, db_session, count_queries, project):
    for index in range(3):
        QuarantineFactory(case=flaky_case(project, name=f"test_q{index}"))
    db_session.commit()
    with count_queries.watching() as small:
        admin_client.get(PAGE)
    for index in range(20):
        flaky_case(project, name=f"test_more{index}")
    db_session.commit()
    with count_queries.watching() as large:
        admin_client.get(PAGE)
    assert small.count == large.count


# --- who sees the quarantine controls --------------------------------------------------


def test_anonymous_visitors_see_the_status_and_a_sign_in_link(app, client, db_session, project):
    flaky_case(project)
    db_session.commit()
    page = client.get(PAGE).text
    assert '<span class="badge flaky">flaky</span>' in page
    assert "Quarantine…" not in page
    assert "Lift quarantine" not in page
    assert ("Sign in to quarantine" in page) is ("ui.sign_in" in app.view_functions)


def test_members_see_no_quarantine_controls(member_client, db_session, project):
    flaky_case(project)
    db_session.commit()
    page = member_client.get(PAGE).text
    assert "Quarantine…" not in page
    assert "Sign in to quarantine" not in page


def test_admins_see_quarantine_and_lift_controls(admin_client, db_session, project):
    flaky_case(project, name="test_free")
    QuarantineFactory(case=flaky_case(project, name="test_held"))
    db_session.commit()
    page = admin_client.get(PAGE).text
    assert page.count("Quarantine…") == 1
    assert page.count("Lift quarantine") == 1
    assert 'name="reason" required' in page
    assert 'name="next" value="/p/web/flaky"' in page


# --- quarantine round trip ------------------------------------------------------------


def quarantines(db_session, case) -> list[Quarantine]:
    db_session.expire_all()
    return list(db_session.scalars(select(Quarantine).where(Quarantine.case_id == case.id)))


def test_quarantine_round_trip(admin_client, db_session, project):
    case = flaky_case(project)
    db_session.commit()
    back = PAGE + "?window=14&status=flaky"
    response = admin_client.post(
        f"{PAGE}/{case.id}/quarantine",
        data={"reason": "races on the queue", "expires_at": "2999-01-31", "next": back},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == back
    [quarantine] = quarantines(db_session, case)
    assert (quarantine.reason, quarantine.created_by) == ("races on the queue", "admin")
    assert quarantine.expires_at == datetime(2999, 2, 1, tzinfo=UTC)

    page = admin_client.get(PAGE).text
    assert '<span class="badge quarantined">quarantined</span>' in page
    assert "still flaky" in page
    assert "races on the queue" in page
    assert "test_retry is quarantined." in page  # the flash after the redirect

    response = admin_client.post(f"{PAGE}/{case.id}/lift", data={"next": PAGE})
    assert response.status_code == 302
    assert quarantines(db_session, case)[0].lifted_at is not None
    assert '<span class="badge flaky">flaky</span>' in admin_client.get(PAGE).text


def test_htmx_quarantine_returns_the_filtered_screen(admin_client, db_session, project):
    case = flaky_case(project)
    flaky_case(project, name="test_failing", outcomes="FFF")
    db_session.commit()
    response = admin_client.post(
        f"{PAGE}/{case.id}/quarantine",
        data={"reason": "slow DNS", "next": PAGE + "?status=quarantined"},
        headers=hx(),
    )
    assert response.status_code == 200
    assert response.text.startswith('<section id="screen">')
    assert names_in(response.text) == ["test_retry"]  # the filters of `next` apply
    assert '<span class="badge quarantined">quarantined</span>' in response.text
    assert "test_retry is quarantined." in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_a_reason_is_required(admin_client, db_session, project):
    case = flaky_case(project)
    db_session.commit()
    response = admin_client.post(f"{PAGE}/{case.id}/quarantine", data={"reason": "  "})
    assert response.status_code == 422
    assert "a reason is required" in response.text
    assert quarantines(db_session, case) == []
    partial = admin_client.post(f"{PAGE}/{case.id}/quarantine", data={"reason": ""}, headers=hx())
    assert partial.status_code == 200  # htmx 2 swaps no 4xx response
    assert "a reason is required" in partial.text


@pytest.mark.parametrize("expires_at", ["2000-01-01", "next tuesday"])
def test_bad_expiry_is_refused(admin_client, db_session, project, expires_at):
    case = flaky_case(project)
    db_session.commit()
    response = admin_client.post(
        f"{PAGE}/{case.id}/quarantine", data={"reason": "r", "expires_at": expires_at}
    )
    assert response.status_code == 422
    assert quarantines(db_session, case) == []


def test_lifting_a_case_that_is_not_quarantined_says_so(admin_client, db_session, project):
    case = flaky_case(project)
    db_session.commit()
    response = admin_client.post(f"{PAGE}/{case.id}/lift")
    assert response.status_code == 422
    assert "is not quarantined" in response.text


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_next_must_be_a_relative_url(admin_client, db_session, project, next_url):
    case = flaky_case(project)
    db_session.commit()
    response = admin_client.post(
        f"{PAGE}/{case.id}/quarantine", data={"reason": "r", "next": next_url}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == PAGE


def test_unknown_or_foreign_case_is_a_404(admin_client, db_session, project):
    foreign = flaky_case(ProjectFactory(slug="other"))
    db_session.commit()
    response = admin_client.post(f"{PAGE}/{foreign.id}/quarantine", data={"reason": "r"})
    assert response.status_code == 404
    assert admin_client.post(f"{PAGE}/999999/lift").status_code == 404
    assert quarantines(db_session, foreign) == []


def test_anonymous_posts_are_sent_to_sign_in(client, db_session, project):
    case = flaky_case(project)
    db_session.commit()
    response = client.post(f"{PAGE}/{case.id}/quarantine", data={"reason": "r"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=")
    assert quarantines(db_session, case) == []


def test_members_may_not_quarantine(member_client, db_session, project):
    case = flaky_case(project)
    QuarantineFactory(case=flaky_case(project, name="test_held"))
    db_session.commit()
    response = member_client.post(f"{PAGE}/{case.id}/quarantine", data={"reason": "r"})
    assert response.status_code == 403
    assert quarantines(db_session, case) == []


def test_quarantine_needs_a_csrf_token_when_protection_is_on(
    app, admin_client, db_session, project, monkeypatch
):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    case = flaky_case(project)
    db_session.commit()
    url = f"{PAGE}/{case.id}/quarantine"
    refused = admin_client.post(url, data={"reason": "r"})
    assert refused.status_code == 400
    assert quarantines(db_session, case) == []

    page = admin_client.get(PAGE).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    accepted = admin_client.post(url, data={"reason": "r", "csrf_token": token})
    assert accepted.status_code == 302
    assert len(quarantines(db_session, case)) == 1
