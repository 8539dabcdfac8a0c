"""`python -m epd_footprint` as a process: consumes windows, serves the admin API, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from decimal import Decimal

import asyncpg
import httpx
from footprint_chain import register, roasting_window

from epd_common.db import create_pool
from epd_common.kafka import TopicProducer, ensure_topics, make_producer
from epd_common.topics import INTENSITY_WINDOWS, SINGLE_BROKER

TOKEN = "main-test-operator-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_service_process_applies_windows_serves_api_and_stops_cleanly(fresh_db, kafka, topic_prefix, unique):
    pool = await create_pool(fresh_db, max_size=2)
    await register(pool)
    await pool.close()
    await ensure_topics(kafka, [INTENSITY_WINDOWS], replication=SINGLE_BROKER, prefix=topic_prefix)
    port = _free_port()
    env = {
        **os.environ,
        "EPD_PG_DSN": fresh_db,
        "EPD_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "EPD_TOPIC_PREFIX": topic_prefix,
        "EPD_FOOTPRINT_ADMIN_TOKEN": TOKEN,
        "EPD_FOOTPRINT_ADMIN_PORT": str(port),
        "EPD_FOOTPRINT_GROUP_ID": f"g{unique}",
        "EPD_FOOTPRINT_METRICS_PORT": "0",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "epd_footprint", env=env, stderr=asyncio.subprocess.PIPE
    )
    conn = await asyncpg.connect(fresh_db)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client:
            async with asyncio.timeout(60):
                while True:
                    assert proc.returncode is None, (await proc.stderr.read()).decode()[-2000:]
                    try:
                        if (await client.get("/drift-events")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.2)
            producer = make_producer(kafka)
            await producer.start()
            try:
                windows = [roasting_window(d, Decimal("1.2")) for d in range(3)]
                await TopicProducer(producer).send_all(
                    INTENSITY_WINDOWS, [(w.process_id, w) for w in windows], topic=INTENSITY_WINDOWS.topic(topic_prefix)
                )
            finally:
                await producer.stop()
            async with asyncio.timeout(60):  # roasted ore + 5 downstream (default 10 % policy); polled
                while len((await client.get("/drift-events")).json()) < 6:  # noqa: ASYNC110
                    await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert await conn.fetchval("SELECT count(*) FROM epd_versions WHERE status = 'provisional'") == 6
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await conn.close()
