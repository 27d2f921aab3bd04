import re
import sys
from typing import Any

import msgspec

from service import wire
from service.app import create_app
from service.settings import load_settings


def _openapi(**settings: Any) -> dict[str, Any]:
    schema: dict[str, Any] = create_app(load_settings({}, **settings)).openapi_schema.to_schema()
    return schema


def _body(schema: dict[str, Any], method: str, path: str) -> Any:
    return schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def test_the_events_body_is_documented_as_the_tagged_union_of_events() -> None:
    schema = _openapi()
    components = schema["components"]["schemas"]
    assert _body(schema, "post", "/v1/events") == {"$ref": "#/components/schemas/EventBatch"}
    events = components["EventBatch"]["properties"]["events"]
    assert (events["minItems"], events["maxItems"]) == (1, wire.MAX_BATCH)
    union = events["items"]
    assert union["discriminator"]["propertyName"] == "type"
    assert list(union["discriminator"]["mapping"]) == list(wire.EVENT_TYPES)
    assert [ref["$ref"] for ref in union["anyOf"]] == list(
        union["discriminator"]["mapping"].values()
    )
    for kind, ref in union["discriminator"]["mapping"].items():
        event = components[ref.rsplit("/", 1)[1]]
        assert event["properties"]["type"] == {"enum": [kind]}
        assert set(event["required"]) == {"type", "event_id", "user_id", "paper_id", "occurred_at"}
        assert set(event["properties"]) == {*event["required"], "request_id"}
        assert event["properties"]["occurred_at"] == {
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 with a timezone",
        }
        assert event["additionalProperties"] is False


def _without_nulls(value: Any) -> Any:
    # The OpenAPI document leaves out `"default": null`, which says nothing.
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def test_request_bodies_are_documented_as_the_server_decodes_them() -> None:
    schema = _openapi(reader_token_ttl_seconds=600)
    components = schema["components"]["schemas"]
    bodies = {
        "/v1/papers": wire.PaperBatch,
        "/v1/events": wire.EventBatch,
        "/v1/tokens": wire.TokenRequest,
    }
    for path, body in bodies.items():
        assert _body(schema, "post", path) == {"$ref": f"#/components/schemas/{body.__name__}"}
    _, expected = msgspec.json.schema_components(
        list(bodies.values()), ref_template="#/components/schemas/{name}"
    )
    # The longest reader token is a setting, and `ttl_seconds` is an integer decoded as a
    # whole float (see wire.TokenRequest).
    ttl = expected["TokenRequest"]["properties"]["ttl_seconds"]["anyOf"][0]
    ttl.update(type="integer", maximum=600)
    for name, definition in expected.items():
        assert components[name] == _without_nulls(definition), name
    # What Litestar's own schema generation left out: constraints on list items.
    authors = components["PaperIn"]["properties"]["authors"]["items"]
    assert authors["maxLength"] == 300 and "pattern" in authors


def test_a_title_or_query_is_blank_exactly_when_python_splits_it_to_nothing() -> None:
    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    titles = [*spaces, "".join(spaces), " x ", "\x1e\x1fa", "\u3000\ufeff", "a\x00", "\x00"]
    for title in titles:
        body = msgspec.json.encode({"papers": [{"id": "p1", "title": title}]})
        blank_or_nul = not title.split() or "\x00" in title
        try:
            msgspec.json.decode(body, type=wire.PaperBatch)
        except msgspec.ValidationError:
            assert blank_or_nul, repr(title)
        else:
            assert not blank_or_nul, repr(title)
        assert (re.search(wire.HAS_TEXT, title) is None) == (not title.split()), repr(title)
