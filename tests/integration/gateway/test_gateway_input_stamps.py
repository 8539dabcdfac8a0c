"""The database keeps stored records' staleness (migration 0015): a change to any table of a version's read
model gives exactly the versions it shows in a new stamp (gateway_inputs), in the changing transaction."""

from __future__ import annotations

import json
import uuid

from gateway_seed import OXIDE, add_product, add_version


async def stamps(db) -> dict[uuid.UUID, int]:
    return {r["pf_id"]: r["stamp"] for r in await db.fetch("SELECT pf_id, stamp FROM gateway_inputs")}


async def moved(db, sql: str, *args) -> set[uuid.UUID]:
    """The versions whose stamp `sql` changed."""
    before = await stamps(db)
    await db.execute(sql, *args)
    after = await stamps(db)
    return {pf for pf, stamp in after.items() if before.get(pf) != stamp}


async def test_every_read_model_table_moves_the_stamps_of_the_versions_it_shows_in(gateway_db, db):
    a_series = await add_product(db, "stamp-a", OXIDE)
    a1 = await add_version(db, a_series)
    b_series = await add_product(db, "stamp-b", OXIDE, org="org-b")
    b1 = await add_version(db, b_series)
    assert {a1, b1} <= set(await stamps(db))  # every version has a stamp from its insert

    assert await moved(db, "UPDATE organisations SET name = 'Renamed' WHERE organisation_id = 'org-a'") == {a1}
    assert await moved(db, "UPDATE plants SET province = 'CN-BJ' WHERE plant_id = 'plant-org-b'") == {b1}
    assert await moved(db, "UPDATE products SET name = 'Cerium oxide' WHERE product_id = 'stamp-a'") == {a1}
    assert await moved(db, "UPDATE epd_series SET registration_number = 'R-9' WHERE series_id = $1", b_series) == {b1}
    # (PCR versions are immutable: a trigger refuses updates; the stamp trigger on pcrs is a backstop.)
    assert await moved(db, "UPDATE epd_versions SET reason = 'corrected' WHERE pf_id = $1", b1) == {b1}

    # The product's owner, when it is not the plant's operator: both organisations show in the record.
    await db.execute("UPDATE products SET organisation_id = 'org-b' WHERE product_id = 'stamp-a'")
    assert await moved(db, "UPDATE organisations SET company_ids = '{}' WHERE organisation_id = 'org-b'") == {a1, b1}

    # A provisional successor shows in its predecessor's record: its insert, status change and delete.
    before = await stamps(db)
    a2 = await add_version(db, a_series, 2, status="provisional", preceding=a1, valid_from=None)
    after = await stamps(db)
    assert a2 in after and after[a1] != before[a1] and after[b1] == before[b1]
    assert await moved(db, "UPDATE epd_versions SET status = 'withdrawn' WHERE pf_id = $1", a2) == {a1, a2}
    await db.execute("DELETE FROM epd_results WHERE pf_id = $1", a2)
    assert await moved(db, "DELETE FROM epd_versions WHERE pf_id = $1", a2) == {a1}
    assert a2 not in await stamps(db)

    # The version's audit snapshot.
    digest = "ab" * 32
    await db.execute(
        "INSERT INTO audit_objects (digest, kind, body) VALUES ($1, 'snapshot', $2::jsonb)", digest, json.dumps({})
    )
    assert await moved(db, "INSERT INTO epd_version_snapshots (pf_id, digest) VALUES ($1, $2)", b1, digest) == {b1}


async def test_a_rolled_back_change_leaves_the_stamps_and_a_stale_stamp_is_never_current(gateway_db, db):
    pf = await add_version(db, await add_product(db, "stamp-c", OXIDE))
    before = await stamps(db)
    change = db.transaction()
    await change.start()
    await db.execute("UPDATE products SET name = 'Never' WHERE product_id = 'stamp-c'")
    await change.rollback()
    assert await stamps(db) == before
    # Stamps only grow: a record stored from an earlier read never matches a later stamp.
    await db.execute("UPDATE products SET name = 'Once' WHERE product_id = 'stamp-c'")
    await db.execute("UPDATE products SET name = 'Twice' WHERE product_id = 'stamp-c'")
    assert (await stamps(db))[pf] > before[pf]
