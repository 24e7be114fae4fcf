"""The endpoint tests' schema checker must itself catch a body that lies."""

from __future__ import annotations

import pytest

from tests.dashboard.api.schema_check import assert_matches

DOCUMENT = {
    "components": {
        "schemas": {
            "Item": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "rate": {"type": "number", "nullable": True, "maximum": 1},
                    "status": {"type": "string", "enum": ["flaky", "failing"]},
                    "at": {"type": "string", "format": "date-time"},
                },
            }
        }
    }
}
LIST = {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}


def test_a_body_as_documented_passes():
    body = [{"id": 1, "rate": None, "status": "flaky", "at": "2026-11-26T09:00:00+00:00"}]
    assert_matches(body, LIST, DOCUMENT)


@pytest.mark.parametrize(
    "item",
    [
        {"rate": 0.5},  # the required id is missing
        {"id": "1"},  # a string for an integer
        {"id": True},  # a boolean is no integer
        {"id": 0},  # below the minimum
        {"id": 1, "rate": 1.5},  # above the maximum
        {"id": 1, "status": "green"},  # outside the enum
        {"id": 1, "at": "yesterday"},  # not a date-time
        {"id": 1, "extra": 2},  # an undocumented key
        {"id": None},  # null where it is not nullable
    ],
)
def test_a_body_that_lies_fails(item):
    with pytest.raises((AssertionError, ValueError)):
        assert_matches([item], LIST, DOCUMENT)
