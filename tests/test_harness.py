"""The harness itself: isolation between tests and the network guard."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import func, select

from dashboard.models import Project
from dashboard.projects import create_project
from tests.fixtures.network import NetworkAccessDenied

CANARY_SLUG = "canary"


def _canary_count(db_session) -> int:
    return db_session.scalar(select(func.count()).where(Project.slug == CANARY_SLUG))


@pytest.mark.parametrize("order", ["first", "second"])
def test_committed_rows_never_leak_into_another_test(db_session, order):
    """Run twice (and in random order under pytest-randomly): each run starts empty.

    ``create_project`` really commits; only the harness's outer transaction can undo it.
    """
    assert _canary_count(db_session) == 0
    create_project(CANARY_SLUG)
    assert _canary_count(db_session) == 1


def test_canary_commit_is_visible_to_requests_of_the_same_test(client, db_session):
    create_project(CANARY_SLUG)
    body = client.get("/api/v1/projects").get_json()
    assert [p["slug"] for p in body["projects"]] == [CANARY_SLUG]


def test_network_guard_refuses_remote_addresses():
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(NetworkAccessDenied, match=r"192\.0\.2\.1"),
    ):
        sock.connect(("192.0.2.1", 80))


def test_network_guard_refuses_name_resolution():
    with pytest.raises(NetworkAccessDenied, match=r"example\.invalid"):
        socket.getaddrinfo("example.invalid", 443)


def test_network_guard_allows_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
