"""The stack broker sheds a finished session's topics: only those under the prefixes it names."""

from __future__ import annotations

import asyncio

from aiokafka.admin import NewTopic

from epd_common.kafka import make_admin
from epd_devstack.kafka import delete_topics_with_prefixes


async def test_only_topics_under_the_given_prefixes_are_deleted(kafka, unique):
    ours, theirs = f"t{unique}a.", f"t{unique}b."
    gone = {f"{ours}x", f"{ours}y-changelog"}
    kept = {f"{theirs}x", f"x{ours}"}  # another prefix; a name that only contains ours
    admin = make_admin(kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, num_partitions=2, replication_factor=1) for n in gone | kept])
        assert await delete_topics_with_prefixes(kafka, {ours}) == 2
        assert await delete_topics_with_prefixes(kafka, set()) == 0
        # a broker's metadata follows the controller's deletion shortly after the call returns
        for _ in range(300):
            left = set(await admin.list_topics())
            if gone.isdisjoint(left):
                break
            await asyncio.sleep(0.1)
        assert gone.isdisjoint(left) and kept <= left, left & (gone | kept)
    finally:
        await admin.delete_topics(sorted(kept))
        await admin.close()
