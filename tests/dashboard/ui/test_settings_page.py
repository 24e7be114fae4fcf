"""A project's settings page: who may see and change it, tokens, validation, CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dashboard.access import SESSION_KEY
from dashboard.extensions import db
from dashboard.models import ApiToken, Project
from tests.factories import ApiTokenFactory, ProjectFactory, UserFactory

SETTINGS = "/p/web/settings"

VALID = {
    "name": "Web App",
    "default_branch": "trunk",
    "timezone": "Europe/Paris",
    "flip_rate_threshold": "0.2",
    "min_executions": "5",
    "regression_pct": "30",
    "regression_min_ms": "50",
    "branch_coverage_threshold": "0.75",
    "owners": "# who owns what\r\nsrc/api/  @acme/backend  \r\n*.js @alice dev@example.com\r\n",
}


@pytest.fixture
def project(db_session) -> Project:
    project = ProjectFactory(slug="web", name="Web")
    db_session.commit()
    return project


@pytest.fixture
def token(db_session, project) -> ApiToken:
    token = ApiTokenFactory(project=project, name="github-actions", secret="ss_abcdef-settings")
    db_session.commit()
    return token


@pytest.fixture
def member_client(app, db_session):
    """Signed in, but not an admin."""
    member = UserFactory(username="member")
    db_session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session[SESSION_KEY] = member.id
    return client


def refreshed(db_session, instance):
    db_session.expire_all()
    return db_session.get(type(instance), instance.id)


def note_of(page: str, field: str) -> str:
    return re.search(rf'<small id="setting-{field}-note">(.*?)</small>', page, re.S).group(1)


# Who may see and change what


def test_anonymous_visitors_are_asked_to_sign_in(client, project):
    response = client.get(SETTINGS)
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=/p/web/settings"


@pytest.mark.parametrize("path", [SETTINGS, f"{SETTINGS}/tokens", f"{SETTINGS}/tokens/1/revoke"])
def test_anonymous_changes_are_sent_to_sign_in(client, project, path):
    response = client.post(path, data=VALID)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_members_see_the_settings_read_only(member_client, token):
    response = member_client.get(SETTINGS)
    assert response.status_code == 200
    page = response.text
    assert "only an admin can change them" in page
    assert page.count("<fieldset disabled>") == 3
    assert "Save settings" not in page
    assert "Create token" not in page
    assert "Revoke" not in page
    assert "github-actions" in page


def test_members_cannot_change_anything(member_client, db_session, token):
    project = token.project
    assert member_client.post(SETTINGS, data=VALID).status_code == 403
    assert member_client.post(f"{SETTINGS}/tokens", data={"name": "x"}).status_code == 403
    revoke = member_client.post(f"{SETTINGS}/tokens/{token.id}/revoke")
    assert revoke.status_code == 403
    assert refreshed(db_session, project).name == "Web"
    assert refreshed(db_session, token).revoked_at is None
    assert len(db_session.scalars(select(ApiToken)).all()) == 1


def test_admins_see_the_form_and_the_tokens(admin_client, token):
    response = admin_client.get(SETTINGS)
    assert response.status_code == 200
    page = response.text
    assert 'aria-current="page">Settings</a>' in page
    assert 'name="timezone" type="text" value="UTC"' in page
    assert 'name="flip_rate_threshold" type="number" value="0.1"' in page
    assert "<fieldset disabled>" not in page
    assert "github-actions" in page
    assert "<code>ss_abcdef…</code>" in page
    assert "never" in page
    assert "active" in page
    assert "Revoke ss_abcdef…" in page


def test_unknown_project_is_404(admin_client, db_session):
    assert admin_client.get("/p/nope/settings").status_code == 404


def test_htmx_gets_only_the_screen(admin_client, project):
    response = admin_client.get(SETTINGS, headers={"HX-Request": "true"})
    assert "<html" not in response.text
    assert response.text.startswith('<section id="screen">')


# Tokens


def test_a_new_token_is_shown_once_and_stored_hashed(admin_client, db_session, project):
    response = admin_client.post(f"{SETTINGS}/tokens", data={"name": " deploy bot "})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code style="user-select: all">(ss_[^<]+)</code>', response.text).group(1)
    stored = db_session.scalars(select(ApiToken)).one()
    assert stored.name == "deploy bot"
    assert stored.token_hash == ApiToken.hash_token(secret)
    assert secret not in (stored.prefix, stored.name, stored.token_hash)
    assert secret.startswith(stored.prefix)
    again = admin_client.get(SETTINGS).text
    assert secret not in again
    assert f"<code>{stored.prefix}…</code>" in again


def test_a_token_name_too_long_is_refused(admin_client, db_session, project):
    response = admin_client.post(f"{SETTINGS}/tokens", data={"name": "x" * 201})
    assert response.status_code == 422
    assert "At most 200 characters." in response.text
    assert db_session.scalars(select(ApiToken)).all() == []


def test_revoking_a_token(admin_client, db_session, token):
    response = admin_client.post(f"{SETTINGS}/tokens/{token.id}/revoke")
    assert response.status_code == 302
    assert response.headers["Location"] == SETTINGS
    assert refreshed(db_session, token).revoked_at is not None
    page = admin_client.get(SETTINGS).text
    assert "Token ss_abcdef… revoked" in page
    assert "Revoke ss_abcdef…" not in page
    assert "revoked " in page


def test_revoking_another_projects_token_is_404(admin_client, db_session, project):
    other = ApiTokenFactory(project=ProjectFactory(slug="api"))
    db_session.commit()
    response = admin_client.post(f"{SETTINGS}/tokens/{other.id}/revoke")
    assert response.status_code == 404
    assert refreshed(db_session, other).revoked_at is None


# Project settings


def test_saving_valid_settings(admin_client, db_session, project):
    response = admin_client.post(SETTINGS, data=VALID)
    assert response.status_code == 302
    assert response.headers["Location"] == SETTINGS
    saved = refreshed(db_session, project)
    assert (saved.name, saved.default_branch, saved.timezone) == (
        "Web App",
        "trunk",
        "Europe/Paris",
    )
    assert (saved.flip_rate_threshold, saved.min_executions) == (0.2, 5)
    assert (saved.regression_pct, saved.regression_min_ms) == (30.0, 50.0)
    assert saved.branch_coverage_threshold == 0.75
    assert saved.owners == "# who owns what\nsrc/api/  @acme/backend\n*.js @alice dev@example.com"
    assert "Settings saved." in admin_client.get(SETTINGS).text


def test_invalid_settings_are_shown_beside_their_fields(admin_client, db_session, project):
    bad = {
        **VALID,
        "timezone": "Mars/Olympus_Mons",
        "flip_rate_threshold": "1.5",
        "min_executions": "1",
        "regression_pct": "0",
        "owners": "src/ @alice\nlib/\n",
    }
    response = admin_client.post(SETTINGS, data=bad)
    assert response.status_code == 422
    page = response.text
    assert "Unknown time zone" in note_of(page, "timezone")
    assert "from 0 to 1" in note_of(page, "flip_rate_threshold")
    assert "at least 2" in note_of(page, "min_executions")
    assert "above 0" in note_of(page, "regression_pct")
    assert "line 2" in note_of(page, "owners")
    assert page.count('aria-invalid="true"') == 5
    # What was typed stays in the form, and nothing is saved.
    assert 'value="Mars/Olympus_Mons"' in page
    saved = refreshed(db_session, project)
    assert (saved.name, saved.timezone, saved.flip_rate_threshold) == ("Web", "UTC", 0.1)


# CSRF, enabled as in production


@pytest.fixture
def admin_alone(app, monkeypatch):
    """An admin's client with CSRF on, its rows made in an app context closed before
    any request: Flask-WTF caches the token in ``g``, which a held context would share."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    with app.app_context():
        admin = UserFactory(is_admin=True)
        token = ApiTokenFactory(project=ProjectFactory(slug="web"))
        db.session.commit()
        ids = (admin.id, token.id)
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:
        session[SESSION_KEY] = ids[0]
    return client, ids[1]


def test_every_settings_form_wants_a_csrf_token(admin_alone):
    client, token_id = admin_alone
    assert client.post(SETTINGS, data=VALID).status_code == 400
    assert client.post(f"{SETTINGS}/tokens", data={"name": "x"}).status_code == 400
    assert client.post(f"{SETTINGS}/tokens/{token_id}/revoke").status_code == 400
    page = client.get(SETTINGS).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(SETTINGS, data={**VALID, "csrf_token": csrf}).status_code == 302
    revoke = client.post(f"{SETTINGS}/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert revoke.status_code == 302
