"""Signing in and out: credentials, safe redirects, CSRF, session cookies."""

from __future__ import annotations

import re

import pytest

from config import ProductionConfig
from dashboard import access, create_app
from dashboard.access import SESSION_KEY
from dashboard.extensions import db
from tests.factories import user_with_password

PASSWORD = "open sesame"


@pytest.fixture
def alice(db_session):
    user = user_with_password(PASSWORD, username="alice")
    db_session.commit()
    return user


@pytest.fixture
def csrf_enabled(app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


@pytest.fixture
def alice_id(app) -> int:
    """Alice, made in an app context of her own, closed before any request.

    Flask-WTF caches the CSRF token in ``g``; a test holding an app context
    (as ``db_session`` does) would share that ``g`` across requests, which
    production never does.
    """
    with app.app_context():
        user = user_with_password(PASSWORD, username="alice")
        db.session.commit()
        user_id = user.id
        db.session.remove()
    return user_id


def csrf_token_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, username="alice", password=PASSWORD, **extra):
    return client.post("/sign-in", data={"username": username, "password": password, **extra})


def signed_in_user_id(client):
    with client.session_transaction() as session:
        return session.get(SESSION_KEY)


def test_sign_in_page_has_the_form(client, db_session):
    response = client.get("/sign-in?next=/p/web")
    assert response.status_code == 200
    page = response.text
    assert 'name="username"' in page
    assert 'autocomplete="current-password"' in page
    assert 'name="next" value="/p/web"' in page
    assert 'name="csrf_token"' in page


def test_sign_in_page_drops_an_unsafe_next(client, db_session):
    assert 'name="next"' not in client.get("/sign-in?next=//evil.example").text


def test_signing_in_goes_home_and_shows_who_is_signed_in(client, alice):
    response = sign_in(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert signed_in_user_id(client) == alice.id
    page = client.get("/").text
    assert "alice" in page
    assert 'action="/sign-out"' in page


def test_signing_in_goes_back_to_a_safe_next(client, alice):
    response = sign_in(client, next="/p/web?window=7")
    assert response.headers["Location"] == "/p/web?window=7"


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "\\\\evil.example", "/\\evil.example"]
)
def test_signing_in_never_leaves_the_site(client, alice, target):
    assert sign_in(client, next=target).headers["Location"] == "/"


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong password"), ("nobody", PASSWORD), ("", "")]
)
def test_wrong_credentials_get_one_generic_message(client, alice, username, password):
    response = sign_in(client, username, password)
    assert response.status_code == 422
    assert "Wrong name or password." in response.text
    assert signed_in_user_id(client) is None


def test_an_unknown_name_still_costs_a_password_check(client, alice, monkeypatch):
    checked = []
    real_check = access.check_password_hash

    def counting_check(pwhash, password):
        checked.append(pwhash)
        return real_check(pwhash, password)

    monkeypatch.setattr(access, "check_password_hash", counting_check)
    sign_in(client, "nobody", PASSWORD)
    assert len(checked) == 1
    assert checked[0].startswith("scrypt:")  # as costly as a real user's hash


def test_signing_in_starts_a_fresh_session(client, alice):
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    sign_in(client)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session[SESSION_KEY] == alice.id


def test_a_new_password_ends_existing_sessions(client, db_session, alice):
    sign_in(client)
    access.set_password(alice, "a brand new password")
    page = client.get("/").text
    assert 'action="/sign-out"' not in page
    assert ">Sign in</a>" in page


def test_signing_out(client, alice):
    sign_in(client)
    response = client.post("/sign-out")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in"
    assert signed_in_user_id(client) is None
    assert "You are signed out." in client.get("/sign-in").text


def test_signing_out_takes_a_post(client, db_session):
    assert client.get("/sign-out").status_code == 405


def test_anonymous_nav_offers_to_sign_in_and_come_back(client, db_session):
    page = client.get("/").text
    assert 'href="/sign-in?next=/"' in page
    assert 'action="/sign-out"' not in page


@pytest.mark.usefixtures("csrf_enabled", "alice_id")
def test_sign_in_refuses_a_post_without_csrf_token(client):
    response = sign_in(client)
    assert response.status_code == 400
    assert "CSRF" in response.text
    assert signed_in_user_id(client) is None


@pytest.mark.usefixtures("csrf_enabled")
def test_sign_in_and_out_with_csrf_tokens(client, alice_id):
    token = csrf_token_of(client.get("/sign-in").text)
    assert sign_in(client, csrf_token=token).status_code == 302
    assert client.post("/sign-out").status_code == 400
    assert signed_in_user_id(client) == alice_id
    token = csrf_token_of(client.get("/").text)
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302
    assert signed_in_user_id(client) is None


def test_session_cookie_is_http_only_and_same_site_lax(client, alice):
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the testing config serves plain HTTP


def test_production_session_cookie_is_also_secure(tmp_path):
    config = ProductionConfig(
        {"SECRET_KEY": "k", "DATABASE_URL": "sqlite://", "SUITESCOPE_INSTANCE_DIR": str(tmp_path)}
    )
    client = create_app(config).test_client()
    # The sign-in form's CSRF token is kept in the session, so the page sets the cookie.
    cookie = client.get("/sign-in").headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
