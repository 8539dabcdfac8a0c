"""Partner delivery against hostile and slow partners: real HTTP (aiohttp on 127.0.0.1), the real database,
two publisher replicas (two senders, each with its own pool and client).

- A partner that drips its answer a byte at a time, forever, is cut at the attempt's total deadline (a
  per-read timeout never fires); a 64 MiB answer is read only up to the body cap.
- While one partner holds every request it gets, the other partner's deliveries are claimed and delivered
  by both replicas, each exactly once (the receiver refuses a replayed webhook-id), and the slow partner
  never holds more than its per-partner slots on a replica.

The dripping server drips on the schedule the test gives it (``DRIP_EVERY_S``) until the test releases it;
every wait is on a condition, bounded generously (HANG)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import asyncpg
import pytest
from aiohttp import web
from publisher_helpers import (
    MAGNET,
    add_product,
    commit_version,
    endpoint_secrets,
    http_server,
    seed_registry,
    signed_records,
)
from test_publisher_delivery import SECRET, Receiver, agreement, plan

from epd_publisher.delivery.pinning import PinnedClient
from epd_publisher.partners import EndpointSpec, add_endpoint, add_partner
from epd_publisher.pg_deliveries import PgDeliveryStore
from epd_publisher.sender import ManualClock, Sender, SenderConfig
from epd_records.recognition import DeliveryFormat

HANG = 90.0  # seconds: only a hang takes this long
DRIP_EVERY_S = 0.1  # far below any per-read timeout
BIG = 64 * 1024 * 1024


@dataclass
class Hostile:
    """/drip answers 200 and a byte every DRIP_EVERY_S until released; /big answers 64 MiB."""

    release: asyncio.Event
    open_drips: int = 0
    drips_started: int = 0
    big_written: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=200)
        await response.prepare(request)
        try:
            if request.path.startswith("/big"):
                chunk = b"x" * 65536
                while self.big_written < BIG:
                    await response.write(chunk)
                    self.big_written += len(chunk)
            else:
                self.open_drips += 1
                self.drips_started += 1
                try:
                    while not self.release.is_set():
                        await response.write(b".")
                        try:
                            await asyncio.wait_for(self.release.wait(), DRIP_EVERY_S)
                        except TimeoutError:
                            pass
                finally:
                    self.open_drips -= 1
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the publisher hung up: that is the point
        return response


async def until(condition, what: str) -> None:
    """Poll ``condition`` until true; a hang fails after HANG seconds naming what did not happen."""
    try:
        async with asyncio.timeout(HANG):
            while not await condition():  # noqa: ASYNC110 - a database row or a counter: no event to wait on
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"waited {HANG} s for {what}") from None


@pytest.fixture
async def db(fresh_db):
    pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=8)
    await seed_registry(pool)
    for product, pcr in (("slow-magnet", "PCR-drip"), ("big-magnet", "PCR-big"), ("quick-magnet", "PCR-quick")):
        await add_product(pool, product, MAGNET, (pcr, "1.0"))
    yield pool
    await pool.close()


async def register(pool: asyncpg.Pool, partner: str, pcr: str, url: str) -> None:
    await add_partner(pool, partner, partner, "JP", agreement(partner, pcr))
    spec = EndpointSpec(f"{partner}-hook", partner, url, DeliveryFormat.WEBHOOK_PACT, secret=SECRET, allow_private=True)
    await add_endpoint(pool, spec, secrets=endpoint_secrets())


def replica(pool: asyncpg.Pool, http: PinnedClient, clock: ManualClock, config: SenderConfig) -> Sender:
    return Sender(
        PgDeliveryStore(pool),
        http,
        signed_records(pool),
        clock=clock,
        rng=random.Random(7),
        config=config,
        secrets=endpoint_secrets(),
    )


async def states(pool: asyncpg.Pool, partner: str) -> list[str]:
    return [r["state"] for r in await pool.fetch("SELECT state FROM deliveries WHERE partner_id = $1", partner)]


async def test_deadline_body_cap_and_isolation_across_two_replicas(db, fresh_db):
    hostile, quick = Hostile(asyncio.Event()), Receiver()
    clock = ManualClock()
    async with (
        http_server(hostile.handle) as hostile_base,
        http_server(quick.handle) as quick_base,
        PinnedClient() as http_a,
        PinnedClient() as http_b,
    ):
        await register(db, "drip-body", "PCR-drip", f"{hostile_base}/drip")
        await register(db, "big-body", "PCR-big", f"{hostile_base}/big")
        await register(db, "quick-body", "PCR-quick", f"{quick_base}/in")
        await commit_version(db, "slow-magnet")
        await commit_version(db, "big-magnet")
        await plan(db, clock.now())

        # 1. One attempt each: the drip is cut at the 1 s total deadline; the big answer is not buffered.
        short = replica(db, http_a, clock, SenderConfig(timeout_s=1.0, lease_s=60, max_response_bytes=65536))
        assert await asyncio.wait_for(short.run_due(), HANG) == 2
        attempts = {
            r["partner_id"]: (r["status"], r["error"])
            for r in await db.fetch(
                "SELECT partner_id, status, error FROM delivery_attempts JOIN deliveries USING (delivery_id)"
            )
        }
        assert attempts == {"drip-body": (None, "timeout"), "big-body": (200, None)}
        assert await states(db, "big-body") == ["delivered"] and short.partner_http.truncated == 1
        assert hostile.big_written < BIG // 4  # the rest was never read (socket buffers took some)

        # 2. Two replicas; the slow partner holds every request (long deadline) while the quick one is served.
        clock.advance(3600)  # the drip's retry is due
        for _ in range(2):
            await commit_version(db, "slow-magnet")
        await plan(db, clock.now())
        config = SenderConfig(concurrency=8, partner_concurrency=2, timeout_s=300, lease_s=600)
        pool_b = await asyncpg.create_pool(fresh_db, min_size=1, max_size=4)
        a, b = replica(db, http_a, clock, config), replica(pool_b, http_b, clock, config)
        stop = asyncio.Event()
        running = [asyncio.create_task(s.run(stop, idle_s=0.05)) for s in (a, b)]
        try:

            async def three_drips() -> bool:
                return hostile.open_drips == 3

            await until(three_drips, "the slow partner's three deliveries in flight")
            assert a.in_flight <= 2 and b.in_flight <= 2 and a.in_flight + b.in_flight == 3
            for _ in range(6):
                await commit_version(db, "quick-magnet")
            await plan(db, clock.now())

            async def quick_delivered() -> bool:
                return await states(db, "quick-body") == ["delivered"] * 6

            await until(quick_delivered, "the quick partner's six deliveries")
            assert hostile.open_drips == 3 and await states(db, "drip-body") == ["pending"] * 3
            hostile.release.set()

            async def drips_delivered() -> bool:
                return await states(db, "drip-body") == ["delivered"] * 3

            await until(drips_delivered, "the slow partner delivered once released")
        finally:
            hostile.release.set()
            stop.set()
            await asyncio.wait_for(asyncio.gather(*running), HANG)
            await pool_b.close()
    assert len(quick.accepted) == 6 and quick.rejected == []  # each event exactly once across the replicas
    assert hostile.drips_started == 4  # phase 1's attempt, then each of the three once: no duplicate POST
    per_delivery = await db.fetch("SELECT delivery_id, count(*) FROM delivery_attempts GROUP BY delivery_id")
    assert {r["count"] for r in per_delivery} <= {1, 2}
