"""The scope most analytics tests ask about: the ``days`` days up to a moment."""

from __future__ import annotations

from datetime import datetime, timedelta

from dashboard.analytics.scope import Scope


def window(project, until: datetime, days: int = 30, **filters) -> Scope:
    return Scope(project, until - timedelta(days=days), until, window_days=days, **filters)
