"""The base layout, the projects list and a project's page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.extensions import db
from tests.factories import ProjectFactory, RunFactory


def test_projects_empty_state_explains_the_two_steps(client, db_session):
    response = client.get("/")
    assert response.status_code == 200
    page = response.text
    assert "No projects yet." in page
    assert "suitescope projects create my-app" in page
    assert "http://localhost/api/v1/uploads" in page


def test_projects_list_links_each_project(client, db_session):
    project = ProjectFactory(slug="web", name="Web <App>")
    RunFactory.create_batch(2, project=project)
    db_session.commit()
    page = client.get("/").text
    assert 'href="/p/web"' in page
    assert "Web &lt;App&gt;" in page
    assert '<td class="num">2</td>' in page


def test_projects_list_shows_each_default_branchs_health(client, db_session, count_queries):
    now = datetime.now(UTC)
    web = ProjectFactory(slug="web", default_branch="main")
    ago = [now - timedelta(days=days) for days in (10, 2, 1)]
    RunFactory(project=web, branch="main", started_at=ago[0], tests=5, failed=5)  # too old
    RunFactory(project=web, branch="main", started_at=ago[1], tests=5)
    latest = RunFactory(project=web, branch="main", started_at=ago[2], tests=5, failed=1, job="py")
    RunFactory(project=web, branch="feature", started_at=now, tests=5)  # not the default branch
    RunFactory(project=web, branch="main", started_at=now, tests=0)  # coverage only
    quiet = ProjectFactory(slug="quiet")
    RunFactory(project=quiet, branch="feature", started_at=now, tests=3)
    db_session.commit()
    db.session.expire_all()

    with count_queries.watching() as queries:
        page = client.get("/").text

    rows = page.split("<tbody>")[1].split("</tr>")
    quiet_row, web_row = rows[0], rows[1]  # by slug
    assert 'href="/p/quiet"' in quiet_row
    assert ">failed</span>" in web_row
    assert f'href="/p/web/runs/{latest.id}">run {latest.id}</a>' in web_row
    assert "· py</small>" in web_row
    assert "50%<br><small>of 2 runs</small>" in web_row  # the last 7 days: one of two passed
    assert "no run with tests yet" in quiet_row
    assert '<td class="num">—</td>' in quiet_row
    # The list, the latest runs, the week's counts, and the project switcher.
    assert queries.count <= 4


def test_htmx_request_gets_only_the_content_block(client, db_session):
    full = client.get("/")
    partial = client.get("/", headers={"HX-Request": "true"})
    assert "<html" in full.text
    assert "<html" not in partial.text
    assert "<h1>Projects</h1>" in partial.text
    # Every page reads the session (who is signed in), hence Cookie too.
    assert full.headers["Vary"] == partial.headers["Vary"] == "HX-Request, Cookie"


def test_history_restore_gets_the_whole_page(client, db_session):
    response = client.get("/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in response.text


def test_project_page_lists_latest_runs(client, db_session):
    project = ProjectFactory(slug="web")
    RunFactory(project=project, branch="feature/<b>", build="b-1")
    db_session.commit()
    page = client.get("/p/web").text
    assert "feature/&lt;b&gt;" in page
    assert "Latest runs" in page


def test_project_page_empty_state(client, db_session):
    ProjectFactory(slug="web")
    db_session.commit()
    assert "No runs in this window." in client.get("/p/web").text


def test_unknown_project_is_a_404_page(client, db_session):
    response = client.get("/p/nope")
    assert response.status_code == 404
    assert "There is no project called &#39;nope&#39;." in response.text


def test_project_switcher_lists_projects(client, db_session):
    ProjectFactory(slug="alpha", name="Alpha")
    ProjectFactory(slug="beta", name="Beta")
    db_session.commit()
    page = client.get("/p/alpha").text
    assert 'href="/p/beta"' in page
    assert 'aria-current="page">Alpha' in page


def test_api_lists_projects(client, db_session):
    ProjectFactory(slug="web", name="Web")
    db_session.commit()
    assert client.get("/api/v1/projects").get_json() == {
        "projects": [
            {
                "slug": "web",
                "name": "Web",
                "default_branch": "main",
                "is_demo": False,
                "latest_default_run": None,
                "runs_7d": 0,
                "pass_rate_7d": None,
            }
        ]
    }


def test_api_lists_each_default_branchs_health_as_the_page_does(client, db_session):
    now = datetime.now(UTC)
    web = ProjectFactory(slug="web", default_branch="main")
    RunFactory(project=web, branch="main", started_at=now - timedelta(days=2), tests=4)
    latest = RunFactory(
        project=web, branch="main", started_at=now - timedelta(days=1), tests=4, errors=1
    )
    RunFactory(project=web, branch="feature", started_at=now, tests=4)
    db_session.commit()

    (listed,) = client.get("/api/v1/projects").get_json()["projects"]

    assert listed["latest_default_run"] == {
        "id": latest.id,
        "status": "failed",
        "started_at": latest.started_at.isoformat(),
        "url": f"http://localhost/p/web/runs/{latest.id}",
    }
    assert (listed["runs_7d"], listed["pass_rate_7d"]) == (2, 0.5)


def test_overview_filters_render_as_an_htmx_partial(client, db_session):
    project = ProjectFactory(slug="web")
    RunFactory(project=project)
    db_session.commit()
    response = client.get("/p/web?window=7", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.startswith('<section id="screen">')
    assert 'name="window"' in response.text
