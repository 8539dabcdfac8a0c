"""Rendering: PACT v3 PublishedEvent per the spec, webhook payloads through injected renderers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from epd.v1 import footprint_pb2
from epd_records.delivery import (
    RenderError,
    pact_pf_id,
    pact_published_event,
    render_for_endpoint,
    webhook_event_type,
)
from epd_records.errors import MappingError
from epd_records.events import PUBLISHED as PACT_PUBLISHED_EVENT_TYPE
from epd_records.recognition import DeliveryFormat
from tests.conftest import shared_spec

PF = "urn:uuid:5E0F5C2E-1B7C-4F39-9D33-1F0F6E0C2A11"
WHEN = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def fv() -> footprint_pb2.FootprintVersion:
    return footprint_pb2.FootprintVersion(pf_id=PF, product_id="p1", version=2)


def refuse(_: object) -> dict:
    raise MappingError("no company id")


def fake_record(footprint) -> dict:
    return {"id": footprint.pf_id, "pcf": {"value": "12.5"}}


def test_event_type_matches_the_pact_spec() -> None:
    import yaml

    spec = yaml.safe_load(shared_spec("pact/openapi-v3.0.3.yaml").read_text())
    schema = spec["components"]["schemas"]["PublishedEvent"]
    assert schema["properties"]["type"]["const"] == PACT_PUBLISHED_EVENT_TYPE
    required = set(spec["components"]["schemas"]["BaseEvent"]["required"])
    event = pact_published_event([PF], event_id="evt-1", source="//epd.example/3/events", time=WHEN)
    assert required <= set(event)
    assert set(schema["properties"]["data"]["properties"]) == set(event["data"])


def test_pact_event_body_is_canonical_and_stable() -> None:
    args = dict(event_id="evt-1", change_type=3, source="//epd.example/3/events", time=WHEN, renderers={})
    a = render_for_endpoint(DeliveryFormat.PACT, fv(), **args)
    b = render_for_endpoint("pact", fv(), **args)
    assert a == b and a.content_type == "application/cloudevents+json"
    doc = json.loads(a.body)
    assert doc["data"] == {"pfIds": ["5e0f5c2e-1b7c-4f39-9d33-1f0f6e0c2a11"]}
    assert doc["time"] == "2025-03-01T12:00:00Z" and doc["specversion"] == "1.0"


def test_times_are_converted_to_utc() -> None:
    tz8 = timezone(timedelta(hours=8))
    event = pact_published_event([PF], event_id="e", source="s", time=datetime(2025, 3, 1, 20, tzinfo=tz8))
    assert event["time"] == "2025-03-01T12:00:00Z"


def test_webhook_payload_wraps_the_injected_record() -> None:
    out = render_for_endpoint(
        "webhook-pact",
        fv(),
        event_id="evt-1",
        change_type=footprint_pb2.FOOTPRINT_CHANGE_TYPE_CREATED,
        source="s",
        time=WHEN,
        renderers={DeliveryFormat.WEBHOOK_PACT: fake_record},
    )
    doc = json.loads(out.body)
    assert doc["type"] == "footprint.created" and doc["data"]["id"] == PF
    assert out.body == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("fmt", "renderers", "why"),
    [
        ("webhook-openepd", {}, "no renderer"),
        ("smtp", {}, "unknown delivery format"),
        ("webhook-pact", {DeliveryFormat.WEBHOOK_PACT: lambda f: ["not", "a", "mapping"]}, "not a mapping"),
        ("webhook-pact", {DeliveryFormat.WEBHOOK_PACT: lambda f: {"x": float("inf")}}, "canonicalisable"),
        ("webhook-pact", {DeliveryFormat.WEBHOOK_PACT: refuse}, "mapping failed: no company id"),
    ],
)
def test_render_errors_say_why(fmt: str, renderers: dict, why: str) -> None:
    with pytest.raises(RenderError, match=why):
        render_for_endpoint(fmt, fv(), event_id="e", change_type=3, source="s", time=WHEN, renderers=renderers)


def test_a_bug_in_a_renderer_is_not_taken_for_bad_input() -> None:
    """Only the record model's own errors become a (permanent, dead-lettered) render failure."""

    def broken(_: object) -> dict:
        return {"n": int("x")}

    with pytest.raises(ValueError, match="invalid literal"):
        render_for_endpoint(
            "webhook-pact",
            fv(),
            event_id="e",
            change_type=3,
            source="s",
            time=WHEN,
            renderers={DeliveryFormat.WEBHOOK_PACT: broken},
        )


def test_pact_render_of_an_object_without_pf_id_is_refused() -> None:
    with pytest.raises(RenderError, match="not a UUID"):
        render_for_endpoint("pact", object(), event_id="e", change_type=3, source="s", time=WHEN, renderers={})


@pytest.mark.parametrize("pf", ["", "urn:uuid:", "not-a-uuid", "urn:uuid:" + "a" * 80, None, 5])
def test_bad_pf_ids_are_refused(pf: object) -> None:
    with pytest.raises(RenderError):
        pact_pf_id(pf)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pf_ids": []},
        {"event_id": ""},
        {"source": ""},
        {"time": datetime(2025, 3, 1)},  # naive
        {"time": "2025-03-01"},
    ],
)
def test_bad_event_arguments_are_refused(kwargs: dict) -> None:
    args = {"pf_ids": [PF], "event_id": "e", "source": "s", "time": WHEN, **kwargs}
    with pytest.raises(RenderError):
        pact_published_event(args.pop("pf_ids"), **args)


@pytest.mark.parametrize(
    ("change", "name"), [(3, "footprint.published"), ("FOOTPRINT_CHANGE_TYPE_WITHDRAWN", "footprint.withdrawn")]
)
def test_webhook_event_types(change: object, name: str) -> None:
    assert webhook_event_type(change) == name


@pytest.mark.parametrize("change", [0, 99, "", "FOOTPRINT_CHANGE_TYPE_UNSPECIFIED", "a.b", None, True])
def test_bad_change_types(change: object) -> None:
    with pytest.raises(RenderError):
        webhook_event_type(change)
