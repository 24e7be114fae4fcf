"""Every screen in a real headless Chromium: loads, draws, filters, escapes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Case, Project, Run
from tests.fixtures.browser import draw_every_chart, screenshot, sign_in_as_admin

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def demo_ids(live_server) -> dict:
    """A run and a case of the demo project, to visit their pages."""
    with live_server.app.app_context():
        project = db.session.scalar(select(Project).where(Project.slug == "demo"))
        runs = db.session.scalars(
            select(Run).where(Run.project_id == project.id).order_by(Run.started_at.desc()).limit(2)
        ).all()
        case = db.session.scalar(
            select(Case).where(Case.project_id == project.id, Case.name.contains("<script>"))
        )
        ids = {"run": runs[0].id, "previous_run": runs[1].id, "script_case": case.id}
        db.session.remove()
    return ids


def screens(ids: dict) -> dict[str, str]:
    return {
        "projects": "/",
        "overview": "/p/demo",
        "flaky": "/p/demo/flaky",
        "durations": "/p/demo/durations",
        "coverage": "/p/demo/coverage",
        "runs": "/p/demo/runs",
        "tests": "/p/demo/tests?q=test",
        "run": f"/p/demo/runs/{ids['run']}",
        "run-results": f"/p/demo/runs/{ids['run']}/results",
        "compare": f"/p/demo/compare?base={ids['previous_run']}&head={ids['run']}",
        "test-history": f"/p/demo/tests/{ids['script_case']}",
        "settings": "/p/demo/settings",
        "review": "/p/demo/review",
        "sign-in": "/sign-in",
    }


@pytest.mark.parametrize(
    "name",
    [
        "projects",
        "overview",
        "flaky",
        "durations",
        "coverage",
        "runs",
        "tests",
        "run",
        "run-results",
        "compare",
        "test-history",
        "settings",
        "review",
        "sign-in",
    ],
)
def test_every_screen_loads_without_console_errors(page, live_server, demo_ids, name):
    if name == "settings":  # signed out, it is the sign-in screen
        sign_in_as_admin(page, live_server)
    response = page.goto(live_server(screens(demo_ids)[name]))
    assert response.status == 200
    if name == "settings":
        assert page.locator("h1").first.inner_text().startswith("Settings")
    page.wait_for_load_state("networkidle")
    draw_every_chart(page)
    assert page.locator("figure.chart-error").count() == 0
    screenshot(page, name)
    # The fixture fails the test on any console error or dialog.


def mark_document(page) -> None:
    """A flag that survives htmx swaps but not a full page load."""
    page.evaluate("window.__sameDocument = true")


def still_same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def test_a_filter_swaps_the_table_through_htmx_and_updates_the_url(page, live_server):
    page.goto(live_server("/p/demo/flaky"))
    mark_document(page)
    page.select_option("select[name=window]", "7")
    page.wait_for_url("**/p/demo/flaky?*window=7*")
    page.wait_for_load_state("networkidle")
    assert still_same_document(page), "the filter reloaded the page instead of swapping"
    assert page.locator("select[name=window]").input_value() == "7"
    # The pushed URL renders whole on its own (a bookmark, a reload).
    page.reload()
    assert page.locator("select[name=window]").input_value() == "7"
    assert page.locator("h1", has_text="Flaky tests").count() == 1


def test_a_plotly_chart_draws(page, live_server):
    page.goto(live_server("/p/demo/durations"))
    draw_every_chart(page)
    drawn = page.locator("figure[data-state=drawn] .js-plotly-plot")
    assert drawn.count() >= 1
    assert drawn.first.locator("svg.main-svg").count() >= 1


def test_pagination_moves_through_the_runs(page, live_server):
    page.goto(live_server("/p/demo/runs"))
    mark_document(page)
    first_row = page.locator("tbody tr").first.inner_text()
    page.locator("a[rel=next]").first.click()
    page.wait_for_url("**page=2*")
    page.wait_for_load_state("networkidle")
    assert still_same_document(page)
    assert page.locator("tbody tr").first.inner_text() != first_row
    assert "Page 2 of" in page.locator(".pagination").first.inner_text()


def test_quarantine_round_trip(page, live_server):
    from playwright.sync_api import expect

    sign_in_as_admin(page, live_server)
    page.goto(live_server("/p/demo/flaky"))
    row = page.locator("tbody tr").first
    name = row.locator("strong").first.inner_text()
    row.locator("summary", has_text="Quarantine").click()
    row.locator("input[name=reason]").fill("browser test: flaky on CI")
    row.locator("button", has_text="Quarantine").click()
    quarantined = page.locator("tbody tr", has_text=name)
    expect(quarantined.locator(".badge", has_text="quarantined")).to_have_count(1)
    expect(quarantined).to_contain_text("browser test: flaky on CI")
    quarantined.locator("button", has_text="Lift quarantine").click()
    expect(page.locator("tbody tr", has_text=name).locator(".badge.quarantined")).to_have_count(0)


def test_a_test_named_like_a_script_is_shown_as_text(page, live_server, demo_ids):
    page.goto(live_server(f"/p/demo/tests/{demo_ids['script_case']}"))
    draw_every_chart(page)
    assert page.get_by_text("<script>alert(1)</script>").first.is_visible()
    # Nothing ran: the page fixture fails the test on any dialog or console error,
    # and no <script> element with that body exists in the document.
    assert page.evaluate("[...document.scripts].every(s => !s.textContent.includes('alert(1)'))")


@pytest.mark.parametrize(
    ("name", "admin"),
    [
        (name, False)
        for name in (
            "flaky",
            "coverage",
            "durations",
            "runs",
            "tests",
            "run",
            "run-results",
            "compare",
        )
    ]
    + [("flaky", True)],  # with the quarantine controls
)
def test_tables_fit_a_laptop_screen_without_sideways_scrolling(
    page, live_server, demo_ids, name, admin
):
    # The flaky table's cost columns were once off to the right, behind a scrollbar.
    if admin:
        sign_in_as_admin(page, live_server)
    page.goto(live_server(screens(demo_ids)[name]))
    page.wait_for_load_state("networkidle")
    assert page.viewport_size["width"] == 1280
    overflowing = page.eval_on_selector_all(
        "table",
        "tables => tables"
        ".filter(t => t.parentElement.scrollWidth > t.parentElement.clientWidth + 1)"
        ".map(t => t.className || t.querySelector('th')?.innerText)",
    )
    assert overflowing == []
    # Failure messages wrap, to be read whole without scrolling each one.
    scrolling = page.eval_on_selector_all(
        "pre.failure-message", "pres => pres.filter(p => p.scrollWidth > p.clientWidth + 1).length"
    )
    assert scrolling == 0


@pytest.mark.parametrize("name", ["review", "compare", "run-results", "runs", "flaky"])
def test_figures_and_durations_stay_on_one_line(page, live_server, demo_ids, name):
    # "7.7 min" once broke into "7.7" over "min", and "808 ms" likewise.
    page.goto(live_server(screens(demo_ids)[name]))
    page.wait_for_load_state("networkidle")
    # A cell meant to hold one line (no <br>) whose text takes two lines' height.
    wrapped = page.eval_on_selector_all(
        "td.num",
        """cells => cells.filter(c => {
            if (c.innerText.includes("\\n") || !c.innerText.trim()) return false;
            const text = document.createRange();
            text.selectNodeContents(c);
            const fontSize = parseFloat(getComputedStyle(c).fontSize);
            return text.getBoundingClientRect().height > 2.2 * fontSize;
        }).map(c => c.innerText)""",
    )
    assert wrapped == []


def test_the_reviews_evidence_reads_as_lines_not_a_column_of_words(page, live_server, demo_ids):
    # It once got what the other columns left: 160 px, three words a line.
    page.goto(live_server(screens(demo_ids)["review"]))
    page.wait_for_load_state("networkidle")
    widths = page.eval_on_selector_all(
        "#top-flaky tbody td:last-child", "cells => cells.map(c => c.getBoundingClientRect().width)"
    )
    assert widths, "the demo's review lists no flaky test"
    assert min(widths) >= 320
