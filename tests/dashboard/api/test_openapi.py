"""The OpenAPI document itself: what every operation must declare."""

from __future__ import annotations

import pytest

from tests.factories import ApiTokenFactory, ProjectFactory

DOCUMENT = "/api/v1/openapi.json"
OTHER_SECRET = "ss_openapi-other-token"
# A path for each read, with the real project's slug and ids that need not exist.
READ_PATHS = {
    "/api/v1/projects": "/api/v1/projects",
    "/api/v1/projects/{slug}/runs": "/api/v1/projects/web/runs",
    "/api/v1/projects/{slug}/runs/{run_id}": "/api/v1/projects/web/runs/1",
    "/api/v1/projects/{slug}/runs/{run_id}/results": "/api/v1/projects/web/runs/1/results",
    "/api/v1/projects/{slug}/tests/{case_id}/history": "/api/v1/projects/web/tests/1/history",
    "/api/v1/projects/{slug}/tests": "/api/v1/projects/web/tests",
    "/api/v1/projects/{slug}/flaky": "/api/v1/projects/web/flaky",
    "/api/v1/projects/{slug}/durations": "/api/v1/projects/web/durations",
    "/api/v1/projects/{slug}/coverage": "/api/v1/projects/web/coverage",
    "/api/v1/projects/{slug}/review": "/api/v1/projects/web/review",
    "/api/v1/projects/{slug}/quarantine": "/api/v1/projects/web/quarantine",
}


@pytest.fixture
def document(client) -> dict:
    return client.get(DOCUMENT).get_json()


@pytest.fixture
def private(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "SUITESCOPE_PRIVATE", True)
    ProjectFactory(slug="web")
    ApiTokenFactory(project=ProjectFactory(slug="other"), secret=OTHER_SECRET)
    db_session.commit()


def test_every_read_of_the_document_is_listed_here(document):
    reads = {path for path, operations in document["paths"].items() if "get" in operations}
    assert reads == set(READ_PATHS)


@pytest.mark.usefixtures("private")
@pytest.mark.parametrize("template", sorted(READ_PATHS))
def test_private_mode_refusals_are_documented_for_every_read(client, document, template):
    """Private mode answers reads without a token 401 and with another project's 403:
    the document listed neither for most reads, so a client could not expect them."""
    operation = document["paths"][template]["get"]
    assert {"bearer": []} in operation["security"]
    assert {} in operation["security"], "reads stay open outside private mode"

    anonymous = client.get(READ_PATHS[template])
    assert anonymous.status_code == 401
    assert "401" in operation["responses"]

    if "{slug}" in template:
        foreign = client.get(
            READ_PATHS[template], headers={"Authorization": f"Bearer {OTHER_SECRET}"}
        )
        assert foreign.status_code == 403
        assert "403" in operation["responses"]
