"""API token authentication: ``Authorization: Bearer <token>``."""

from __future__ import annotations

from flask import request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from dashboard import projects as project_service
from dashboard.models import ApiToken


def bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def require_token() -> ApiToken:
    """The request's active token, or 401 (missing/unknown) / 403 (revoked)."""
    secret = bearer_secret()
    if secret is None:
        raise unauthorized("send your project token as `Authorization: Bearer <token>`")
    token = project_service.find_token(secret)
    if token is None:
        raise unauthorized("unknown token")
    if not token.is_active:
        raise Forbidden("this token has been revoked; create a new one")
    return token


def unauthorized(message: str) -> Unauthorized:
    return Unauthorized(
        message, www_authenticate=WWWAuthenticate("bearer", {"realm": "suitescope"})
    )
