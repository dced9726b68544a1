"""Sending to chats within Telegram's limits: ~30 msg/s overall, 1 msg/s per chat, 20 msg/min per group.

A 429 is waited out and the message sent again; a chat that blocked or removed the bot is marked inactive."""
from __future__ import annotations

import asyncio
import collections
import enum
import logging
import math
import time
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import (TelegramBadRequest, TelegramForbiddenError, TelegramMigrateToChat,
                                TelegramNetworkError, TelegramRetryAfter, TelegramServerError)
from aiogram.types import InlineKeyboardMarkup, Message

from storage import ChatRepo

from .telegram_retry import PACED_BY_CALLER
from .topics import topic_is_gone

log = logging.getLogger(__name__)


class RateLimiter:
    """Books each send a slot on a fixed grid of ``per_second`` slots a second, so no one-second
    window ever holds more; per-chat spacing and the group minute window only choose which free
    slot a send takes. Booking (not sleeping and re-checking) loses no slots and wakes each
    waiting send once, however many are queued."""

    # Margins under Telegram's limits (30/s, 1/s per chat, 20/min per group): sends spaced at the exact limit
    # arrive bunched by network jitter, and a group's 429 costs up to a minute.
    def __init__(self, per_second: float = 28.0, chat_interval: float = 1.1, group_per_minute: int = 20,
                 group_window: float = 62.0) -> None:
        self.slot = 1.0 / per_second
        self.per_second = int(per_second)
        self._sent: collections.deque[float] = collections.deque()  # actual send times, last second
        self.chat_interval = chat_interval
        self.group_per_minute = group_per_minute
        self.group_window = group_window
        self._taken: set[int] = set()
        self._chat_next: dict[int, float] = {}
        self._group_sent: dict[int, collections.deque] = collections.defaultdict(collections.deque)

    def reserve(self, chat_id: int, is_group: bool, now: float) -> float:
        """The moment this chat's next message may go out; the slot is booked."""
        at = max(now, self._chat_next.get(chat_id, 0.0))
        if is_group:
            sent = self._group_sent[chat_id]
            while sent and sent[0] <= now - self.group_window:
                sent.popleft()
            if len(sent) >= self.group_per_minute and sent[-self.group_per_minute] > at - self.group_window:
                at = sent[-self.group_per_minute] + self.group_window
        slot = math.ceil(at / self.slot - 1e-9)
        while slot in self._taken:
            slot += 1
        self._taken.add(slot)
        self._forget(now)
        at = slot * self.slot
        self._chat_next[chat_id] = at + self.chat_interval
        if is_group:
            self._group_sent[chat_id].append(at)
        return at

    def _forget(self, now: float) -> None:
        """Forget what lies in the past."""
        if len(self._taken) > 4096:
            oldest = math.floor(now / self.slot) - 1
            self._taken = {s for s in self._taken if s >= oldest}
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
            for chat in [c for c, q in self._group_sent.items() if not q or q[-1] <= now - self.group_window]:
                del self._group_sent[chat]

    # -- sends that must never delay a code (broadcasts) ----------------------------------------------------
    # A code books the first free slot at or after the moment it asks (reserve). A spare send books only the
    # slot whose moment has just passed, if nobody booked it: no code can ask for a slot in the past, so a spare
    # send never takes a slot a code would have had, and it never books ahead, so a code asking at any moment
    # finds none of its slots taken by one. Of the per-second cap on actual sends it leaves one place free.
    # Its chat must be ready for it now (see chat_ready); the caller puts a chat that is not aside.
    GROUP_SPARE = 5  # of a group's messages a minute, the last this many are left to codes

    def chat_ready(self, chat_id: int, is_group: bool, now: float | None = None) -> bool:
        """Whether a spare send to this chat could go now: no message booked there within the chat's
        interval, and a group's minute window not nearly full."""
        now = time.monotonic() if now is None else now
        if self._chat_next.get(chat_id, 0.0) > now:
            return False
        if is_group:
            sent = self._group_sent.get(chat_id)
            if sent and sum(1 for at in sent if at > now - self.group_window) >= self.group_per_minute - self.GROUP_SPARE:
                return False
        return True

    def take_spare(self, chat_id: int, is_group: bool, now: float) -> bool:
        """Book the slot that has just passed for a spare send, if it is free and the chat is ready."""
        slot = math.floor(now / self.slot)
        while self._sent and self._sent[0] <= now - 1.0:
            self._sent.popleft()
        if slot in self._taken or len(self._sent) >= self.per_second - 1 or not self.chat_ready(chat_id, is_group, now):
            return False
        self._taken.add(slot)
        self._forget(now)
        self._chat_next[chat_id] = now + self.chat_interval
        if is_group:
            self._group_sent[chat_id].append(now)
        self._sent.append(now)
        return True

    async def acquire_spare(self, chat_id: int, is_group: bool) -> None:
        """Wait for a slot no code wants (see above); looks again at each slot's boundary."""
        while True:
            now = time.monotonic()
            if self.take_spare(chat_id, is_group, now):
                return
            await asyncio.sleep(max((math.floor(now / self.slot) + 1) * self.slot - now, 0.001))

    async def acquire(self, chat_id: int, is_group: bool) -> None:
        now = time.monotonic()
        delay = self.reserve(chat_id, is_group, now) - now
        if delay > 0:
            await asyncio.sleep(delay)
        # A stalled event loop (GC, a long tick) wakes several booked sends at once: hold the
        # actual sends of any one second to the limit as well.
        while True:
            now = time.monotonic()
            while self._sent and self._sent[0] <= now - 1.0:
                self._sent.popleft()
            if len(self._sent) < self.per_second:
                break
            await asyncio.sleep(self._sent[0] + 1.0 - now)
        self._sent.append(now)


class Outcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # blocked, kicked, chat deleted: do not try again
    LATER = "later"  # network or Telegram trouble: try again on a later round
    NOT_NOW = "not_now"  # the chat is there but refuses this message (no rights, topic closed): back off
    TOPIC_GONE = "topic_gone"  # sent into a topic (message_thread_id) a person deleted or closed: nothing sent


# Bad Request texts that mean the chat itself is gone for the bot. Any other 400 ("not enough rights to send
# text messages", TOPIC_CLOSED, ...) can change back, so the message waits instead of being dropped.
GONE_MARKERS = ("chat not found", "bot was kicked", "user is deactivated", "group chat was deactivated",
                "chat was deleted", "bot is not a member", "peer_id_invalid")


def chat_is_gone(message: str) -> bool:
    text = message.lower()
    return any(marker in text for marker in GONE_MARKERS)


class ChatSender:
    def __init__(self, bot: Bot, chats: ChatRepo, limiter: RateLimiter, max_retry_after: float = 120.0,
                 on_flood: Callable[[], None] = lambda: None) -> None:
        self.bot = bot
        self.chats = chats
        self.limiter = limiter
        self.max_retry_after = max_retry_after
        self.retry_after_count = 0
        self.on_flood = on_flood

    async def send(self, chat_id: int, is_group: bool, text: str, markup: InlineKeyboardMarkup | None = None, *,
                   photo: str = "", spare: bool = False,
                   message_thread_id: int | None = None) -> tuple[Outcome, Message | None]:
        """A message (a photo with ``text`` as its caption when ``photo`` is a file id). ``spare``: a send that
        must never delay a code (a broadcast), paced by RateLimiter.acquire_spare. ``message_thread_id``: into
        that forum topic; TOPIC_GONE when it was deleted or closed (the caller sends elsewhere)."""
        token = PACED_BY_CALLER.set(True)  # 429s are waited out here, through the limiter
        try:
            return await self._send(chat_id, is_group, text, markup, photo, spare, message_thread_id)
        finally:
            PACED_BY_CALLER.reset(token)

    async def edit(self, chat_id: int, is_group: bool, message_id: int, text: str,
                   markup: InlineKeyboardMarkup | None = None, *, spare: bool = False) -> bool:
        """Edit a message the bot sent, paced like a send; False when Telegram refuses (gone, unchanged, 429)."""
        if spare:
            await self.limiter.acquire_spare(chat_id, is_group)
        else:
            await self.limiter.acquire(chat_id, is_group)
        token = PACED_BY_CALLER.set(True)  # a refresh is not worth waiting out a flood limit for
        try:
            await self.bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup)
        except (TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter, TelegramNetworkError,
                TelegramServerError) as err:
            log.info("editing message %s in chat %s refused: %s", message_id, chat_id, err)
            return False
        finally:
            PACED_BY_CALLER.reset(token)
        return True

    async def delete(self, chat_id: int, is_group: bool, message_id: int) -> tuple[Outcome, str]:
        """Delete a message the bot sent, paced as a spare send (a deletion never delays a code). SENT: deleted;
        GONE: Telegram refused for good (too old, already deleted, no rights, chat gone): not worth asking again;
        LATER: no answer (flood limit, network, Telegram trouble): ask again on a later round."""
        await self.limiter.acquire_spare(chat_id, is_group)
        token = PACED_BY_CALLER.set(True)  # a 429 is not waited out here: the next round asks again
        try:
            await self.bot.delete_message(chat_id=chat_id, message_id=message_id)
        except (TelegramBadRequest, TelegramForbiddenError) as err:
            log.info("deleting message %s in chat %s refused: %s", message_id, chat_id, err.message)
            return Outcome.GONE, err.message
        except (TelegramRetryAfter, TelegramNetworkError, TelegramServerError) as err:
            log.info("deleting message %s in chat %s failed for now: %s", message_id, chat_id, err)
            return Outcome.LATER, str(err)
        finally:
            PACED_BY_CALLER.reset(token)
        return Outcome.SENT, "deleted"

    async def _send(self, chat_id: int, is_group: bool, text: str, markup: InlineKeyboardMarkup | None,
                    photo: str = "", spare: bool = False,
                    thread: int | None = None) -> tuple[Outcome, Message | None]:
        while True:
            if spare:
                await self.limiter.acquire_spare(chat_id, is_group)
            else:
                await self.limiter.acquire(chat_id, is_group)
            try:
                if photo:
                    message = await self.bot.send_photo(chat_id, photo, caption=text, reply_markup=markup,
                                                        message_thread_id=thread)
                else:
                    message = await self.bot.send_message(chat_id, text, reply_markup=markup,
                                                          message_thread_id=thread)
                return Outcome.SENT, message
            except TelegramRetryAfter as err:
                self.retry_after_count += 1
                self.on_flood()
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
                if thread is not None and topic_is_gone(err.message):
                    log.info("topic %s in chat %s is gone (%s)", thread, chat_id, err.message)
                    return Outcome.TOPIC_GONE, None
                if chat_is_gone(err.message):
                    log.info("chat %s is gone (%s): marked inactive", chat_id, err.message)
                    await self.chats.set_active(chat_id, False)
                    return Outcome.GONE, None
                log.warning("telegram refused a message to %s for now: %s", chat_id, err.message)
                return Outcome.NOT_NOW, None
            except (TelegramNetworkError, TelegramServerError) as err:
                log.warning("sending to %s failed for now: %s", chat_id, err)
                return Outcome.LATER, None
