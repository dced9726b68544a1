"""One user must not slow everyone: a per-user budget of taps and typed messages.

Each user gets a burst of BURST events, refilled at RATE a second. Over it, a tap is answered with a short
alert and a typed message with one polite reply per TOLD_EVERY seconds; the event does nothing else.
Only taps and text are counted: payments, service messages and member updates always go through, and
codes are pushed by the outbox, which this never touches. The table of users is bounded."""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.services.buckets import TokenBuckets

from .i18n import Texts, pick_language

RATE = 2.0  # events a second, sustained
BURST = 8.0
TOLD_EVERY = 10.0
MAX_USERS = 10_000


class ThrottleMiddleware(BaseMiddleware):
    def __init__(self, rate: float = RATE, burst: float = BURST, max_users: int = MAX_USERS,
                 clock=time.monotonic) -> None:
        self.clock = clock
        self._budgets = TokenBuckets(rate, burst, max_users, clock)
        self._told: OrderedDict[int, float] = OrderedDict()  # user -> when last told to slow down
        self.max_users = max_users
        self.refused = 0

    def allow(self, user_id: int) -> bool:
        """Whether one more event of this user goes on (it is counted when it does)."""
        return self._budgets.take(user_id) == 0

    def _tell_now(self, user_id: int) -> bool:
        """A refused typed message gets a reply at most once per TOLD_EVERY seconds."""
        now = self.clock()
        if now - self._told.get(user_id, -TOLD_EVERY) < TOLD_EVERY:
            return False
        self._told[user_id] = now
        self._told.move_to_end(user_id)
        while len(self._told) > self.max_users:
            self._told.popitem(last=False)
        return True

    async def __call__(self, handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user = data.get("event_from_user")
        counted = isinstance(event, CallbackQuery) or (isinstance(event, Message) and event.text is not None)
        if user is None or not counted or self.allow(user.id):
            return await handler(event, data)
        self.refused += 1
        text = Texts(pick_language(user.language_code))("error-slow-down")
        if isinstance(event, CallbackQuery):
            await event.answer(text)  # every tap is answered, or the button spins
        elif self._tell_now(user.id):
            await event.answer(text)
        return None

    def __len__(self) -> int:
        return len(self._budgets)
