"""Token buckets by key, bounded: the one refill rule behind the per-user throttle and the provider budget."""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable


class TokenBuckets:
    """Each key holds up to ``burst`` tokens, refilled at ``rate`` a second; the least recently used key is
    forgotten beyond ``max_keys`` (a forgotten key starts full again)."""

    def __init__(self, rate: float, burst: float, max_keys: int = 10_000, clock=time.monotonic) -> None:
        self.rate, self.burst, self.max_keys, self.clock = rate, burst, max_keys, clock
        self._buckets: OrderedDict[Hashable, list[float]] = OrderedDict()  # key -> [tokens, last refill]

    def take(self, key: Hashable) -> float:
        """0 when a token was taken; otherwise the seconds until one is free (nothing taken)."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [self.burst, now]
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(key)
        bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)
