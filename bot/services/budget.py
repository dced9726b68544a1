"""A per-provider budget for calls users trigger from the card, so code polling always keeps its share.

Provider rate limits are per operator account. Card actions (Refresh, history, wake-up, cancel, ...) draw
from a token bucket per provider: RATE a second with a burst of BURST; an action that finds it empty waits
up to MAX_WAIT, then is refused politely. Polling and renting never draw from it."""
from __future__ import annotations

import asyncio
import time

from . import errors
from .buckets import TokenBuckets

RATE = 3.0
BURST = 6.0
MAX_WAIT = 3.0


class ProviderBusy(errors.UserFacingError):
    key = "error-provider-busy"


class ProviderBudget:
    def __init__(self, rate: float = RATE, burst: float = BURST, max_wait: float = MAX_WAIT,
                 clock=time.monotonic) -> None:
        self.max_wait = max_wait
        self._buckets = TokenBuckets(rate, burst, clock=clock)  # one per provider

    async def spend(self, provider: str) -> None:
        """Take one call from the provider's budget, waiting briefly; ProviderBusy when it stays empty."""
        waited = 0.0
        while (wait := self._buckets.take(provider)) > 0:
            if waited + wait > self.max_wait:
                raise ProviderBusy()
            await asyncio.sleep(wait)
            waited += wait

    def try_spend(self, provider: str) -> bool:
        """A background read (alerts): a call taken only when one is free now, never waited for, so it never
        holds up a user's card action; False leaves it to the next round."""
        return self._buckets.take(provider) == 0
