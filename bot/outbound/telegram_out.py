"""What the background sends to chats (codes, notices, broadcasts), and what each answer from Telegram means.

Pacing and 429s are the bot's one outbound path (bot/outbound/pace.py); here a send gets its priority and its
outcome: a chat that blocked or removed the bot is marked inactive, a topic gone is said, trouble is LATER."""
from __future__ import annotations

import enum
import logging

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup, Message

from bot.outbound.pace import Outbound, Priority, at_priority, outbound_of
from bot.outbound.topics import topic_is_gone
from storage import ChatRepo

log = logging.getLogger(__name__)


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
    def __init__(self, bot: Bot, chats: ChatRepo, outbound: Outbound | None = None) -> None:
        self.bot = bot
        self.chats = chats
        self.outbound = outbound or outbound_of(bot)  # the pace every send of the bot keeps

    async def send(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None, *,
                   photo: str = "", spare: bool = False, message_thread_id: int | None = None,
                   priority: Priority | None = None) -> tuple[Outcome, Message | None]:
        """A message (a photo with ``text`` as its caption when ``photo`` is a file id), at ``priority`` (NOTICE by
        default; ``spare``: BULK, a send that takes only what codes, replies and notices leave). A flood wait is
        waited out in the chat's lane. ``message_thread_id``: into that forum topic; TOPIC_GONE when it was
        deleted or closed (the caller sends elsewhere)."""
        with at_priority(_level(priority, spare)):
            return await self._send(chat_id, text, markup, photo, message_thread_id)

    async def edit(self, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None = None, *,
                   spare: bool = False,
                   priority: Priority | None = None) -> bool:
        """Edit a message the bot sent, paced like a send; False when Telegram refuses (gone, unchanged)."""
        try:
            with at_priority(_level(priority, spare)):
                await self.bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id,
                                                 reply_markup=markup)
        except (TelegramBadRequest, TelegramForbiddenError, TelegramNetworkError, TelegramServerError) as err:
            log.info("editing message %s in chat %s refused: %s", message_id, chat_id, err)
            return False
        return True

    async def delete(self, chat_id: int, message_id: int) -> tuple[Outcome, str]:
        """Delete a message the bot sent. SENT: deleted; GONE: Telegram refused for good (too old, already deleted,
        no rights, chat gone): not worth asking again; LATER: no answer (a long flood wait, network, Telegram
        trouble): ask again on a later round."""
        try:
            with at_priority(Priority.BULK):
                await self.bot.delete_message(chat_id=chat_id, message_id=message_id)
        except (TelegramBadRequest, TelegramForbiddenError) as err:
            log.info("deleting message %s in chat %s refused: %s", message_id, chat_id, err.message)
            return Outcome.GONE, err.message
        except (TelegramRetryAfter, TelegramNetworkError, TelegramServerError) as err:
            log.info("deleting message %s in chat %s failed for now: %s", message_id, chat_id, err)
            return Outcome.LATER, str(err)
        return Outcome.SENT, "deleted"

    async def _send(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None, photo: str = "",
                    thread: int | None = None) -> tuple[Outcome, Message | None]:
        while True:
            try:
                if photo:
                    message = await self.bot.send_photo(chat_id, photo, caption=text, reply_markup=markup,
                                                        message_thread_id=thread)
                else:
                    message = await self.bot.send_message(chat_id, text, reply_markup=markup,
                                                          message_thread_id=thread)
                return Outcome.SENT, message
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


def _level(chosen: Priority | None, spare: bool) -> Priority:
    if chosen is not None:
        return chosen
    return Priority.BULK if spare else Priority.NOTICE
