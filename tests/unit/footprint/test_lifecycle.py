"""EPD version lifecycle: allowed and forbidden transitions, validity and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from epd.v1 import footprint_pb2
from epd_footprint.domain.lifecycle import (
    ALLOWED,
    ForbiddenTransition,
    LifecycleError,
    Status,
    can_transition,
    expiry_due,
    is_expired,
    parse_status,
    to_proto,
    transition,
    valid_until,
)


def test_happy_path_to_published_then_deprecated() -> None:
    path = [Status.DRAFT, Status.PROVISIONAL, Status.VERIFIED, Status.PUBLISHED, Status.DEPRECATED, Status.EXPIRED]
    for a, b in pairwise(path):
        assert transition(a, b) is b


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("published", "draft"),
        ("published", "provisional"),
        ("published", "verified"),
        ("draft", "published"),
        ("draft", "verified"),
        ("provisional", "published"),
        ("verified", "provisional"),
        ("deprecated", "published"),
        ("withdrawn", "published"),
        ("withdrawn", "draft"),
        ("expired", "published"),
        ("published", "published"),
    ],
)
def test_forbidden_transitions_raise_a_clear_error(current: str, target: str) -> None:
    with pytest.raises(ForbiddenTransition) as err:
        transition(current, target)
    assert f"from {current} to {target}" in str(err.value)
    assert not can_transition(current, target)


def test_final_statuses_say_so() -> None:
    with pytest.raises(ForbiddenTransition, match="final status"):
        transition(Status.WITHDRAWN, Status.EXPIRED)


def test_every_status_has_a_rule_and_every_move_is_checked() -> None:
    assert set(ALLOWED) == set(Status)
    for cur in Status:
        for tgt in Status:
            assert can_transition(cur, tgt) == (tgt in ALLOWED[cur])


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("published", Status.PUBLISHED),
        (" Verified ", Status.VERIFIED),
        ("FOOTPRINT_STATUS_EXPIRED", Status.EXPIRED),
        (footprint_pb2.FOOTPRINT_STATUS_DRAFT, Status.DRAFT),
    ],
)
def test_parse_status(value: object, status: Status) -> None:
    assert parse_status(value) is status


@pytest.mark.parametrize("value", ["", "live", "FOOTPRINT_STATUS_UNSPECIFIED", 0, 99, -1, None, True, 1.0])
def test_unknown_statuses_are_refused(value: object) -> None:
    with pytest.raises(LifecycleError):
        parse_status(value)


def test_proto_round_trip() -> None:
    for s in Status:
        assert parse_status(to_proto(s)) is s


def test_validity_is_five_years() -> None:
    start = datetime(2025, 6, 30, 8, 0, tzinfo=UTC)
    assert valid_until(start) == datetime(2030, 6, 30, 8, 0, tzinfo=UTC)
    assert valid_until(datetime(2024, 2, 29, tzinfo=UTC)) == datetime(2029, 2, 28, tzinfo=UTC)


def test_expiry() -> None:
    until = datetime(2030, 6, 30, tzinfo=UTC)
    assert not is_expired(until, until - timedelta(seconds=1))
    assert is_expired(until, until)
    assert expiry_due("published", until, until + timedelta(days=1))
    assert expiry_due("deprecated", until, until + timedelta(days=1))
    assert not expiry_due("published", until, until - timedelta(days=1))
    assert not expiry_due("withdrawn", until, until + timedelta(days=1))
    assert not expiry_due("provisional", until, until + timedelta(days=1))


@pytest.mark.parametrize(
    "call",
    [
        lambda: valid_until(datetime(2025, 1, 1)),  # naive
        lambda: valid_until("2025-01-01"),  # type: ignore[arg-type]
        lambda: valid_until(datetime(9998, 1, 1, tzinfo=UTC)),
        lambda: valid_until(datetime(2025, 1, 1, tzinfo=UTC), years=0),
        lambda: is_expired(datetime(2030, 1, 1, tzinfo=UTC), datetime(2031, 1, 1)),
    ],
)
def test_bad_dates_are_refused(call) -> None:
    with pytest.raises(LifecycleError):
        call()
