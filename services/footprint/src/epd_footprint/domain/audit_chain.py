"""The audit log's hash chain (format epd-audit-log/1, db/migrations/versions/0011_audit_log.py), pure.

A row's hash is SHA-256 over its canonical bytes: "epd-audit-log/1", then for each of seq, at,
actor, reason, table_name, operation, row_key, before, after, prev_hash a newline and either "-"
(null) or the value's UTF-8 byte length, ":" and the value. seq is decimal, at is UTC with
microseconds (2026-12-03T14:25:50.192778Z), the jsonb values are PostgreSQL's jsonb text output
(`::text`) and prev_hash is lowercase hex. The database computes the same bytes in
audit_log_canonical(); `ChainCheck` recomputes every hash and link here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

FORMAT = "epd-audit-log/1"
GENESIS = bytes(32)  # prev_hash of row 1


@dataclass(frozen=True)
class LogRow:
    """One audit_log row, jsonb columns as PostgreSQL's text output."""

    seq: int
    at: datetime
    actor: str
    reason: str | None
    table_name: str
    operation: str
    row_key: str
    before: str | None
    after: str | None
    prev_hash: bytes
    row_hash: bytes


def at_text(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit log times carry a zone")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _field(value: str | None) -> str:
    return "\n-" if value is None else f"\n{len(value.encode())}:{value}"


def canonical(row: LogRow) -> bytes:
    """The bytes row_hash is the SHA-256 of."""
    values = (
        str(row.seq),
        at_text(row.at),
        row.actor,
        row.reason,
        row.table_name,
        row.operation,
        row.row_key,
        row.before,
        row.after,
        row.prev_hash.hex(),
    )
    return (FORMAT + "".join(_field(v) for v in values)).encode()


def row_digest(row: LogRow) -> bytes:
    return hashlib.sha256(canonical(row)).digest()


def _missing(first: int, last: int) -> str:
    return f"row {first} is" if first == last else f"rows {first} to {last} are"


@dataclass
class ChainCheck:
    """Feed rows in seq order; `problems` names each row whose content, link or place does not hold.

    From the start (`from_start`), row 1 must link to GENESIS; otherwise the first row's stored
    prev_hash is taken as given (the check starts there)."""

    from_start: bool = True
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: bytes | None = None

    def feed(self, row: LogRow) -> None:
        if self.last_seq is None:
            self.first_seq = row.seq
            if self.from_start and row.seq != 1:
                self.problems.append(f"{_missing(1, row.seq - 1)} missing (the log starts at row {row.seq})")
            elif self.from_start and row.prev_hash != GENESIS:
                self.problems.append(f"row {row.seq}: prev_hash is not the start of the chain (32 zero bytes)")
        else:
            if row.seq != self.last_seq + 1:
                missing = _missing(self.last_seq + 1, row.seq - 1)
                self.problems.append(f"{missing} missing (the log goes from row {self.last_seq} to row {row.seq})")
            elif row.prev_hash != self.last_hash:
                self.problems.append(
                    f"row {row.seq}: prev_hash does not match row {self.last_seq} (row {self.last_seq} was changed)"
                )
        if row_digest(row) != row.row_hash:
            self.problems.append(f"row {row.seq}: its content does not match its hash")
        self.checked += 1
        self.last_seq, self.last_hash = row.seq, row.row_hash

    def finish(self, head_seq: int, head_hash: bytes) -> list[str]:
        """Compare the last row with the head the database keeps; returns every problem found."""
        last = self.last_seq or 0
        if head_seq > last:
            self.problems.append(f"{_missing(last + 1, head_seq)} missing (the head is row {head_seq})")
        elif head_seq < last:
            self.problems.append(f"the head says row {head_seq} is the last, the log has row {last}")
        elif self.last_hash is not None and head_hash != self.last_hash:
            self.problems.append(f"row {last}: its hash is not the head's (row {last} was changed)")
        return self.problems


def check(rows: Iterable[LogRow], head_seq: int, head_hash: bytes, *, from_start: bool = True) -> list[str]:
    chain = ChainCheck(from_start=from_start)
    for row in rows:
        chain.feed(row)
    return chain.finish(head_seq, head_hash)


_SEQ = re.compile(r"[0-9]{1,18}")


def parse_since(text: str) -> int | datetime:
    """A seq (digits) or an ISO 8601 time with a zone; ValueError says what is wrong."""
    text = text.strip()
    if _SEQ.fullmatch(text):
        return int(text)
    try:
        at = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{text[:100]!r} is neither a row number nor an ISO 8601 time") from None
    if at.tzinfo is None:
        raise ValueError(f"{text[:100]!r} has no zone (add Z or +08:00)")
    return at
