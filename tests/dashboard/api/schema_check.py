"""Checking a JSON body against the API's OpenAPI document, without jsonschema.

The subset of OpenAPI 3.0 our schemas use: ``$ref`` to a component, types,
``nullable``, ``enum``, ``minimum``/``maximum``, ``date-time`` strings,
``required`` and documented ``properties``, array ``items``. The endpoint tests
share it; schemathesis checks the whole document separately.
"""

from __future__ import annotations

from datetime import datetime

JSON_TYPES = {
    "integer": int,
    "number": (int, float),
    "string": str,
    "boolean": bool,
    "array": list,
    "object": dict,
}


def resolve(schema: dict, document: dict) -> dict:
    """The schema itself, or the component its ``$ref`` names."""
    if "$ref" in schema:
        return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def assert_matches(value, schema: dict, document: dict, where: str = "$") -> None:
    schema = resolve(schema, document)
    if value is None:
        assert schema.get("nullable"), f"{where} is null but not nullable"
        return
    kind = schema["type"]
    assert isinstance(value, JSON_TYPES[kind]), f"{where}: {value!r} is not {kind}"
    assert kind == "boolean" or not isinstance(value, bool), f"{where}: {value!r}"
    assert value in schema.get("enum", [value]), f"{where}: {value!r} not in the enum"
    if "minimum" in schema:
        assert value >= schema["minimum"], where
    if "maximum" in schema:
        assert value <= schema["maximum"], where
    if schema.get("format") == "date-time":
        datetime.fromisoformat(value)
    if kind == "object":
        assert set(schema.get("required", [])) <= set(value), f"{where} lacks a required key"
        for key, item in value.items():
            assert key in schema["properties"], f"{where}.{key} is not documented"
            assert_matches(item, schema["properties"][key], document, f"{where}.{key}")
    if kind == "array":
        for index, item in enumerate(value):
            assert_matches(item, schema["items"], document, f"{where}[{index}]")


def documented_get(client, document: dict, template: str, url: str, status: int = 200) -> dict:
    """GET ``url`` (an instance of the document's path ``template``), check the status
    and that the body matches the schema documented for it; the body."""
    response = client.get(url)
    assert response.status_code == status, response.text
    responses = document["paths"][template]["get"]["responses"]
    body = response.get_json()
    assert_matches(body, responses[str(status)]["content"]["application/json"]["schema"], document)
    return body
