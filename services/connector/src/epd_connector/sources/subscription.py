"""What the subscribing sources (MQTT, OPC UA) share: run a reconnecting loop until stopped."""

from __future__ import annotations

import asyncio

from epd_connector import metrics


class SubscriptionSource:
    """Subclasses set `kind` (the metrics label) and implement `_loop`, which reconnects by itself."""

    kind = ""

    async def run(self, stop: asyncio.Event) -> None:
        task = asyncio.create_task(self._loop())
        await stop.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        metrics.SOURCE_CONNECTED.labels(self.kind).set(0)

    async def _loop(self) -> None:
        raise NotImplementedError
