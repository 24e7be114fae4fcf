"""Who may do what: users and passwords, sessions, admin-only changes, private mode.

Private mode (``SUITESCOPE_PRIVATE``) is one ``before_request`` hook,
``guard_private_mode``: pages want a signed-in user, and everything under
``/api/`` wants a signed-in user or an active project token, which reads only
its own project. ``PUBLIC_ENDPOINTS`` lists what stays open.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import cache, wraps
from urllib.parse import quote, urlsplit

from flask import Flask, current_app, g, make_response, redirect, request, session, url_for
from flask.wrappers import Response
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import Forbidden
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard import auth
from dashboard import projects as project_service
from dashboard.extensions import db
from dashboard.models import ApiToken, Project, User, utcnow
from dashboard.rendering import is_htmx
from ingest.transactions import begin_writing

SESSION_KEY = "user_id"
FINGERPRINT_KEY = "user_fingerprint"
MIN_PASSWORD_LENGTH = 8
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")

# Open in private mode: signing in, health checks, assets, the API description,
# and uploads (which check their own token).
PUBLIC_ENDPOINTS = frozenset(
    {"ui.sign_in", "health.healthz", "static", "api.openapi_document", "api.create_upload"}
)
PUBLIC_BLUEPRINTS = frozenset({"vendor"})

# A token's "last used" is news to people, not an audit log: writing it at most
# once a minute spares a database write on every API read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class UserError(ValueError):
    """A user operation that cannot be done, with a message for people."""


# Passwords


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def password_matches(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))


def authenticate(username: str, password: str) -> User | None:
    """The user with these credentials, or None whichever of the two is wrong.

    An unknown name still costs one password check, so response times do not
    tell an attacker which names exist.
    """
    user = find_user(username.strip())
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if password_matches(user, password) else None


# Users: the operations of ``suitescope users``


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def get_user(username: str) -> User:
    user = find_user(username)
    if user is None:
        raise UserError(f"no user called {username!r}")
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def check_username_free(username: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise UserError(
            f"invalid user name {username!r}: use letters, digits and . _ @ - (at most 100)"
        )
    if find_user(username) is not None:
        raise UserError(f"a user called {username!r} already exists")


def create_user(username: str, password: str, *, is_admin: bool = False) -> User:
    check_username_free(username)
    check_password_strength(password)
    user = User(username=username, password_hash=hash_password(password), is_admin=is_admin)
    db.session.add(user)
    db.session.commit()
    return user


def set_password(user: User, password: str) -> None:
    check_password_strength(password)
    user.password_hash = hash_password(password)
    db.session.commit()


def delete_user(user: User) -> None:
    db.session.delete(user)
    db.session.commit()


# Sessions


def current_user() -> User | None:
    """The signed-in user of this request, looked up once."""
    if "current_user" not in g:
        g.current_user = session_user()
    return g.current_user


def session_user() -> User | None:
    user_id = session.get(SESSION_KEY)
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None:
        return None
    # The fingerprint ends sessions when the password changes, and keeps an
    # old cookie from signing in as a new user who got a deleted user's id
    # (SQLite reuses ids). Every session ``sign_in`` writes has one; one
    # without can only come from code holding the SECRET_KEY, such as tests.
    fingerprint = session.get(FINGERPRINT_KEY)
    if fingerprint is not None and not hmac.compare_digest(fingerprint, password_fingerprint(user)):
        return None
    return user


def password_fingerprint(user: User) -> str:
    key = current_app.secret_key.encode("utf-8")
    return hmac.new(key, user.password_hash.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_in(user: User) -> None:
    # A fresh session: nothing from before signing in (such as a planted
    # session or an old CSRF token) carries over.
    session.clear()
    session[SESSION_KEY] = user.id
    session[FINGERPRINT_KEY] = password_fingerprint(user)
    session.permanent = True
    g.current_user = user


def sign_out() -> None:
    session.clear()
    g.current_user = None


def current_path() -> str:
    """This request's path and query, to come back to after signing in."""
    path = quote(request.script_root + request.path)
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: no open redirects.

    Browsers read ``//host``, ``/\\host`` and ``/<tab>/host`` as other sites,
    so backslashes, whitespace and control characters are refused outright.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ch.isspace() or not ch.isprintable() for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def redirect_to_sign_in() -> Response:
    """Off to the sign-in page, coming back here afterwards.

    htmx would swap the sign-in page into the region it was refreshing, so it
    is told to load the page whole instead.
    """
    target = url_for("ui.sign_in", next=current_path())
    if is_htmx():
        response = make_response("")
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def sign_in_required(view: Callable) -> Callable:
    """Pages send anonymous visitors to sign in."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if current_user() is None:
            return redirect_to_sign_in()
        return view(*args, **kwargs)

    return guarded


def admin_required(view: Callable) -> Callable:
    """Pages send anonymous visitors to sign in; signed-in non-admins get 403."""

    @wraps(view)
    def guarded(*args, **kwargs):
        user = current_user()
        if user is None:
            return redirect_to_sign_in()
        if not user.is_admin:
            raise Forbidden("only an admin can change this")
        return view(*args, **kwargs)

    return guarded


# Private mode


def forget_previous_request() -> None:
    """Drop the user and token of an earlier request.

    ``g`` belongs to the app context, which outlives one request when the caller
    already holds one (the test suite does), so nothing may leak across.
    """
    g.pop("current_user", None)
    g.pop("read_token", None)


def is_public_request() -> bool:
    return request.endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS


def guard_private_mode() -> Response | None:
    """In private mode, stop any request that is neither public nor authorised."""
    if not current_app.config["SUITESCOPE_PRIVATE"] or is_public_request():
        return None
    if current_user() is not None:
        return None
    if request.path.startswith("/api/"):
        authorise_token_read()
        return None
    return redirect_to_sign_in()


def authorise_token_read() -> None:
    """Let an anonymous API request through only with its project's active token.

    Missing or unknown token: 401. Revoked, or another project's: 403.
    """
    if auth.bearer_secret() is None:
        raise auth.unauthorized(
            "sign in, or send a project token as `Authorization: Bearer <token>`"
        )
    token = auth.require_token()
    slug = (request.view_args or {}).get("slug")
    if slug is not None and slug != token.project.slug:
        raise Forbidden("this token belongs to another project")
    record_token_use(token)
    g.read_token = token


def record_token_use(token: ApiToken) -> None:
    """Note that ``token`` was used, at most once a minute, in a short transaction of its own.

    One conditional ``UPDATE`` after the request's reads are committed: on
    PostgreSQL concurrent uploads do not queue behind one token's row lock, and
    on SQLite the write does not upgrade a read transaction (see
    ``ingest.transactions``).
    """
    now = utcnow()
    token_id, last_used = token.id, token.last_used_at
    if last_used is not None and now - last_used < LAST_USED_RESOLUTION:
        return
    db.session.commit()
    begin_writing(db.session)
    db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at <= now - LAST_USED_RESOLUTION,
            ),
        )
        .values(last_used_at=now)
    )
    db.session.commit()


def readable_projects() -> list[Project]:
    """The projects this request may read: a project token sees only its own."""
    token = g.get("read_token")
    if token is not None:
        return [token.project]
    return project_service.list_projects()


def user_context() -> dict:
    """``current_user`` for every template; error pages render even without a database.

    In private mode an anonymous visitor (on the sign-in page, say) must not
    learn the projects' names from the menu, so this empties ``nav_projects``
    (context processors registered later win).
    """
    try:
        user = current_user()
    except SQLAlchemyError:
        db.session.rollback()
        user = None
    context = {"current_user": user, "current_path": current_path}
    if user is None and current_app.config["SUITESCOPE_PRIVATE"]:
        context["nav_projects"] = []
    return context


def register(app: Flask) -> None:
    app.before_request(forget_previous_request)
    app.before_request(guard_private_mode)
    app.context_processor(user_context)
