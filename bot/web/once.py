"""Each Telegram update handled once (storage/updates.py): Telegram re-sends an update it believes undelivered,
and a webhook that answered late, or a restart between handling and confirming, would otherwise answer twice."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from storage.updates import UpdateLog

log = logging.getLogger(__name__)


class HandledOnce(BaseMiddleware):
    def __init__(self, updates: UpdateLog) -> None:
        self.updates = updates

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Update) and not await self.updates.take(event.update_id):
            log.info("update %d came again: already handled, dropped", event.update_id)
            return None
        return await handler(event, data)
