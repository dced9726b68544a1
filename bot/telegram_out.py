"""Sending to chats within Telegram's limits: ~30 msg/s overall, 1 msg/s per chat, 20 msg/min per group.

A 429 is waited out and the message sent again; a chat that blocked or removed the bot is marked inactive."""
from __future__ import annotations

import asyncio
import collections
import enum
import logging
import time

from aiogram import Bot
from aiogram.exceptions import (TelegramBadRequest, TelegramForbiddenError, TelegramMigrateToChat,
                                TelegramNetworkError, TelegramRetryAfter, TelegramServerError)
from aiogram.types import InlineKeyboardMarkup, Message

from storage import ChatRepo

from .telegram_retry import PACED_BY_CALLER

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, per_second: float = 30.0, chat_interval: float = 1.0, group_per_minute: int = 20) -> None:
        self.global_interval = 1.0 / per_second
        self.chat_interval = chat_interval
        self.group_per_minute = group_per_minute
        self._global_next = 0.0
        self._chat_next: dict[int, float] = {}
        self._group_sent: dict[int, collections.deque] = collections.defaultdict(collections.deque)

    def _wait_for(self, chat_id: int, is_group: bool, now: float) -> float:
        wait = max(self._global_next, self._chat_next.get(chat_id, 0.0)) - now
        if is_group:
            sent = self._group_sent[chat_id]
            while sent and sent[0] <= now - 60.0:
                sent.popleft()
            if len(sent) >= self.group_per_minute:
                wait = max(wait, sent[0] + 60.0 - now)
        return wait

    async def acquire(self, chat_id: int, is_group: bool) -> None:
        while (wait := self._wait_for(chat_id, is_group, time.monotonic())) > 0:
            await asyncio.sleep(wait)
        now = time.monotonic()
        self._global_next = max(now, self._global_next) + self.global_interval
        self._chat_next[chat_id] = now + self.chat_interval
        if is_group:
            self._group_sent[chat_id].append(now)


class Outcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # blocked, kicked, chat deleted: do not try again
    LATER = "later"  # network or Telegram trouble: try again on a later round


class ChatSender:
    def __init__(self, bot: Bot, chats: ChatRepo, limiter: RateLimiter, max_retry_after: float = 120.0) -> None:
        self.bot = bot
        self.chats = chats
        self.limiter = limiter
        self.max_retry_after = max_retry_after
        self.retry_after_count = 0

    async def send(self, chat_id: int, is_group: bool, text: str,
                   markup: InlineKeyboardMarkup | None = None) -> tuple[Outcome, Message | None]:
        token = PACED_BY_CALLER.set(True)  # 429s are waited out here, through the limiter
        try:
            return await self._send(chat_id, is_group, text, markup)
        finally:
            PACED_BY_CALLER.reset(token)

    async def _send(self, chat_id: int, is_group: bool, text: str,
                    markup: InlineKeyboardMarkup | None) -> tuple[Outcome, Message | None]:
        while True:
            await self.limiter.acquire(chat_id, is_group)
            try:
                message = await self.bot.send_message(chat_id, text, reply_markup=markup)
                return Outcome.SENT, message
            except TelegramRetryAfter as err:
                self.retry_after_count += 1
                log.warning("flood limit for chat %s: waiting %ss", chat_id, err.retry_after)
                await asyncio.sleep(min(err.retry_after, self.max_retry_after))
            except TelegramMigrateToChat as err:
                await self.chats.migrate(chat_id, err.migrate_to_chat_id)
                chat_id = err.migrate_to_chat_id
            except TelegramForbiddenError as err:
                log.info("chat %s is gone (%s): marked inactive", chat_id, err.message)
                await self.chats.set_active(chat_id, False)
                return Outcome.GONE, None
            except TelegramBadRequest as err:
                if "chat not found" in err.message.lower():
                    await self.chats.set_active(chat_id, False)
                    return Outcome.GONE, None
                log.error("telegram refused a message to %s: %s", chat_id, err.message)
                return Outcome.GONE, None
            except (TelegramNetworkError, TelegramServerError) as err:
                log.warning("sending to %s failed for now: %s", chat_id, err)
                return Outcome.LATER, None
