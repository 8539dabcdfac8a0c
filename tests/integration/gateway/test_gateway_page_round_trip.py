"""A list page's first rows come in the statement that takes the client's rate-limit token and reads the client
(one round trip), read for the agreement the process last saw for the client only while that is still the
partner's agreement as stored: an edited agreement applies to the very next page."""

from __future__ import annotations

import json

import asyncpg
from conftest import add_clients
from gateway_seed import MAGNET, OXIDE, add_product, add_version, agreement

from epd_gateway.catalogue import batch_size
from epd_gateway.query import Filters
from epd_gateway.ratelimit import SharedBuckets
from epd_gateway.repository import CLIENT_SELECT_CHECKING, Repository
from epd_records.recognition import RecognitionAgreement, viewer_of


async def test_the_page_statement_with_the_token_take_reads_rows_only_for_the_stored_agreement(gateway_db, db):
    """SharedBuckets.take_with_rows as GET /3/footprints uses it: the same rows as Repository.page while the
    assumed agreement is the partner's, none once it was edited or the take is refused."""
    for i in range(3):
        await add_version(db, await add_product(db, f"facts-fused-{i}", OXIDE))
    await add_clients(gateway_db)
    stored_agreement = agreement("partner-a", [OXIDE])
    pool = await asyncpg.create_pool(gateway_db, min_size=1, max_size=2)
    try:
        repo, buckets = Repository(pool, ""), SharedBuckets(pool, "api", 0.001, 2)
        assumed = RecognitionAgreement.model_validate(stored_agreement)
        viewer, kid = viewer_of(assumed), "k1"

        async def fused(raw: dict) -> tuple[float, asyncpg.Record | None, list[asyncpg.Record]]:
            sql, args = repo.page_statement(
                Filters(),
                assumed,
                None,
                batch_size(10),
                viewer,
                kid,
                8,
                "took.allowed AND (SELECT h.agreement_same FROM h)",
            )
            head = CLIENT_SELECT_CHECKING.format(id="$6", agreement="$7")
            return await buckets.take_with_rows("client-a", head, sql, "client-a", json.dumps(raw), *args)

        plain = await repo.page(Filters(), assumed, None, batch_size(10), viewer, kid)
        assert len(plain) == 3
        wait, head, rows = await fused(stored_agreement)
        assert wait == 0 and head is not None and head["agreement_same"] and head["client_id"] == "client-a"
        assert [r["pf_id"] for r in rows] == [r["pf_id"] for r in plain]
        assert [r["body"] for r in rows] == [r["body"] for r in plain]

        # The partner's agreement as stored differs from the assumed one: no rows, and the stored one comes back.
        wait, head, rows = await fused(agreement("partner-a", [MAGNET]))
        assert wait == 0 and head is not None and not head["agreement_same"] and rows == []
        assert json.loads(head["agreement"]) == stored_agreement

        # The bucket (burst 2) is empty: a wait, the client's row, and no page read.
        wait, head, rows = await fused(stored_agreement)
        assert wait > 0 and head is not None and rows == []

        # No such client: no head row.
        sql, args = repo.page_statement(
            Filters(), assumed, None, 10, viewer, kid, 8, "(SELECT h.agreement_same FROM h)"
        )
        head_sql = CLIENT_SELECT_CHECKING.format(id="$6", agreement="$7")
        other = SharedBuckets(pool, "api", 1.0, 10)
        _, head, rows = await other.take_with_rows(
            "nobody", head_sql, sql, "nobody", json.dumps(stored_agreement), *args
        )
        assert head is None and rows == []
    finally:
        await pool.close()


async def test_an_edited_agreement_changes_the_very_next_page(gateway, db):
    """The process remembers the agreement it last read per client, to read the page in the token's
    statement: an edit applies to the very next request all the same."""
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
        assert await listed() == {ids[oxide]}  # the second request reads the page with the token
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
