"""What a SIGTERM waits for: the work in flight (update handlers, scheduled jobs), each with its provider calls.

The updates stop first (polling ends, or the webhook answers 503 so Telegram keeps them for the next start),
then the scheduler is paused, then this waits for what already runs, up to a deadline. A rent whose provider
call outlives the deadline is not lost: its charge is pending and reconciled at the next start."""
from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject


class InFlight:
    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextmanager
    def track(self):
        self.count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.count -= 1
            if not self.count:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True when nothing runs any more; False when the deadline came first."""
        try:
            async with asyncio.timeout(max(timeout, 0)):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def job(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """A scheduled job, counted while it runs."""
        @functools.wraps(fn)
        async def tracked(*args: Any, **kwargs: Any) -> Any:
            with self.track():
                return await fn(*args, **kwargs)
        return tracked

    def middleware(self) -> BaseMiddleware:
        """An outer update middleware: every update counted from arrival to its handler's end."""
        return _UpdatesInFlight(self)


class _UpdatesInFlight(BaseMiddleware):
    def __init__(self, inflight: InFlight) -> None:
        self.inflight = inflight

    async def __call__(self, handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        with self.inflight.track():
            return await handler(event, data)
