"""Private mode on pages and the API, tokens scoped to their project, safe redirects."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Blueprint
from sqlalchemy import select

from dashboard import access, create_app
from dashboard.access import SESSION_KEY
from dashboard.extensions import db
from dashboard.models import User, utcnow
from tests.factories import ApiTokenFactory, ProjectFactory, UserFactory
from tests.fixtures.database import rolled_back_transaction
from tests.fixtures.database import testing_settings as app_settings

SECRET = "ss_web-read-token"
OTHER_SECRET = "ss_api-read-token"


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def private(app, monkeypatch):
    monkeypatch.setitem(app.config, "SUITESCOPE_PRIVATE", True)
    return app


@pytest.fixture
def tokens(db_session):
    """A token for project ``web`` and one for project ``api``."""
    web = ApiTokenFactory(project=ProjectFactory(slug="web"), secret=SECRET)
    other = ApiTokenFactory(project=ProjectFactory(slug="api"), secret=OTHER_SECRET)
    db_session.commit()
    return web, other


def signed_in(client, db_session):
    user = UserFactory()
    db_session.commit()
    with client.session_transaction() as session:
        session[SESSION_KEY] = user.id
    return client


def sign_in_target(response) -> tuple[str, str | None]:
    location = urlsplit(response.headers["Location"])
    return location.path, parse_qs(location.query).get("next", [None])[0]


# Pages


@pytest.mark.usefixtures("private")
@pytest.mark.parametrize(
    "path", ["/", "/p/web", "/p/web/tests", "/p/web/settings", "/no/such/page"]
)
def test_private_pages_send_anonymous_visitors_to_sign_in(client, tokens, path):
    response = client.get(path)
    assert response.status_code == 302
    assert sign_in_target(response) == ("/sign-in", path)


@pytest.mark.usefixtures("private")
def test_the_way_back_keeps_the_query(client, tokens):
    response = client.get("/p/web?window=7&branch=main")
    assert sign_in_target(response) == ("/sign-in", "/p/web?window=7&branch=main")


@pytest.mark.usefixtures("private")
def test_htmx_is_told_to_load_the_sign_in_page_whole(client, tokens):
    response = client.get("/p/web", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text == ""
    assert response.headers["HX-Redirect"] == "/sign-in?next=/p/web"


@pytest.mark.usefixtures("private")
def test_private_pages_open_to_a_signed_in_user(client, db_session, tokens):
    signed_in(client, db_session)
    assert client.get("/").status_code == 200
    assert client.get("/p/web").status_code == 200


@pytest.mark.usefixtures("private")
def test_the_sign_in_page_names_no_project(client, db_session):
    ProjectFactory(slug="secret", name="Secret Skunkworks")
    db_session.commit()
    page = client.get("/sign-in").text
    assert "Secret Skunkworks" not in page
    assert 'href="/p/secret"' not in page


def test_public_pages_name_the_projects(client, db_session):
    ProjectFactory(slug="open", name="Open Source Thing")
    db_session.commit()
    assert "Open Source Thing" in client.get("/sign-in").text


@pytest.mark.usefixtures("private")
def test_a_token_does_not_open_pages(client, tokens):
    assert client.get("/p/web", headers=bearer(SECRET)).status_code == 302


@pytest.mark.usefixtures("private")
def test_a_deleted_users_session_no_longer_counts(client, db_session, tokens):
    signed_in(client, db_session)
    db_session.delete(db_session.scalars(select(User)).one())
    db_session.commit()
    assert client.get("/").status_code == 302


@pytest.mark.usefixtures("private")
@pytest.mark.parametrize(
    "path", ["/sign-in", "/healthz", "/static/suitescope.css", "/api/v1/openapi.json"]
)
def test_exempt_paths_stay_open(client, db_session, path):
    assert client.get(path).status_code == 200


@pytest.mark.usefixtures("private")
def test_vendor_files_stay_open(client, db_session):
    # 200 when `npm ci` has run, 404 otherwise; never a redirect to sign in.
    assert client.get("/vendor/htmx.min.js").status_code in (200, 404)
    assert client.get("/vendor/nothing.js").status_code == 404


@pytest.mark.usefixtures("private")
def test_uploads_keep_their_own_token_check(client, db_session):
    response = client.post("/api/v1/uploads", data=b"<testsuite/>")
    assert response.status_code == 401
    assert response.json["error"]["message"].startswith("send your project token")


# The read API


@pytest.mark.usefixtures("private")
def test_private_api_refuses_anonymous_requests(client, tokens):
    response = client.get("/api/v1/projects")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


@pytest.mark.usefixtures("private")
def test_private_api_refuses_an_unknown_token(client, tokens):
    response = client.get("/api/v1/projects", headers=bearer("ss_made-up"))
    assert response.status_code == 401


@pytest.mark.usefixtures("private")
def test_private_api_refuses_a_revoked_token(client, db_session, tokens):
    web, _ = tokens
    web.revoked_at = utcnow()
    db_session.commit()
    response = client.get("/api/v1/projects", headers=bearer(SECRET))
    assert response.status_code == 403
    assert "revoked" in response.json["error"]["message"]


@pytest.mark.usefixtures("private")
def test_a_session_reads_every_project(client, db_session, tokens):
    signed_in(client, db_session)
    listed = client.get("/api/v1/projects").json["projects"]
    assert [p["slug"] for p in listed] == ["api", "web"]


@pytest.mark.usefixtures("private")
def test_a_token_lists_only_its_own_project_and_is_marked_used(client, db_session, tokens):
    web, other = tokens
    response = client.get("/api/v1/projects", headers=bearer(SECRET))
    assert response.status_code == 200
    assert [p["slug"] for p in response.json["projects"]] == ["web"]
    db_session.expire_all()
    assert web.last_used_at is not None
    assert other.last_used_at is None


@pytest.mark.usefixtures("private")
def test_a_token_read_leaves_nothing_behind_for_the_next_request(client, db_session, tokens):
    client.get("/api/v1/projects", headers=bearer(SECRET))
    signed_in(client, db_session)
    assert len(client.get("/api/v1/projects").json["projects"]) == 2


def test_public_mode_leaves_pages_and_reads_open(client, tokens):
    assert client.get("/p/web").status_code == 200
    listed = client.get("/api/v1/projects").json["projects"]
    assert [p["slug"] for p in listed] == ["api", "web"]
    # A token, even a bad one, changes nothing there.
    assert client.get("/api/v1/projects", headers=bearer("ss_made-up")).status_code == 200


def test_last_used_is_written_at_most_once_a_minute(app, db_session, tokens):
    web, _ = tokens
    recent = utcnow() - timedelta(seconds=10)
    web.last_used_at = recent
    access.record_token_use(web)
    assert web.last_used_at == recent
    web.last_used_at = utcnow() - timedelta(minutes=2)
    access.record_token_use(web)
    assert web.last_used_at > recent


# Reads of one project: a probe route with a `slug`, on a second app


@pytest.fixture(scope="module")
def probe_app(session_app, database_url, tmp_path_factory):
    """A private app on this worker's database with a route under ``/projects/<slug>``.

    Flask takes no new routes once an app has served requests, so the probe
    gets an app of its own; it stands for every per-project read.
    """
    settings = app_settings(
        database_url, INSTANCE_DIR=tmp_path_factory.mktemp("probe"), SUITESCOPE_PRIVATE=True
    )
    app = create_app(settings)
    probe = Blueprint("probe", __name__, url_prefix="/api/v1/projects/<slug>")
    probe.add_url_rule("/probe", "read", lambda slug: {"slug": slug})
    app.register_blueprint(probe)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def probe(probe_app):
    """The probe app's client, with ``web``'s and ``api``'s tokens, all rolled back."""
    with rolled_back_transaction(probe_app), probe_app.app_context():
        web = ApiTokenFactory(project=ProjectFactory(slug="web"), secret=SECRET)
        ApiTokenFactory(project=ProjectFactory(slug="api"), secret=OTHER_SECRET)
        db.session.commit()
        yield probe_app.test_client(), web
        db.session.remove()


