"""The overview's health chart: runs per day and the share of them that passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.factories import ProjectFactory, RunFactory

NOW = datetime.now(UTC)


def test_runs_per_day_as_bars_and_the_share_passed_on_a_right_axis(client, db_session):
    project = ProjectFactory(slug="web")
    yesterday, today = NOW - timedelta(days=1), NOW
    RunFactory(project=project, started_at=yesterday, tests=3)
    RunFactory(project=project, started_at=yesterday, tests=3, failed=1)
    RunFactory(project=project, started_at=today, tests=3)
    RunFactory(project=project, started_at=today, tests=0)  # coverage only: not counted
    db_session.commit()

    fig = client.get("/p/web/overview/health.json").get_json()

    bars, share = fig["data"]
    days = [yesterday.date().isoformat(), today.date().isoformat()]
    assert (bars["type"], bars["x"], bars["y"]) == ("bar", days, [2, 1])
    assert (share["yaxis"], share["y"]) == ("y2", [0.5, 1.0])
    assert share["text"][0] == f"{days[0]}: 1 of 2 runs passed"
    right = fig["layout"]["yaxis2"]
    assert right["title"]["text"] == "share passed"
    assert right["tickvals"] == [0, 0.25, 0.5, 0.75, 1]
    assert right["tickformat"] == ".0%"
    assert right["automargin"] is True  # the labels were cut off at the edge


def test_a_window_without_runs_says_so(client, db_session):
    ProjectFactory(slug="web")
    db_session.commit()

    fig = client.get("/p/web/overview/health.json?window=7").get_json()

    assert fig["data"] == []
    assert fig["layout"]["annotations"][0]["text"] == "No runs in this window"
