"""Every Bot API call waits out a short flood limit (429) and tries again, instead of failing the handler."""
from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar

from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.exceptions import TelegramRetryAfter

log = logging.getLogger(__name__)

# Set by the paced sender: it waits out 429s itself, keeping its limiter's bookkeeping right.
PACED_BY_CALLER: ContextVar[bool] = ContextVar("paced_by_caller", default=False)


class RetryAfterMiddleware(BaseRequestMiddleware):
    def __init__(self, max_wait: float = 10.0, attempts: int = 3) -> None:
        self.max_wait = max_wait
        self.attempts = attempts
        self.retried = 0

    async def __call__(self, make_request, bot, method):
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as err:
                # Long waits are left to the caller (the outbox keeps its own order and pace).
                if PACED_BY_CALLER.get() or attempt == self.attempts or err.retry_after > self.max_wait:
                    raise
                self.retried += 1
                log.warning("flood limit on %s: retrying in %ss", type(method).__name__, err.retry_after)
                await asyncio.sleep(err.retry_after)
        raise AssertionError("unreachable")
