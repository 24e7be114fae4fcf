"""Rate limits on uploads (per token) and sign-in (per address and name).

The suite's own app runs with limits off (TestingConfig); these tests build
apps of their own with small limits on this worker's database, and reset the
counts before each test so none depends on another.
"""

from __future__ import annotations

import io
import socket
import uuid
from types import SimpleNamespace

import pytest
from flask import Flask, request
from limits import parse
from limits.storage import MemoryStorage, RedisStorage
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from config import Config
from dashboard import create_app, ratelimits
from dashboard.extensions import db
from dashboard.models import Upload
from tests.factories import ApiTokenFactory, ProjectFactory, UserFactory
from tests.fixtures.database import rolled_back_transaction
from tests.fixtures.database import testing_settings as app_settings

SECRET = "ss_limited-token"
OTHER_SECRET = "ss_other-limited-token"
PASSWORD = "right-password"
LIMITS = {
    "RATELIMIT_ENABLED": True,
    "SUITESCOPE_RATELIMIT_UPLOADS": "2 per minute",
    "SUITESCOPE_RATELIMIT_SIGNIN": "2 per minute",
}
JUNIT = b'<testsuite name="t"><testcase classname="c" name="ok" time="0.1"/></testsuite>'
REDIS = ("127.0.0.1", 6379)


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def upload(client, secret: str = SECRET, build: str = "1"):
    return client.post(
        "/api/v1/uploads",
        data={"build": build, "file": [(io.BytesIO(JUNIT), "junit.xml")]},
        headers=bearer(secret),
        content_type="multipart/form-data",
    )


def sign_in(client, username: str = "alice", password: str = "wrong-password", address=None):
    environ = {"REMOTE_ADDR": address} if address else {}
    return client.post(
        "/sign-in",
        data={"username": username, "password": password},
        environ_base=environ,
    )


def uploads_stored() -> int:
    return db.session.scalar(select(func.count()).select_from(Upload))


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def limited_app(session_app, database_url, tmp_path_factory):
    """An app on this worker's database (migrated by ``session_app``) with limits of 2."""
    app = create_app(
        app_settings(database_url, INSTANCE_DIR=tmp_path_factory.mktemp("limited"), **LIMITS)
    )
    yield app
    dispose(app)


@pytest.fixture
def build_app(session_app, database_url, tmp_path):
    """Builds apps with other settings (limits of 2 unless overridden); disposes them."""
    built = []

    def build(**settings) -> Flask:
        app = create_app(app_settings(database_url, INSTANCE_DIR=tmp_path, **LIMITS | settings))
        built.append(app)
        return app

    yield build
    for app in built:
        dispose(app)


def seeded_client(app: Flask):
    """Two tokens of ``web`` and the user ``alice``, in the current app context."""
    project = ProjectFactory(slug="web")
    ApiTokenFactory(project=project, secret=SECRET)
    ApiTokenFactory(project=project, secret=OTHER_SECRET)
    UserFactory(username="alice", password_hash=generate_password_hash(PASSWORD, "pbkdf2:sha256:1"))
    db.session.commit()
    return app.test_client()


@pytest.fixture
def client(limited_app):
    """Here ``client`` talks to the limited app: fresh counts, every row rolled back."""
    ratelimits.limiter_of(limited_app).reset()
    with rolled_back_transaction(limited_app), limited_app.app_context():
        yield seeded_client(limited_app)
        db.session.remove()


# Uploads


