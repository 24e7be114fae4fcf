"""Every hand-written producer fixture, parsed and compared with its reviewed snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.coverage import clover, cobertura, coveragepy, gocover, jacoco, lcov
from tests.snapshot import assert_matches_snapshot

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "coverage"

PARSERS = {
    "cobertura": cobertura.parse,
    "jacoco": jacoco.parse,
    "clover": clover.parse,
    "coveragepy-json": coveragepy.parse,
    "lcov": lcov.parse,
    "go-coverprofile": gocover.parse,
}

FIXTURE_FILES = sorted(path for path in FIXTURES.glob("*/*") if path.is_file())


def test_every_format_has_fixtures() -> None:
    assert {path.parent.name for path in FIXTURE_FILES} == set(PARSERS)


@pytest.mark.parametrize(
    "fixture", FIXTURE_FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FIXTURE_FILES]
)
def test_fixture_matches_snapshot(request: pytest.FixtureRequest, fixture: Path) -> None:
    format_name = fixture.parent.name
    parsed = PARSERS[format_name](fixture.read_bytes())
    assert parsed.format == format_name
    assert_matches_snapshot(request, f"coverage__{format_name}__{fixture.stem}", parsed)
