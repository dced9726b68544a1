"""A topic per number in a forum group: opened when a number is rented (its card and codes go there), closed when
the rental ends. Off unless the group turned it on; without a forum or the right to manage topics the group's main
chat is used, as before. Best effort throughout: a topic that cannot be made or closed never stops a rental or a
code (delivery.py falls back to the main chat when a person deleted or closed the topic)."""
from __future__ import annotations

import enum
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError

from storage import Chat
from storage.topics import NumberTopicRepo

log = logging.getLogger(__name__)

NAME_MAX = 128  # Telegram's limit on a topic's name


class TopicsCheck(enum.StrEnum):
    """Whether the group can have a topic per number now."""
    OK = "ok"
    NOT_FORUM = "not_forum"  # topics are off in the group's settings
    NO_RIGHT = "no_right"  # the bot is not an administrator allowed to manage topics
    UNKNOWN = "unknown"  # Telegram did not answer


# Refusals that mean the send's topic is not there to write in any more.
TOPIC_GONE_MARKERS = ("message thread not found", "topic_closed", "topic_deleted", "thread_id_invalid")


def topic_is_gone(message: str) -> bool:
    text = message.lower()
    return any(marker in text for marker in TOPIC_GONE_MARKERS)


def topic_name(service: str, number: str) -> str:
    """"WhatsApp · +1 555 010 0199", cut to Telegram's limit (the number is kept whole)."""
    tail = f" · {number}" if number else ""
    room = NAME_MAX - len(tail)
    head = service if len(service) <= room else service[:max(room - 1, 0)] + "…"
    return (head + tail)[:NAME_MAX] or "SMS"


class NumberTopics:
    def __init__(self, repo: NumberTopicRepo) -> None:
        self.repo = repo

    async def check(self, bot: Bot, chat_id: int) -> TopicsCheck:
        """A forum, and the bot an administrator with can_manage_topics (read from Telegram now)."""
        try:
            if not (await bot.get_chat(chat_id)).is_forum:
                return TopicsCheck.NOT_FORUM
            me = await bot.get_chat_member(chat_id, bot.id)
        except TelegramAPIError as err:
            log.info("checking topics in chat %s failed: %s", chat_id, err)
            return TopicsCheck.UNKNOWN
        if me.status != "administrator" or not getattr(me, "can_manage_topics", False):
            return TopicsCheck.NO_RIGHT
        return TopicsCheck.OK

    async def open(self, bot: Bot, chat: Chat, rental_id: int, name: str) -> int | None:
        """The number's topic, created now; None: the main chat (off, not a forum, no right, Telegram trouble)."""
        if not (chat.is_group and chat.topic_per_number):
            return None
        try:
            topic = await bot.create_forum_topic(chat.id, name[:NAME_MAX])
        except (TelegramBadRequest, TelegramForbiddenError) as err:
            log.info("no topic for rental %d in chat %s: %s", rental_id, chat.id, err.message)
            return None
        except TelegramAPIError as err:
            log.warning("creating a topic for rental %d in chat %s failed: %s", rental_id, chat.id, err)
            return None
        if not await self.repo.opened(rental_id, topic.message_thread_id):
            return None  # opened already by another tap: this one stays empty
        return topic.message_thread_id

    async def close_ended(self, bot: Bot) -> int:
        """Topics of numbers that ended are closed; one a person deleted or closed is just marked. Errors are
        logged: a refusal marks the topic closed (nothing more to do), no answer leaves it for the next round."""
        done = 0
        for rental in await self.repo.to_close():
            if rental.topic_state == "open" and rental.topic_id is not None:
                try:
                    await bot.close_forum_topic(rental.chat_id, rental.topic_id)
                except (TelegramBadRequest, TelegramForbiddenError) as err:
                    log.info("closing the topic of rental %d refused: %s", rental.id, err.message)
                except TelegramAPIError as err:
                    log.warning("closing the topic of rental %d failed for now: %s", rental.id, err)
                    continue
            if await self.repo.closed(rental.id):
                done += 1
        return done
