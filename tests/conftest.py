"""Root of the test tree: options, and the fixture modules to load.

Fixtures live in ``tests/fixtures/*`` and are loaded through ``pytest_plugins``
rather than growing one giant conftest.
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "tests.fixtures.network",
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.queries",
    "tests.fixtures.browser",
    "tests.fixtures.served",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        default=False,
        help="rewrite tests/data/snapshots/*.json from the current parser output",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Any app built without an explicit config is a testing one: nothing may
    # write a development secret into the repository's instance/ folder.
    os.environ["SUITESCOPE_ENV"] = "testing"
