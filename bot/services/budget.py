"""A per-provider budget for calls users trigger from the card, so code polling always keeps its share.

Provider rate limits are per operator account. Card actions (Refresh, history, wake-up, cancel, ...) draw
from a token bucket per provider: RATE a second with a burst of BURST. Polling and renting never draw from it.

The budget is the bot's own pacing, not the provider's word, so it never stands between a user and their money:
an action that gives money back (``spend_returning_money``: cancel & refund, ending a number or auto-renew off,
which return a reserved period) is never refused; it waits its turn however long that takes, and while it waits
the other actions on that provider give way to it. Any other action waits up to MAX_WAIT, then is refused with
TooManyAtOnce, which says it was the bot's own pacing ("the provider is busy" is said only when the provider
itself answered so: errors.ProviderBusy)."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from . import errors
from .buckets import TokenBuckets

RATE = 3.0
BURST = 6.0
MAX_WAIT = 3.0
# A money-returning call that will wait longer than this tells the user it is being worked on; a shorter wait is
# the tap's usual spinner, and the tap's answer then says how it ended ("Cancelled, $1.10 returned").
NOTICE_AFTER = 1.0

OnWait = Callable[[], Awaitable[None]]  # told once that a money-returning call waits its turn (the tap says so)


class TooManyAtOnce(errors.UserFacingError):
    """Refused by the bot's own pacing of card actions, not by the provider."""

    key = "error-too-many-at-once"


class ProviderBudget:
    def __init__(self, rate: float = RATE, burst: float = BURST, max_wait: float = MAX_WAIT,
                 clock=time.monotonic) -> None:
        self.max_wait = max_wait
        self._give_way = 1.0 / rate  # how long an action yielding to a money-returning one waits before looking again
        self._buckets = TokenBuckets(rate, burst, clock=clock)  # one per provider
        self._returning: Counter[str] = Counter()  # money-returning calls waiting, per provider

    async def spend(self, provider: str) -> None:
        """Take one call from the provider's budget, waiting briefly (behind any money-returning call);
        TooManyAtOnce when none comes within ``max_wait``."""
        waited = 0.0
        while (wait := self._give_way if self._returning[provider] else self._buckets.take(provider)) > 0:
            if waited + wait > self.max_wait:
                raise TooManyAtOnce()
            await asyncio.sleep(wait)
            waited += wait

    async def spend_returning_money(self, provider: str, on_wait: OnWait | None = None) -> None:
        """Take one call for an action that gives money back: never refused, first in line. ``on_wait`` is awaited
        once, as soon as the wait is seen to pass NOTICE_AFTER, so the user hears that it is being worked on."""
        if self._buckets.take(provider) == 0:
            return
        self._returning[provider] += 1
        waited = 0.0
        try:
            while (wait := self._buckets.take(provider)) > 0:
                if on_wait is not None and waited + wait > NOTICE_AFTER:
                    await on_wait()
                    on_wait = None
                await asyncio.sleep(wait)
                waited += wait
        finally:
            self._returning[provider] -= 1
            if not self._returning[provider]:
                del self._returning[provider]

    def try_spend(self, provider: str) -> bool:
        """A background read (alerts): a call taken only when one is free now, never waited for, so it never
        holds up a user's card action; False leaves it to the next round."""
        return not self._returning[provider] and self._buckets.take(provider) == 0
