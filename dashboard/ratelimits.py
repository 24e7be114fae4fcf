"""Rate limits on uploads and sign-in, counted by Flask-Limiter.

Two routes are limited, each by its own setting (see README, "Rate limits"):

* ``POST /api/v1/uploads`` per API token (a hash of the bearer secret, so no
  database lookup comes first), because CI runners share addresses; requests
  without a token count against their address.
* ``POST /sign-in`` per client address and submitted user name (hashed: people
  type passwords into the name field), to slow password guessing.

Each app gets a ``Limiter`` of its own rather than a module singleton: the
extension keeps its storage, its enabled flag and its fallback state on the
instance, so with a singleton the last app built (the test suite builds many)
would decide for every other. A breach raises ``RateLimitExceeded`` (a 429),
which ``dashboard.errors`` turns into our error shape with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many

from dashboard import auth

EXTENSION_KEY = "suitescope.limiter"
# A limiter store that is slow to answer must not hold requests up: give up on
# Redis quickly and count in memory instead (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED).
REDIS_TIMEOUT_SECONDS = 1.0


def _digest(text: str) -> str:
    """A short hash for a key: secrets and typed names never reach the store as they are."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def upload_key() -> str:
    secret = auth.bearer_secret()
    if secret is None:
        return f"address:{get_remote_address()}"
    return f"token:{_digest(secret)}"


def sign_in_key() -> str:
    username = request.form.get("username", "").strip().lower()
    return f"address:{get_remote_address()}/user:{_digest(username)}"


@dataclass(frozen=True, slots=True)
class LimitedRoute:
    endpoint: str
    setting: str  # the config key (and environment variable) holding the limit
    key: Callable[[], str]
    what: str  # what was too many, for the 429 message
    methods: tuple[str, ...]


LIMITED_ROUTES = (
    LimitedRoute(
        endpoint="api.create_upload",
        setting="SUITESCOPE_RATELIMIT_UPLOADS",
        key=upload_key,
        what="too many uploads with this token",
        methods=("POST",),
    ),
    LimitedRoute(
        endpoint="ui.sign_in",
        setting="SUITESCOPE_RATELIMIT_SIGNIN",
        key=sign_in_key,
        what="too many sign-in attempts for this name from your address",
        methods=("POST",),
    ),
)


def check_limit(setting: str, value: str) -> None:
    """Refuse a limit Flask-Limiter would otherwise only log and ignore."""
    try:
        parse_many(value)
    except ValueError:
        raise RuntimeError(
            f"{setting} must be a rate limit such as '600 per minute' or "
            f"'10 per minute; 100 per hour', got {value!r}"
        ) from None


def storage_options(uri: str) -> dict:
    if uri.startswith(("redis://", "rediss://", "redis+unix://")):
        return {
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
        }
    return {}


def init_app(app: Flask) -> Limiter | None:
    """Limit the routes of ``LIMITED_ROUTES`` whose setting is not empty.

    Does nothing when ``RATELIMIT_ENABLED`` is off. Call it after the
    blueprints are registered: it wraps their view functions.
    """
    if not app.config["RATELIMIT_ENABLED"]:
        return None
    routes = [route for route in LIMITED_ROUTES if app.config[route.setting]]
    for route in routes:
        check_limit(route.setting, app.config[route.setting])
    # After-request hooks run last-registered first: this one sees the headers
    # Flask-Limiter adds.
    app.after_request(keep_retry_after_for_refusals)
    limiter = Limiter(
        get_remote_address,
        storage_options=storage_options(app.config["RATELIMIT_STORAGE_URI"]),
    )
    limiter.init_app(app)
    for route in routes:
        decorate = limiter.limit(
            app.config[route.setting],
            key_func=route.key,
            methods=list(route.methods),
            error_message=route.what,
        )
        app.view_functions[route.endpoint] = decorate(app.view_functions[route.endpoint])
    app.extensions[EXTENSION_KEY] = limiter
    return limiter


def keep_retry_after_for_refusals(response: Response) -> Response:
    """Flask-Limiter adds ``Retry-After`` to every reply of a limited route; a 201
    or a 401 that says "retry after 60 seconds" misleads, so only 429 and 503 keep it."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def limiter_of(app: Flask) -> Limiter | None:
    return app.extensions.get(EXTENSION_KEY)


def seconds_to_wait(error: RateLimitExceeded) -> int:
    """Whole seconds until the breached limit's window resets (at least 1).

    Computed as Flask-Limiter computes its own ``Retry-After`` header, so the
    message and the header agree.
    """
    limiter = limiter_of(current_app)
    breached = limiter.current_limit if limiter is not None else None
    try:
        if breached is not None:
            return max(1, int(breached.reset_at - time.time()))
    except Exception:  # the store went away since the breach: say the window
        current_app.logger.warning("rate limit store unreachable while reading a reset time")
    return max(1, int(error.limit.limit.get_expiry()))


def breach_message(error: RateLimitExceeded, seconds: int) -> str:
    """Which limit was hit, where it is set, and when to come back."""
    route = next((r for r in LIMITED_ROUTES if r.endpoint == request.endpoint), None)
    where = f" ({route.setting})" if route is not None else ""
    unit = "second" if seconds == 1 else "seconds"
    return f"{error.description}: at most {error.limit.limit}{where}; retry in {seconds} {unit}"
