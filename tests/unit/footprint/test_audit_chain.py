"""The audit log's chain (epd-audit-log/1), pure: the canonical bytes match what PostgreSQL hashes
(vectors taken from audit_log rows the 0011 trigger wrote), and the check names the row that breaks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from epd_common.audit_context import clean
from epd_footprint.domain.audit_chain import GENESIS, LogRow, canonical, check, parse_since, row_digest

# Written by the trigger of db/migrations/versions/0011_audit_log.py (PostgreSQL 15).
ROW_1 = LogRow(
    seq=1,
    at=datetime(2026, 12, 3, 14, 25, 50, 192778, tzinfo=UTC),
    actor="me",
    reason="because",
    table_name="organisations",
    operation="INSERT",
    row_key='{"organisation_id": "o1"}',
    before=None,
    after='{"name": "Org", "country": "CN", "created_at": "2026-12-03T14:25:50.187465+00:00", '
    '"company_ids": [], "organisation_id": "o1"}',
    prev_hash=GENESIS,
    row_hash=bytes.fromhex("d38f01de53a1bb3817063d6748cd5aa6ec31814ce63cb7d7ec152f7674f307a0"),
)
# Non-ASCII actor and values, a newline and quotes in the reason, numerics as jsonb prints them.
ROW_4 = LogRow(
    seq=4,
    at=datetime(2026, 12, 3, 14, 28, 2, 501560, tzinfo=UTC),
    actor="操作员",
    reason='line1\nline2 "q"',
    table_name="plants",
    operation="INSERT",
    row_key='{"plant_id": "包头-1"}',
    before=None,
    after='{"name": "包头稀土", "latitude": 40.6500, "plant_id": "包头-1", "province": "CN-NM", '
    '"longitude": 109.84, "created_at": "2026-12-03T14:28:02.496901+00:00", "grid_region": "north", '
    '"organisation_id": "o1"}',
    prev_hash=bytes.fromhex("6049605e1e9cbd69f6b907be4daa95e051e205dba42ae9b78cf0b8f3e862c07e"),
    row_hash=bytes.fromhex("1335baf05d3fe679036934584716eec8a51e276fe94fa0848b409f5f100c0acc"),
)


def chain(n: int) -> list[LogRow]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        row = dataclasses.replace(ROW_1, seq=seq, prev_hash=prev, row_key=f'{{"organisation_id": "o{seq}"}}')
        row = dataclasses.replace(row, row_hash=row_digest(row))
        rows.append(row)
        prev = row.row_hash
    return rows


def test_python_computes_the_hashes_postgresql_stored() -> None:
    assert row_digest(ROW_1) == ROW_1.row_hash
    assert row_digest(ROW_4) == ROW_4.row_hash


def test_canonical_form_is_length_prefixed_so_fields_cannot_run_into_each_other() -> None:
    text = canonical(ROW_1).decode()
    assert text.startswith("epd-audit-log/1\n1:1\n27:2026-12-03T14:25:50.192778Z\n2:me\n7:because\n")
    assert "\n-\n" in text  # before is null
    assert text.endswith("\n64:" + "0" * 64)
    moved = dataclasses.replace(ROW_1, actor="me\n7:because", reason=None)
    assert canonical(moved) != canonical(ROW_1)
    assert canonical(dataclasses.replace(ROW_4, at=ROW_4.at.astimezone().astimezone(UTC))) == canonical(ROW_4)


def test_an_intact_chain_holds() -> None:
    rows = chain(5)
    assert check(rows, 5, rows[-1].row_hash) == []
    assert check([], 0, GENESIS) == []
    assert check(rows[2:], 5, rows[-1].row_hash, from_start=False) == []


def test_a_changed_row_is_named() -> None:
    rows = chain(5)
    rows[2] = dataclasses.replace(rows[2], actor="someone else")
    assert check(rows, 5, rows[-1].row_hash) == ["row 3: its content does not match its hash"]


def test_a_changed_row_with_a_recomputed_hash_breaks_the_next_link() -> None:
    rows = chain(5)
    forged = dataclasses.replace(rows[2], after='{"name": "forged"}')
    rows[2] = dataclasses.replace(forged, row_hash=row_digest(forged))
    assert check(rows, 5, rows[-1].row_hash) == ["row 4: prev_hash does not match row 3 (row 3 was changed)"]


def test_deleted_rows_are_named() -> None:
    rows = chain(6)
    assert check(rows[:2] + rows[3:], 6, rows[-1].row_hash) == ["row 3 is missing (the log goes from row 2 to row 4)"]
    assert check(rows[1:], 6, rows[-1].row_hash) == ["row 1 is missing (the log starts at row 2)"]
    assert check(rows[:4], 6, rows[-1].row_hash) == ["rows 5 to 6 are missing (the head is row 6)"]


def test_a_first_row_that_does_not_start_the_chain_is_named() -> None:
    rows = chain(2)
    rows[0] = dataclasses.replace(rows[0], prev_hash=b"\x01" * 32)
    assert "row 1: prev_hash is not the start of the chain (32 zero bytes)" in check(rows, 2, rows[-1].row_hash)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("2026-12-03T14:00:00Z", datetime(2026, 12, 3, 14, tzinfo=UTC)),
        ("2026-12-03T22:00:00+08:00", datetime(2026, 12, 3, 14, tzinfo=UTC)),
    ],
)
def test_since_is_a_row_number_or_a_time_with_a_zone(text: str, expected: object) -> None:
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["garbage", "", "2026-12-03T14:00:00", "-1", "1" * 30, "2026-13-40"])
def test_since_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        parse_since(text)


def test_actors_and_reasons_lose_control_characters_and_length() -> None:
    assert clean("a\nb\x00c") == "a b c"
    assert len(clean("x" * 1000)) == 500
