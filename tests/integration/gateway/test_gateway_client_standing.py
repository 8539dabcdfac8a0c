"""A token is only as good as its client is now: the rate-limit take and the client's standing are read in
one statement per request (epd_gateway.ratelimit.SharedBuckets.take_with), so disabling the client, its
partner or a scope, or deleting the client, takes effect on the next request."""

from __future__ import annotations

import asyncpg


async def test_the_clients_standing_is_read_with_every_request(gateway, gateway_db):
    token = await gateway.token("a")
    db = await asyncpg.connect(gateway_db)
    try:
        async with gateway.client(headers={"authorization": f"Bearer {token}"}) as http:

            async def answer() -> tuple[int, str]:
                r = await http.get("/3/footprints", params={"limit": 1})
                return r.status_code, (r.json().get("message", "") if r.status_code != 200 else "")

            assert await answer() == (200, "")
            await db.execute("UPDATE gateway_clients SET disabled = true WHERE client_id = 'client-a'")
            assert await answer() == (403, "the client is disabled or unknown")
            await db.execute("UPDATE gateway_clients SET disabled = false WHERE client_id = 'client-a'")
            await db.execute("UPDATE partners SET disabled_at = now() WHERE partner_id = 'partner-a'")
            assert await answer() == (403, "the client is disabled or unknown")
            await db.execute("UPDATE partners SET disabled_at = NULL WHERE partner_id = 'partner-a'")
            await db.execute("UPDATE gateway_clients SET scopes = '{footprint:read}' WHERE client_id = 'client-a'")
            assert await answer() == (403, "the client no longer has the footprint:list scope")
            await db.execute("UPDATE gateway_clients SET scopes = '{footprint:list}' WHERE client_id = 'client-a'")
            assert await answer() == (200, "")
            await db.execute("DELETE FROM gateway_clients WHERE client_id = 'client-a'")
            assert await answer() == (403, "the client is disabled or unknown")
            # The request still took from the client's bucket (the statement took it before the client was read).
            assert await db.fetchval("SELECT count(*) FROM gateway_rate_buckets WHERE key = 'client-a'") == 1
    finally:
        await db.close()
