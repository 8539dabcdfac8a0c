"""The relay's per-product contiguity rule (outbox.publishable_runs), no database."""

from __future__ import annotations

from datetime import UTC, datetime

from epd_publisher.outbox import publishable_runs

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def row(product: str, seq: int, *, eligible: bool = True):
    return {
        "outbox_id": seq,
        "event_id": f"e{product}{seq}",
        "product_id": product,
        "product_sequence": seq,
        "version": seq,
        "payload": b"x",
        "created_at": NOW,
        "eligible": eligible,
    }


def seqs(rows, **last: int) -> list[tuple[str, int]]:
    return [(r.product_id, r.product_sequence) for r in publishable_runs(rows, last)]


def test_contiguous_run_after_last_published() -> None:
    assert seqs([row("a", 4), row("a", 5), row("b", 1)], a=3) == [("a", 4), ("a", 5), ("b", 1)]


def test_late_committing_earlier_row_holds_back_later_ones() -> None:
    # Sequence 2 is not yet eligible (xid >= xmin): 3 must wait even though it is eligible.
    assert seqs([row("a", 2, eligible=False), row("a", 3)], a=1) == []


def test_gap_holds_back_the_product_only() -> None:
    # Sequence 5 is not visible yet (uncommitted): 6 waits; product b is unaffected.
    assert seqs([row("a", 6), row("b", 2)], a=4, b=1) == [("b", 2)]


def test_a_product_never_published_starts_at_sequence_one() -> None:
    assert seqs([row("a", 2)]) == []  # first ever row must be sequence 1 (or 0)
    assert seqs([row("a", 0), row("a", 1)]) == [("a", 0), ("a", 1)]
