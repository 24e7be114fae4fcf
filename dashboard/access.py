"""Who may do what: signed-in users (sessions) and admin-only changes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g, redirect, request, session, url_for
from werkzeug.exceptions import Forbidden
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.extensions import db
from dashboard.models import User

SESSION_KEY = "user_id"


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def password_matches(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def current_user() -> User | None:
    """The signed-in user of this request, looked up once."""
    if "current_user" not in g:
        user_id = session.get(SESSION_KEY)
        g.current_user = db.session.get(User, user_id) if user_id is not None else None
    return g.current_user


def sign_in(user: User) -> None:
    session.clear()
    session[SESSION_KEY] = user.id
    session.permanent = True
    g.current_user = user


def sign_out() -> None:
    session.clear()
    g.current_user = None


def admin_required(view: Callable) -> Callable:
    """Pages send anonymous visitors to sign in; signed-in non-admins get 403."""

    @wraps(view)
    def guarded(*args, **kwargs):
        user = current_user()
        if user is None:
            return redirect(url_for("ui.sign_in", next=request.full_path))
        if not user.is_admin:
            raise Forbidden("only an admin can change this")
        return view(*args, **kwargs)

    return guarded
