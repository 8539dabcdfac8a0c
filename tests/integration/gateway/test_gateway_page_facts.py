"""A list page reads one table (migration 0019): each version's recognition facts sit beside its input stamp
in gateway_inputs, kept by the database in the changing transaction."""

from __future__ import annotations

import json

from gateway_seed import MAGNET, OXIDE, PCR, add_product, add_version, agreement

from tests.support.pcrs import register_pcrs

#: The facts as the read model shows them now (epd_records.readmodel's rules), to compare with the kept ones.
_READ_MODEL_FACTS = """
    SELECT v.pf_id, v.created_at, v.status, v.valid_from IS NOT NULL AS was_published,
           EXISTS (SELECT 1 FROM epd_versions n WHERE n.series_id = v.series_id AND n.status = 'provisional'
                   AND n.preceding_pf_id = v.pf_id) AS superseded,
           p.classifications, s.pcr_id, s.pcr_version, pcr.standards AS pcr_standards
    FROM epd_versions v JOIN epd_series s USING (series_id) JOIN products p USING (product_id)
    LEFT JOIN pcrs pcr ON pcr.pcr_id = s.pcr_id AND pcr.version = s.pcr_version ORDER BY v.pf_id"""
_KEPT_FACTS = """
    SELECT pf_id, created_at, status, was_published, superseded, classifications, pcr_id, pcr_version, pcr_standards
    FROM gateway_inputs ORDER BY pf_id"""


async def facts_agree(db) -> bool:
    kept, now = await db.fetch(_KEPT_FACTS), await db.fetch(_READ_MODEL_FACTS)
    return [dict(r) for r in kept] == [dict(r) for r in now]


async def test_the_kept_facts_follow_every_change_in_the_changing_transaction(gateway_db, db):
    series = await add_product(db, "facts-a", OXIDE)
    a1 = await add_version(db, series)
    await add_version(db, await add_product(db, "facts-b", MAGNET, org="org-b"), status="provisional", valid_from=None)
    assert await facts_agree(db)

    await db.execute("UPDATE products SET classifications = $1 WHERE product_id = 'facts-a'", [MAGNET])
    assert await facts_agree(db)
    # A provisional successor supersedes its predecessor for viewers that accept provisional versions.
    a2 = await add_version(db, series, 2, status="provisional", preceding=a1, valid_from=None)
    assert (await db.fetchval("SELECT superseded FROM gateway_inputs WHERE pf_id = $1", a1)) is True
    assert await facts_agree(db)
    await db.execute("UPDATE epd_versions SET status = 'withdrawn' WHERE pf_id = $1", a2)
    assert (await db.fetchval("SELECT superseded FROM gateway_inputs WHERE pf_id = $1", a1)) is False
    # The series moves to another PCR version.
    await register_pcrs(db, (PCR[0], "9.9"))
    await db.execute("UPDATE epd_series SET pcr_version = '9.9' WHERE series_id = $1", series)
    assert await db.fetchval("SELECT pcr_version FROM gateway_inputs WHERE pf_id = $1", a1) == "9.9"
    await db.execute("UPDATE epd_versions SET status = 'expired' WHERE pf_id = $1", a1)
    assert await facts_agree(db)

    # A rolled-back change leaves them as they were.
    change = db.transaction()
    await change.start()
    await db.execute("UPDATE products SET classifications = '{}' WHERE product_id = 'facts-a'")
    await change.rollback()
    assert await facts_agree(db)


async def test_an_edited_agreement_changes_the_very_next_page(gateway, db):
    """Agreements are applied by each page statement to the kept facts, never stored with them: an edit
    applies to the next request."""
    oxide = await add_version(db, await add_product(db, "facts-oxide", OXIDE))
    magnet = await add_version(db, await add_product(db, "facts-magnet", MAGNET, org="org-b"))
    provisional = await add_version(
        db, await add_product(db, "facts-new", OXIDE), status="provisional", valid_from=None
    )
    token = await gateway.token("a")
    async with gateway.client(headers={"authorization": f"Bearer {token}"}) as http:

        async def listed() -> set[str]:
            r = await http.get("/3/footprints", params={"limit": 10})
            assert r.status_code == 200, r.text
            return {pf["id"] for pf in r.json()["data"]}

        ids = {pf: str(pf) for pf in (oxide, magnet, provisional)}
        assert await listed() == {ids[oxide]}
        assert await listed() == {ids[oxide]}
        await db.execute(
            "UPDATE partners SET agreement = $1::jsonb WHERE partner_id = 'partner-a'",
            json.dumps(agreement("partner-a", [MAGNET])),
        )
        assert await listed() == {ids[magnet]}
        await db.execute(
            "UPDATE partners SET agreement = $1::jsonb WHERE partner_id = 'partner-a'",
            json.dumps(agreement("partner-a", [OXIDE, MAGNET], provisional=True)),
        )
        assert await listed() == {ids[oxide], ids[magnet], ids[provisional]}
        assert await listed() == {ids[oxide], ids[magnet], ids[provisional]}
        await db.execute("UPDATE gateway_clients SET disabled = true WHERE client_id = 'client-a'")
        r = await http.get("/3/footprints", params={"limit": 10})
        assert r.status_code == 403, r.text
