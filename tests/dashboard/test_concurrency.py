"""Shards of one build, and other builds, uploaded at once to a served app.

A real server on loopback (threads, one connection each) over a committed
database: every case must be stored exactly once, the sharded run's totals must
equal the sum of its shards, and every request must succeed on its first try.
The heavy version is ``python -m bench.load``.
"""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Case, Project, Result, Run
from tests.fixtures.served import dispose, junit_report, project_with_token, serve

SHARDS = 6
OTHER_BUILDS = 4
CASES = 150


@pytest.fixture(scope="module")
def served(committed_database):
    app = committed_database.app()
    with serve(app) as url:
        yield app, url
    dispose(app)


def post_all(url: str, token: str, uploads: list[tuple[str, bytes]]) -> list[int]:
    """POST every (build, report) from its own thread, all released at once; the statuses."""
    start = threading.Barrier(len(uploads))
    statuses: list[int] = [0] * len(uploads)

    def send(index: int, build: str, report: bytes) -> None:
        start.wait()
        response = requests.post(
            f"{url}/api/v1/uploads",
            headers={"Authorization": f"Bearer {token}"},
            data={"build": build, "branch": "main"},
            files=[("file", (f"{build}-{index}.xml", report, "application/xml"))],
            timeout=60,
        )
        statuses[index] = response.status_code

    threads = [
        threading.Thread(target=send, args=(index, build, report))
        for index, (build, report) in enumerate(uploads)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_concurrent_shards_merge_into_one_run_with_every_case_once(served):
    app, url = served
    token = project_with_token(app, "concurrent-shards")
    shards = [("sharded", junit_report(f"shard{n}", CASES)) for n in range(SHARDS)]
    others = [(f"other-{n}", junit_report("suite", CASES)) for n in range(OTHER_BUILDS)]

    statuses = post_all(url, token, shards + others)

    assert statuses == [201] * (SHARDS + OTHER_BUILDS)
    failing_per_report = len(range(0, CASES, 20))
    with app.app_context():
        project_id = db.session.scalar(
            select(Project.id).where(Project.slug == "concurrent-shards")
        )
        runs = {
            run.build: run
            for run in db.session.scalars(select(Run).where(Run.project_id == project_id))
        }
        assert sorted(runs) == sorted(["sharded"] + [build for build, _ in others])
        stored = dict(
            db.session.execute(
                select(Result.run_id, func.count())
                .join(Run, Run.id == Result.run_id)
                .where(Run.project_id == project_id)
                .group_by(Result.run_id)
            ).all()
        )
        sharded = runs["sharded"]
        assert stored[sharded.id] == SHARDS * CASES
        assert (sharded.tests, sharded.failed) == (SHARDS * CASES, SHARDS * failing_per_report)
        assert sharded.passed == SHARDS * (CASES - failing_per_report)
        for build, _ in others:
            assert stored[runs[build].id] == runs[build].tests == CASES
        # The other builds raced to add the same new cases: each exists once.
        cases = db.session.scalar(select(func.count()).where(Case.project_id == project_id))
        assert cases == SHARDS * CASES + CASES
        db.session.remove()
