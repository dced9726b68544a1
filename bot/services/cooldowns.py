"""Provider calls a user can trigger again and again (Refresh, SMS history, Wake up, a new crypto invoice) wait
between presses.

Provider limits are per operator account, so the polling that delivers everyone's codes would inherit
the 429s of one busy finger. Keyed per rental and action; the table is bounded."""
from __future__ import annotations

import math
import time
from collections import OrderedDict

from . import errors

# Multiples of the base cooldown: a history read can be many pages, a wake-up is a heavier provider action.
# "private": a group's hidden codes sent to one person privately (a Telegram call per tap), keyed per person
# as "private:<user id>" (the part before the colon picks the weight). "support": a message to the operators,
# keyed as (0, "support:<user id>").
# "csv": a chat's whole money history as a file, keyed as (chat id, "csv").
WEIGHTS = {"refresh": 1.0, "history": 3.0, "wake": 6.0, "bid": 1.0, "invoice": 1.0, "private": 3.0, "support": 6.0,
           "csv": 3.0}
MAX_ENTRIES = 10_000


class CoolingDown(errors.UserFacingError):
    key = "error-cooling-down"


class Cooldowns:
    def __init__(self, base: float = 10.0, max_entries: int = MAX_ENTRIES, clock=time.monotonic) -> None:
        self.seconds = {action: base * weight for action, weight in WEIGHTS.items()}
        self.max_entries = max_entries
        self.clock = clock
        self._next: OrderedDict[tuple[int, str], float] = OrderedDict()

    def take(self, rental_id: int, action: str) -> None:
        """Allow this press and start the wait, or raise CoolingDown with the seconds left."""
        now = self.clock()
        key = (rental_id, action)
        ready = self._next.get(key, 0.0)
        if ready > now:
            raise CoolingDown(seconds=math.ceil(ready - now))
        self._next[key] = now + self.seconds.get(action.partition(":")[0], 0.0)
        self._next.move_to_end(key)
        while len(self._next) > self.max_entries:
            self._next.popitem(last=False)

    def ready(self, rental_id: int, action: str) -> bool:
        """Like ``take``, but answers False instead of raising while the wait lasts."""
        try:
            self.take(rental_id, action)
        except CoolingDown:
            return False
        return True

    def __len__(self) -> int:
        return len(self._next)
