"""Snapshot assertions for normalised parser output.

Snapshots are JSON files under ``tests/data/snapshots``. Run pytest with
``--update-snapshots`` to (re)write them after a deliberate change, then
review the diff like any other code.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import pytest

SNAPSHOT_DIR = Path(__file__).parent / "data" / "snapshots"


def to_plain(value):
    """Dataclasses, datetimes and containers as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def assert_matches_snapshot(request: pytest.FixtureRequest, name: str, value) -> None:
    """Compare ``value`` with the stored snapshot ``name`` (or write it when updating)."""
    path = SNAPSHOT_DIR / f"{name}.json"
    rendered = json.dumps(to_plain(value), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if request.config.getoption("--update-snapshots") or not path.exists():
        if not request.config.getoption("--update-snapshots"):
            pytest.fail(f"no snapshot {path.name}; run pytest --update-snapshots and review it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
        return
    assert json.loads(rendered) == json.loads(path.read_text(encoding="utf-8"))
