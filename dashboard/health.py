"""``/healthz``: is the app up, and can it reach its database?"""

from __future__ import annotations

from flask import Blueprint, jsonify

from dashboard.database import database_status

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    reachable, detail = database_status()
    body = {"status": "ok" if reachable else "unavailable", "database": detail}
    return jsonify(body), 200 if reachable else 503
