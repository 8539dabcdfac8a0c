"""A registry mirroring the latest footprint version per product into its own table (``registry_mirror``),
built on the subscriber library: the upsert and the subscriber position commit in one transaction.

Run it with ``python -m epd_publisher.registry_example`` (settings from the environment, group id
``EPD_REGISTRY_GROUP``, default ``epd-registry-example``).
"""

from __future__ import annotations

import asyncio
import os
import signal

import asyncpg

from epd.v1 import footprint_pb2
from epd_common import topics
from epd_common.db import create_pool
from epd_common.kafka import make_consumer
from epd_common.logs import configure_logging
from epd_common.settings import ServiceSettings
from epd_publisher.subscriber import PgSequenceStore, Subscriber


async def mirror(event: footprint_pb2.FootprintChanged, conn: asyncpg.Connection) -> None:
    """Keep the newest version per product (a late, lower version never overwrites a newer one)."""
    fv = event.footprint
    status = footprint_pb2.FootprintStatus.Name(fv.status).removeprefix("FOOTPRINT_STATUS_").lower()
    await conn.execute(
        """
        INSERT INTO registry_mirror (product_id, pf_id, version, product_sequence, status, record)
        VALUES ($1, $2::uuid, $3, $4, $5, $6)
        ON CONFLICT (product_id) DO UPDATE
            SET pf_id = excluded.pf_id, version = excluded.version, product_sequence = excluded.product_sequence,
                status = excluded.status, record = excluded.record, updated_at = now()
            WHERE registry_mirror.product_sequence < excluded.product_sequence
        """,
        event.product_id,
        event.pf_id.removeprefix("urn:uuid:"),
        event.version,
        event.product_sequence,
        status,
        fv.SerializeToString(deterministic=True),
    )


async def main() -> None:
    settings = ServiceSettings()
    configure_logging(settings.log_level, settings.log_json, service="registry-example")
    group = os.environ.get("EPD_REGISTRY_GROUP", "epd-registry-example")
    pool = await create_pool(settings.pg_dsn)
    consumer = make_consumer(settings.kafka_bootstrap, group, topics.FOOTPRINT_CHANGES.topic(settings.topic_prefix))
    await consumer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Subscriber(consumer, PgSequenceStore(pool, group), mirror, name=group).run(stop)
    finally:
        await consumer.stop()
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