def test_a_token_reads_its_own_project(probe):
    client, _ = probe
    response = client.get("/api/v1/projects/web/probe", headers=bearer(SECRET))
    assert response.status_code == 200
    assert response.json == {"slug": "web"}


@pytest.mark.parametrize("slug", ["api", "does-not-exist"])
def test_a_token_never_reads_another_project(probe, slug):
    client, _ = probe
    response = client.get(f"/api/v1/projects/{slug}/probe", headers=bearer(SECRET))
    assert response.status_code == 403
    assert response.json["error"]["message"] == "this token belongs to another project"


def test_a_revoked_token_reads_nothing(probe):
    client, web = probe
    web.revoked_at = utcnow()
    db.session.commit()
    assert client.get("/api/v1/projects/web/probe", headers=bearer(SECRET)).status_code == 403


def test_without_a_token_a_project_read_is_401(probe):
    client, _ = probe
    assert client.get("/api/v1/projects/web/probe").status_code == 401


# Where sign-in may send people back to


@pytest.mark.parametrize(
    "target",
    ["/", "/p/web", "/p/web/flaky?window=7&branch=main", "/p/caf%C3%A9"],
)
def test_safe_next_accepts_paths_on_this_site(target):
    assert access.safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "//evil.example",
        "https://evil.example/",
        "http:evil.example",
        "\\\\evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " /p/web",
        "p/web",
        "javascript:alert(1)",
    ],
)
def test_safe_next_refuses_anything_that_could_leave(target):
    assert access.safe_next(target) is None
