"""PACT v3 CloudEvents: outgoing events validate against the spec; incoming ones are checked strictly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from epd_records import events
from epd_records.events import EventError, parse_event
from epd_records.pact import product_footprint

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SRC = "//gateway.epd.example.cn/3/events"


def test_published_event_matches_spec(pact_schema):
    ids = ["urn:uuid:6f1c2a3e-8d4b-4c1a-9f00-2b7e5d9a1c01", "0a9d8c7b-6e5f-4a3b-8c2d-1e0f9a8b7c6d"]
    event = events.published_event(ids, event_id="outbox-17", source=SRC, time=NOW)
    pact_schema("PublishedEvent").validate(event)
    assert event["type"] == "org.wbcsd.pact.ProductFootprint.PublishedEvent.3"
    assert event["data"]["pfIds"] == [i.removeprefix("urn:uuid:") for i in ids]
    assert event["time"] == "2026-03-01T12:00:00Z"


def test_fulfilled_event_carries_valid_footprints(make_version, party, pact_schema):
    pf = product_footprint(make_version(), party)
    event = events.request_fulfilled_event("req-1", [pf], event_id="e-2", source=SRC, time=NOW)
    pact_schema("RequestFulfilledEvent").validate(event)
    assert event["type"].endswith("RequestFulfilledEvent.3") and event["data"]["pfs"] == [pf]
    with pytest.raises(EventError, match="RequestRejected instead"):
        events.request_fulfilled_event("req-1", [], event_id="e-3", source=SRC, time=NOW)


def test_rejected_event_uses_spec_error_codes(pact_schema):
    event = events.request_rejected_event(
        "req-1", "NotFound", "no footprint matches", event_id="e-4", source=SRC, time=NOW
    )
    pact_schema("RequestRejectedEvent").validate(event)
    pact_schema("Error").validate(event["data"]["error"])
    with pytest.raises(EventError, match="error code"):
        events.request_rejected_event("req-1", "Teapot", "x", event_id="e", source=SRC, time=NOW)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: events.published_event([], event_id="e", source=SRC, time=NOW), "at least one"),
        (lambda: events.published_event(["nope"], event_id="e", source=SRC, time=NOW), "pf id"),
        (
            lambda: events.published_event(["0a9d8c7b-6e5f-4a3b-8c2d-1e0f9a8b7c6d"], event_id="", source=SRC, time=NOW),
            "event id",
        ),
        (
            lambda: events.published_event(
                ["0a9d8c7b-6e5f-4a3b-8c2d-1e0f9a8b7c6d"], event_id="e\x00", source=SRC, time=NOW
            ),
            "control",
        ),
        (
            lambda: events.published_event(
                ["0a9d8c7b-6e5f-4a3b-8c2d-1e0f9a8b7c6d"], event_id="e", source=SRC, time=datetime(2026, 1, 1)
            ),
            "timezone",
        ),
    ],
)
def test_bad_outgoing_events_are_refused(call, match):
    with pytest.raises(EventError, match=match):
        call()


def _request(**data):
    return {
        "type": events.REQUEST_CREATED,
        "specversion": "1.0",
        "id": "r-1",
        "source": "//partner/3/events",
        "time": "2026-03-01T12:00:00Z",
        "data": data,
    }


def test_request_created_is_parsed():
    incoming = parse_event(
        _request(
            productId=["urn:pact:x:product-id:1"],
            geography=["CN"],
            validAfter="2025-01-01T00:00:00Z",
            status="Active",
            comment="please",
        )
    )
    assert incoming.type == events.REQUEST_CREATED
    assert incoming.criteria == {
        "productId": ["urn:pact:x:product-id:1"],
        "geography": ["CN"],
        "validAfter": "2025-01-01T00:00:00Z",
        "status": "Active",
        "comment": "please",
    }


def test_published_event_from_partner_is_parsed():
    body = events.published_event(["0a9d8c7b-6e5f-4a3b-8c2d-1e0f9a8b7c6d"], event_id="p", source=SRC, time=NOW)
    assert parse_event(body).pf_ids == ("0a9d8c7b-6e5f-4a3b-8c2d-1e0f9a8b7c6d",)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ([], "JSON object"),
        ("event", "JSON object"),
        ({"type": events.REQUEST_CREATED}, "lacks required"),
        ({**_request(), "specversion": "0.3"}, "specversion"),
        ({**_request(), "time": "yesterday"}, "RFC 3339"),
        ({**_request(), "id": ""}, "event id"),
        ({**_request(), "id": 5}, "event id"),
        ({**_request(), "data": "x"}, "data must be an object"),
        ({**_request(), "type": "com.evil.Event"}, "not accepted"),
        ({**_request(), "type": events.REQUEST_FULFILLED}, "not accepted"),
        (_request(productId="urn:x:1"), "productId must be a list"),
        (_request(productId=[]), "productId must be a list"),
        (_request(productId=["x"] * 101), "productId must be a list"),
        (_request(geography=[None]), "geography"),
        (_request(validOn="2026-13"), "validOn"),
        (_request(sql="1; DROP TABLE"), "unknown request criterion"),
        (_request(comment="x" * 3000), "longer than"),
        (
            {
                **events.published_event(["0a9d8c7b-6e5f-4a3b-8c2d-1e0f9a8b7c6d"], event_id="p", source=SRC, time=NOW),
                "data": {"pfIds": ["bad"]},
            },
            "pfId",
        ),
        (
            {
                **events.published_event(["0a9d8c7b-6e5f-4a3b-8c2d-1e0f9a8b7c6d"], event_id="p", source=SRC, time=NOW),
                "data": {"pfIds": []},
            },
            "pfIds",
        ),
    ],
)
def test_malformed_incoming_events_are_refused(body, match):
    with pytest.raises(EventError, match=match):
        parse_event(body)


def test_request_criteria_that_match_nothing_are_accepted():
    """PACT filter values that match nothing are not errors (the answer is RequestRejected NotFound)."""
    event = parse_event(_request(productId=["not-a-urn"], status="Retired"))
    assert event.criteria == {"productId": ["not-a-urn"], "status": "Retired"}


def test_answers_to_our_requests_are_accepted_by_parse_incoming():
    answer = events.request_rejected_event("req-1", "NotFound", "none", event_id="a-1", source=SRC, time=NOW)
    assert events.parse_incoming(answer).type == events.REQUEST_REJECTED
    with pytest.raises(EventError, match="requestEventId"):
        events.parse_incoming({**answer, "data": {}})