def test_the_upload_after_the_limit_is_429_with_retry_after_and_stores_nothing(client):
    assert upload(client, build="1").status_code == 201
    second = upload(client, build="2")
    assert second.status_code == 201
    assert second.headers["X-RateLimit-Limit"] == "2"
    assert second.headers["X-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in second.headers, "a stored upload tells nobody to wait"

    refused = upload(client, build="3")

    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited"
    wait = int(refused.headers["Retry-After"])
    assert wait in range(1, 61), "a wait within the one-minute window"
    assert error["message"] == (
        "too many uploads with this token: at most 2 per 1 minute "
        f"(SUITESCOPE_RATELIMIT_UPLOADS); retry in {wait} seconds"
    )
    assert uploads_stored() == 2


def test_another_token_from_the_same_address_is_not_affected(client):
    for build in ("1", "2"):
        upload(client, build=build)
    assert upload(client, build="3").status_code == 429

    assert upload(client, OTHER_SECRET, build="3").status_code == 201
    assert uploads_stored() == 3


def test_requests_without_a_token_count_against_their_address(client):
    for _ in range(2):
        assert client.post("/api/v1/uploads").status_code == 401
    assert client.post("/api/v1/uploads").status_code == 429
    other_address = client.post("/api/v1/uploads", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other_address.status_code == 401


def test_other_api_routes_are_not_limited(client):
    for _ in range(3):
        response = client.get("/api/v1/projects", headers=bearer(SECRET))
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers


# Sign-in


def test_sign_in_is_refused_after_the_limit_even_with_the_right_password(client):
    assert sign_in(client).status_code == 422
    assert sign_in(client).status_code == 422

    refused = sign_in(client, password=PASSWORD)

    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    wait = int(refused.headers["Retry-After"])
    assert (
        "too many sign-in attempts for this name from your address: at most 2 per 1 minute "
        f"(SUITESCOPE_RATELIMIT_SIGNIN); retry in {wait} seconds"
    ) in refused.text
    with client.session_transaction() as session:
        assert "user_id" not in session


def test_sign_in_counts_per_name_and_address(client):
    for _ in range(2):
        sign_in(client, username="Alice ")
    assert sign_in(client).status_code == 429, "'Alice ' and 'alice' are one name to the limit"

    assert sign_in(client, username="bob").status_code == 422
    other_address = sign_in(client, password=PASSWORD, address="192.0.2.7")
    assert other_address.status_code == 302


def test_showing_the_sign_in_page_is_not_counted(client):
    for _ in range(3):
        assert client.get("/sign-in").status_code == 200
    assert sign_in(client, password=PASSWORD).status_code == 302


# Keys


def test_keys_carry_no_secret_nor_typed_name(limited_app):
    with limited_app.test_request_context(
        "/sign-in", method="POST", data={"username": "hunter2-typed-here"}, headers=bearer(SECRET)
    ):
        upload_key, sign_in_key = ratelimits.upload_key(), ratelimits.sign_in_key()
    assert upload_key.startswith("token:")
    assert SECRET not in upload_key
    assert sign_in_key.startswith("address:127.0.0.1/user:")
    assert "hunter2" not in sign_in_key


# Switching limits off, and bad settings


def test_no_limits_when_disabled(build_app):
    app = build_app(RATELIMIT_ENABLED=False, SUITESCOPE_RATELIMIT_UPLOADS="1 per minute")
    assert ratelimits.limiter_of(app) is None
    with rolled_back_transaction(app), app.app_context():
        client = seeded_client(app)
        replies = [upload(client, build=str(n)) for n in range(3)]
        assert [r.status_code for r in replies] == [201, 201, 201]
        assert "X-RateLimit-Limit" not in replies[-1].headers
        db.session.remove()


def test_an_empty_limit_switches_off_that_limit_only(build_app):
    app = build_app(SUITESCOPE_RATELIMIT_UPLOADS="", SUITESCOPE_RATELIMIT_SIGNIN="1 per minute")
    with rolled_back_transaction(app), app.app_context():
        client = seeded_client(app)
        assert [upload(client, build=str(n)).status_code for n in range(3)] == [201] * 3
        assert sign_in(client).status_code == 422
        assert sign_in(client).status_code == 429
        db.session.remove()


def test_the_suites_own_app_runs_without_limits(app):
    assert app.config["RATELIMIT_ENABLED"] is False
    assert ratelimits.limiter_of(app) is None


def test_a_limit_that_does_not_parse_stops_the_app_from_starting(build_app):
    with pytest.raises(RuntimeError, match="SUITESCOPE_RATELIMIT_SIGNIN must be a rate limit"):
        build_app(SUITESCOPE_RATELIMIT_SIGNIN="ten a minute")


# Storage


def test_the_storage_from_the_environment_reaches_the_limiter(monkeypatch, tmp_path):
    monkeypatch.setenv("SUITESCOPE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("SUITESCOPE_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("SUITESCOPE_RATELIMIT_STORAGE", "redis://127.0.0.1:6379/7")

    app = create_app()  # no connection is made until a request is counted

    storage = ratelimits.limiter_of(app).storage
    assert isinstance(storage, RedisStorage)
    connection = storage.storage.connection_pool.connection_kwargs
    assert (connection["host"], connection["port"], connection["db"]) == ("127.0.0.1", 6379, 7)
    assert connection["socket_timeout"] == ratelimits.REDIS_TIMEOUT_SECONDS
    dispose(app)


def test_memory_storage_by_default(limited_app):
    assert isinstance(ratelimits.limiter_of(limited_app).storage, MemoryStorage)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_store_neither_fails_uploads_nor_lifts_the_limit(build_app, caplog):
    app = build_app(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")
    with rolled_back_transaction(app), app.app_context():
        client = seeded_client(app)
        statuses = [upload(client, build=str(n)).status_code for n in range(3)]
        db.session.remove()
    assert statuses == [201, 201, 429], "counted in memory while the store is down"
    assert "falling back to in-memory storage" in caplog.text


def test_the_wait_falls_back_to_the_window_when_the_store_fails_late(limited_app, monkeypatch):
    class StoreGone:
        """A limiter whose store stopped answering after the breach was counted."""

        @property
        def current_limit(self):
            return self

        @property
        def reset_at(self):
            raise ConnectionError("store went away")

    monkeypatch.setitem(limited_app.extensions, ratelimits.EXTENSION_KEY, StoreGone())
    breach = SimpleNamespace(limit=SimpleNamespace(limit=parse("2 per 5 minutes")))
    with limited_app.test_request_context("/api/v1/uploads", method="POST"):
        assert ratelimits.seconds_to_wait(breach) == 300


def redis_listening() -> bool:
    try:
        socket.create_connection(REDIS, timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture
def redis_prefix():
    """A key prefix no one else uses; every key under it is deleted afterwards."""
    if not redis_listening():
        pytest.skip("no Redis listens on 127.0.0.1:6379 (start one to run this test)")
    import redis

    prefix = f"suitescope-test-{uuid.uuid4().hex}"
    server = redis.Redis(*REDIS, db=0)
    try:
        yield prefix, server
    finally:
        for key in server.scan_iter(match=f"*{prefix}*"):
            server.delete(key)
        server.close()


def test_workers_sharing_redis_share_the_count(build_app, redis_prefix):
    """Two apps stand for two gunicorn workers; with memory storage each would count alone."""
    prefix, server = redis_prefix
    settings = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0", "RATELIMIT_KEY_PREFIX": prefix}
    first, second = build_app(**settings), build_app(**settings)

    with first.app_context():
        assert [first.test_client().post("/api/v1/uploads").status_code for _ in "ab"] == [401] * 2
    with second.app_context():
        refused = second.test_client().post("/api/v1/uploads")

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) in range(1, 61)
    keys = [key.decode() for key in server.scan_iter(match=f"*{prefix}*")]
    assert len(keys) == 1
    assert "address:127.0.0.1" in keys[0]
    # The moving window keeps one entry per allowed hit, both made by the first app.
    assert server.llen(keys[0]) == 2


def test_instances_sharing_redis_count_apart_under_their_own_prefixes(build_app, redis_prefix):
    """Staging and production on one Redis database: SUITESCOPE_RATELIMIT_KEY_PREFIX."""
    prefix, server = redis_prefix
    storage = "redis://127.0.0.1:6379/0"
    production = build_app(RATELIMIT_STORAGE_URI=storage, RATELIMIT_KEY_PREFIX=f"{prefix}-prod")
    staging = build_app(RATELIMIT_STORAGE_URI=storage, RATELIMIT_KEY_PREFIX=f"{prefix}-staging")

    with production.app_context():
        production_client = production.test_client()
        assert [production_client.post("/api/v1/uploads").status_code for _ in "ab"] == [401] * 2
        assert production_client.post("/api/v1/uploads").status_code == 429
    with staging.app_context():
        assert staging.test_client().post("/api/v1/uploads").status_code == 401  # its own count

    keys = [key.decode() for key in server.scan_iter(match=f"*{prefix}*")]
    assert sorted(f"{prefix}-staging" in key for key in keys) == [False, True]
    assert sorted(f"{prefix}-prod" in key for key in keys) == [False, True]


# Behind reverse proxies


def sign_in_from(client, forwarded_for: str):
    return client.post(
        "/sign-in",
        data={"username": "alice", "password": "wrong-password"},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_behind_a_trusted_proxy_each_client_counts_alone(build_app):
    client = build_app(SUITESCOPE_PROXY_HOPS=1).test_client()
    for _ in range(2):
        assert sign_in_from(client, "198.51.100.1").status_code == 422
    assert sign_in_from(client, "198.51.100.1").status_code == 429
    assert sign_in_from(client, "198.51.100.2").status_code == 422, "another client"


def test_without_trusted_proxies_a_forwarded_for_header_is_ignored(build_app):
    client = build_app().test_client()
    for _ in range(2):
        assert sign_in_from(client, "198.51.100.1").status_code == 422
    assert sign_in_from(client, "198.51.100.2").status_code == 429, "anyone can forge it"


def test_a_trusted_proxy_gives_the_scheme_host_and_prefix(build_app):
    app = build_app(SUITESCOPE_PROXY_HOPS=1)
    app.add_url_rule("/where", "where", lambda: request.url)
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "ci.example.com",
        "X-Forwarded-Prefix": "/suitescope",
    }
    assert app.test_client().get("/where", headers=headers).text == (
        "https://ci.example.com/suitescope/where"
    )


@pytest.mark.parametrize("hops", ["-1", "two"])
def test_proxy_hops_must_be_a_count(hops):
    with pytest.raises(RuntimeError, match="SUITESCOPE_PROXY_HOPS"):
        Config(environ={"SUITESCOPE_PROXY_HOPS": hops, "SECRET_KEY": "x"})
