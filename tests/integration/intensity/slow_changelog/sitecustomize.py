"""Loaded by a test worker whose PYTHONPATH starts here (intensity_worker.Worker, changelog_delay_s):
the changelog writes of its first EPD_TEST_CHANGELOG_DELAYED_BATCHES batches leave only after
EPD_TEST_CHANGELOG_DELAY_S seconds, as while a broker fails over the partition leaders. The worker is
otherwise the real one."""

import os

if os.environ.get("EPD_TEST_CHANGELOG_DELAY_S"):
    import asyncio

    from epd_intensity.app import table_store

    _delay = float(os.environ["EPD_TEST_CHANGELOG_DELAY_S"])
    _left = [int(os.environ.get("EPD_TEST_CHANGELOG_DELAYED_BATCHES", "1000000"))]
    _durable = table_store.TableStore.durable

    async def _late_durable(self: table_store.TableStore) -> None:
        if _left[0] > 0:
            _left[0] -= 1
            await asyncio.sleep(_delay)
        await _durable(self)

    table_store.TableStore.durable = _late_durable  # type: ignore[method-assign]
