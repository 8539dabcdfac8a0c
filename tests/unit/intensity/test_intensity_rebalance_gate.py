"""RebalanceGate: a revocation waits for the open batch; no batch starts between revoke and the end of
the rebalance (app.py, rebalance_gate.py)."""

from __future__ import annotations

import asyncio

from epd_intensity.app.rebalance_gate import RebalanceGate


async def test_revocation_waits_for_the_open_batch_and_no_batch_starts_until_reopened():
    gate = RebalanceGate()
    assert gate.begin()  # a batch is open
    gate.close()  # partitions revoked
    waiting = asyncio.ensure_future(gate.idle())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # faust may not reassign yet
    gate.end()  # the batch's state is durable
    await asyncio.wait_for(waiting, 5)
    assert not gate.begin()  # records taken now are dropped: read again after the assignment
    await asyncio.wait_for(gate.idle(), 5)  # a refused batch leaves the gate idle
    gate.open()  # tables recovered, start offsets set
    assert gate.begin() and gate.is_open
    gate.end()


async def test_idle_returns_at_once_without_an_open_batch():
    gate = RebalanceGate()
    gate.close()
    await asyncio.wait_for(gate.idle(), 1)
