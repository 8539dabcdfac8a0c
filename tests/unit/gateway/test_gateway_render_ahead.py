"""Render-ahead's walk over the inputs stamps (fakes for the database and the catalogue): it moves on
however many versions it cannot store, looks back for stamps committed late, and looks at a version
once per stamp."""

from __future__ import annotations

import uuid

import pytest

from epd_gateway import render_ahead
from epd_records.signing import new_key_ring

RING = new_key_ring()


class Keys:
    async def get(self):
        return RING


class Database:
    """gateway_inputs (pf_id -> stamp) and the stamps some replica stored a record for."""

    def __init__(self) -> None:
        self.inputs: dict[uuid.UUID, int] = {}
        self.stored: set[tuple[uuid.UUID, int]] = set()

    reads = 0  # of the lookback

    async def fetchval(self, sql: str):
        assert "max(stamp)" in sql
        return max(self.inputs.values(), default=0)

    async def fetch(self, sql: str, above: int, kid: str, limit: int):
        assert kid == RING.kid
        self.reads += 1
        rows = sorted(
            ({"pf_id": pf, "stamp": s} for pf, s in self.inputs.items() if s > above and (pf, s) not in self.stored),
            key=lambda r: r["stamp"],
        )
        return rows[:limit]


class Catalogue:
    def __init__(self, db: Database, storable: set[uuid.UUID]) -> None:
        self.db, self.storable, self.calls = db, storable, list[list[uuid.UUID]]()

    async def render_ahead(self, pf_ids, ring):
        self.calls.append(list(pf_ids))
        done = [pf for pf in pf_ids if pf in self.storable]
        self.db.stored.update((pf, self.db.inputs[pf]) for pf in done)
        return len(done)


@pytest.fixture(autouse=True)
def small_windows(monkeypatch):
    monkeypatch.setattr(render_ahead, "LOOKBACK", 5)
    monkeypatch.setattr(render_ahead, "NEW_PER_STEP", 3)
    monkeypatch.setattr(render_ahead, "BATCH", 2)


def rendered(catalogue: Catalogue) -> list[uuid.UUID]:
    return [pf for call in catalogue.calls for pf in call]


async def test_moves_on_past_versions_it_cannot_store_and_looks_at_each_once_per_stamp():
    db = Database()
    drafts = [uuid.uuid4() for _ in range(12)]  # nothing to store: never in gateway_records
    ahead = render_ahead.RenderAhead(Catalogue(db, set()), Keys(), db)  # type: ignore[arg-type]
    await ahead.step()  # starts from the changes just before it started: none yet
    catalogue = ahead.catalogue
    for stamp, pf in enumerate(drafts, start=1):
        db.inputs[pf] = stamp
    steps = 0
    while (await ahead.step())[1] or ahead.highest != 12:
        steps += 1
        assert steps < 20, "render-ahead stopped moving"
    assert sorted(rendered(catalogue), key=db.inputs.__getitem__) == drafts  # each looked at exactly once
    db.inputs[drafts[0]] = 13  # a change: a new stamp, looked at again
    await ahead.step()
    assert rendered(catalogue)[-1] == drafts[0] and len(rendered(catalogue)) == 13


async def test_a_stamp_committed_late_within_the_lookback_is_rendered():
    db = Database()
    early, late, later = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    catalogue = Catalogue(db, {early, late, later})
    now = [0.0]
    ahead = render_ahead.RenderAhead(catalogue, Keys(), db, clock=lambda: now[0])  # type: ignore[arg-type]
    await ahead.step()
    db.inputs[early], db.inputs[later] = 1, 3  # stamp 2 drawn, its transaction not yet committed
    await ahead.step()
    assert set(rendered(catalogue)) == {early, later} and ahead.highest == 3
    db.inputs[late] = 2  # commits now, below the highest stamp seen
    reads = db.reads
    await ahead.step()  # no newer stamp: only the index probe, until the lookback is due
    assert db.reads == reads and late not in rendered(catalogue)
    now[0] += render_ahead.IDLE_LOOK_S
    await ahead.step()
    assert rendered(catalogue)[-1] == late and (late, 2) in db.stored
    calls = len(catalogue.calls)
    now[0] += render_ahead.IDLE_LOOK_S
    assert (await ahead.step()) == (0, False) and len(catalogue.calls) == calls  # nothing left to do
