"""The sender against hostile and slow partners, through the in-memory store and fake partners (no I/O):
one total deadline per attempt, a response-body cap, partners isolated from each other, and every write
made only under the sender's lease. The waits are on conditions, bounded generously (HANG)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
from publisher_fakes import MemoryDeliveryStore, MockPinnedClient, StoredEndpoint
from test_publisher_sender import HANG, NOW, SECRET, URL, Partner, change, counted, only, sender, store_with
from test_publisher_sender import secrets as secrets  # the fixture

from epd.v1 import footprint_pb2
from epd_publisher import metrics
from epd_publisher.deliveries import ClaimSlots, DeliveryState
from epd_publisher.delivery.retry import TransportError
from epd_publisher.endpoint_secrets import EndpointSecrets, SecretColumn
from epd_publisher.sender import ManualClock, SenderConfig


async def until(condition, what: str) -> None:
    """Poll ``condition`` until true; a hang fails after HANG seconds naming what did not happen."""
    try:
        async with asyncio.timeout(HANG):
            while not condition():  # noqa: ASYNC110 - a database row or a counter: no event to wait on
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"waited {HANG} s for {what}") from None


def add_partner(store: MemoryDeliveryStore, secrets: EndpointSecrets, partner: str, deliveries: int) -> None:
    endpoint = f"{partner}-hook"
    store.add_endpoint(
        StoredEndpoint(
            endpoint,
            partner,
            URL.replace("hooks.", f"{partner}."),
            secret_sealed=secrets.seal(endpoint, SecretColumn.WEBHOOK, SECRET),
        )
    )
    for i in range(deliveries):
        payload = change(product=f"{partner}-product", sequence=i + 1)
        store.add_delivery(endpoint, footprint_pb2.FootprintChanged.FromString(payload).event_id, payload, NOW)


async def test_a_dripping_response_ends_at_the_total_deadline_not_per_read(secrets):
    """A partner that sends its body a byte at a time, each well within any per-read timeout, forever."""
    store, clock = store_with(secrets, "drip"), ManualClock(NOW)
    dripped = 0

    async def drip() -> AsyncIterator[bytes]:
        nonlocal dripped
        while True:  # the schedule of the scenario: one byte every 20 ms, never the end
            dripped += 1
            yield b"."
            await asyncio.sleep(0.02)

    async with MockPinnedClient(lambda request: httpx.Response(200, content=drip())) as http:
        s = sender(store, http, clock, secrets, config=SenderConfig(timeout_s=0.3, lease_s=60))
        assert await asyncio.wait_for(s.run_due(), HANG) == 1
    d = only(store)
    (attempt,) = store.attempts
    assert attempt.error == TransportError.TIMEOUT.value and d.state is DeliveryState.PENDING and dripped > 1


async def test_a_response_body_is_read_up_to_the_cap_only(secrets):
    """A 64 MiB answer: the status decides, the body is not buffered past the cap."""
    store, clock = store_with(secrets, "big"), ManualClock(NOW)
    produced = 0

    async def huge() -> AsyncIterator[bytes]:
        nonlocal produced
        for _ in range(64 * 1024):
            produced += 1
            yield b"x" * 1024

    async with MockPinnedClient(lambda request: httpx.Response(200, content=huge())) as http:
        s = sender(store, http, clock, secrets, config=SenderConfig(max_response_bytes=16 * 1024))
        assert await asyncio.wait_for(s.run_due(), HANG) == 1
    assert only(store).state is DeliveryState.DELIVERED
    assert produced <= 17 and s.partner_http.truncated == 1


async def test_a_slow_partner_holds_only_its_own_slots_and_others_are_delivered_meanwhile(secrets):
    store, clock = MemoryDeliveryStore(), ManualClock(NOW)
    add_partner(store, secrets, "slow", 6)
    release = asyncio.Event()
    fast = Partner()

    async def partners(request: httpx.Request) -> httpx.Response:
        if request.url.host.startswith("slow."):
            await release.wait()  # holds every request until the test ends it
            return httpx.Response(204)
        return fast(request)

    config = SenderConfig(concurrency=4, partner_concurrency=2)
    async with MockPinnedClient(partners) as http:
        s = sender(store, http, clock, secrets, config=config)
        stop = asyncio.Event()
        running = asyncio.create_task(s.run(stop, idle_s=0.05))
        await until(lambda: s.in_flight == 2, "the slow partner's two slots taken")
        slow_rows = [d for d in store.deliveries.values() if d.partner_id == "slow"]
        # Only what could start was claimed: the other four wait unleased, still due now.
        assert sorted(d.next_attempt_at for d in slow_rows)[:4] == [NOW] * 4
        add_partner(store, secrets, "quick", 5)  # arrives while the slow partner hangs
        quick = [d for d in store.deliveries.values() if d.partner_id == "quick"]
        await until(lambda: all(d.state is DeliveryState.DELIVERED for d in quick), "the quick partner delivered")
        assert len(fast.requests) == 5 and s.in_flight == 2  # the slow ones are still in flight
        release.set()
        await until(lambda: all(d.state is DeliveryState.DELIVERED for d in slow_rows), "the slow partner delivered")
        stop.set()
        await asyncio.wait_for(running, HANG)


async def test_a_late_finisher_whose_lease_ran_out_changes_nothing(secrets):
    """Sender a stalls past its lease; sender b takes the delivery and delivers it; a's late 503 must not
    turn `delivered` back into `pending` (nor record a second attempt)."""
    store, clock = store_with(secrets, "late"), ManualClock(NOW)
    first_arrived, release_first = asyncio.Event(), asyncio.Event()
    requests: list[httpx.Request] = []

    async def partner(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if len(requests) == 1:
            first_arrived.set()
            await release_first.wait()
            return httpx.Response(503)
        return httpx.Response(204)

    before = counted(metrics.LEASES_LOST, "late")
    config = SenderConfig(lease_s=60, timeout_s=30)
    async with MockPinnedClient(partner) as http_a, MockPinnedClient(partner) as http_b:
        a = sender(store, http_a, clock, secrets, config=config)
        b = sender(store, http_b, clock, secrets, config=config)
        late = asyncio.create_task(a.run_due())
        await asyncio.wait_for(first_arrived.wait(), HANG)
        clock.advance(61)  # a is stalled past its lease
        assert await b.run_due() == 1
        d = only(store)
        assert (d.state, d.attempts) == (DeliveryState.DELIVERED, 1)
        release_first.set()
        await asyncio.wait_for(late, HANG)
    assert (d.state, d.attempts, d.last_status) == (DeliveryState.DELIVERED, 1, 204)
    assert [(x.attempt, x.status) for x in store.attempts] == [(1, 204)]
    assert counted(metrics.LEASES_LOST, "late") == before + 1


async def test_an_attempt_does_not_start_when_the_lease_would_end_before_its_deadline(secrets):
    store, partner, clock = store_with(secrets, "short"), Partner(), ManualClock(NOW)
    config = SenderConfig(lease_s=60, timeout_s=30)
    async with MockPinnedClient(partner) as http:
        s = sender(store, http, clock, secrets, config=config)
        (due,) = await store.claim(NOW, NOW + timedelta(seconds=60), ClaimSlots(1, 1))
        clock.advance(31)  # 29 s of lease left, less than the 30 s deadline
        await s._deliver(due)
    d = only(store)
    assert partner.requests == [] and store.attempts == []
    assert (d.state, d.next_attempt_at) == (DeliveryState.PENDING, clock.now())  # given back, due now


async def test_claims_take_partners_in_turn_within_their_free_slots(secrets):
    store = MemoryDeliveryStore()
    add_partner(store, secrets, "busy", 10)
    add_partner(store, secrets, "calm", 1)
    store.deliveries[11].next_attempt_at = NOW + timedelta(seconds=1)  # calm's is due last of all
    later = NOW + timedelta(seconds=5)
    claimed = await store.claim(later, later + timedelta(seconds=60), ClaimSlots(3, 4, {"busy": 2}))
    assert [d.partner_id for d in claimed] == ["busy", "calm", "busy"]  # in turn; busy has 2 free slots
    assert await store.claim(later, later, ClaimSlots(5, 4, {"busy": 4})) == []
    store.disabled_partners.update({"busy", "calm"})
    assert await store.next_due() is None


async def test_a_partner_disabled_by_the_operator_is_not_delivered_to(secrets):
    store, partner, clock = store_with(secrets, "off", deliveries=2), Partner(), ManualClock(NOW)
    store.disabled_partners.add("off")
    async with MockPinnedClient(partner) as http:
        assert await sender(store, http, clock, secrets).run_due() == 0
        store.disabled_partners.discard("off")  # enabled again: its pending deliveries go out
        assert await sender(store, http, clock, secrets).run_due() == 2
    assert len(partner.requests) == 2
