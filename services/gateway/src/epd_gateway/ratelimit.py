"""In-process token buckets keyed by client (one gateway process; a shared store such as Redis would be
needed behind a load balancer with several replicas — documented in the README)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    """`take(key)` returns 0 when allowed, else the seconds to wait (for Retry-After)."""

    def __init__(
        self, rate_per_second: float, burst: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.rate, self.burst, self._clock, self._max = rate_per_second, burst, clock, max_keys
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        now = self._clock()
        tokens, last = self._state.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._state[key] = (tokens - 1, now)
            wait = 0.0
        else:
            self._state[key] = (tokens, now)
            wait = (1 - tokens) / self.rate
        while len(self._state) > self._max:  # bound memory under key floods (e.g. random client ids)
            self._state.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
