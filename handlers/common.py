"""Shared handler plumbing: chat context, turning failures into short answers, in-place screens."""
from __future__ import annotations

import asyncio
import html
import logging
import math
import re
import time
from collections import OrderedDict
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.flags import get_flag
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.types import (
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardMarkup,
    Message,
    PreCheckoutQuery,
    TelegramObject,
)
from aiogram.utils.callback_answer import CallbackAnswerMiddleware

from bot.outbound.pace import paced_by
from bot.services.errors import TextKey, UserFacingError
from bot.services.pricing import format_money
from bot.services.support import support_url
from storage import Chat, ChatRepo, PromptRepo

from . import keyboards
from .context import Ctx
from .i18n import Texts, pick_language

log = logging.getLogger(__name__)

MONEY_PARAMS = ("missing", "price", "balance", "amount", "low", "high", "shown")


class ChatContextMiddleware(BaseMiddleware):
    """Gives every handler ``chat`` (our record of this chat), ``t`` (its texts, in its language and zone) and
    ``ctx``, the two with the person, the bot and the services (handlers/context.py)."""

    def __init__(self, chats: ChatRepo) -> None:
        self.chats = chats

    async def __call__(self, handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_chat = data.get("event_chat")
        user = data.get("event_from_user")
        if tg_chat is None:
            return await handler(event, data)
        if isinstance(event, Message) and event.migrate_to_chat_id:
            # A group became a supergroup: its balance, rentals and history move to the new id.
            await self.chats.migrate(tg_chat.id, event.migrate_to_chat_id)
            return None
        if isinstance(event, Message) and event.migrate_from_chat_id:
            await self.chats.migrate(event.migrate_from_chat_id, tg_chat.id)
        chat = await self.chats.get(tg_chat.id)
        if chat is None or not chat.active:
            title = tg_chat.title or tg_chat.full_name or ""
            chat = await self.chats.ensure(tg_chat.id, tg_chat.type, title, pick_language(user and user.language_code))
        t = Texts(chat.language, chat.time_zone)
        data["chat"], data["t"] = chat, t
        if "services" in data:
            data["ctx"] = Ctx(chat, t, user, data["bot"], data["services"])
        return await handler(event, data)


TAP_PATIENCE = 1.0  # seconds a tap's spinner waits for its handler before it is stopped with an empty answer
BUSY_NOTE_AFTER = 5.0  # a group tap whose screen waits at least this long is told why, in the early answer
GROUP_TYPES = frozenset({"group", "supergroup"})


class TimelyCallbackAnswer(CallbackAnswerMiddleware):
    """aiogram's answer to every tap, given when the handler ends, or after TAP_PATIENCE if it has not: in a busy
    group the handler's screen edit waits its turn under Telegram's limits (bot/outbound/pace.py), and the person's
    spinner must not wait with it. Once answered early, the handler's alert becomes a message (``tell``)."""

    async def __call__(self, handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        answer = data["callback_answer"] = self.construct_callback_answer(get_flag(data, "callback_answer"))
        if not answer.disabled and answer.answered:
            await self.answer(event, answer)
        early = asyncio.get_running_loop().call_later(TAP_PATIENCE, self._answer_early, event, answer, data.get("t"))
        try:
            return await handler(event, data)
        finally:
            early.cancel()
            if not answer.disabled and not answer.answered:
                await self.answer(event, answer)

    def _answer_early(self, event: CallbackQuery, answer, t: Texts | None) -> None:
        if answer.disabled or answer.answered or answer.text:  # an alert the handler chose goes at the end
            return
        answer.disable()  # from here the handler's notices are messages (tell)
        note = None
        chat = event.message.chat if event.message else None
        if t is not None and chat is not None and chat.type in GROUP_TYPES:
            # Said, not left to a silent wait: the group's minute under Telegram's limit holds the screen back.
            pacer = paced_by(event.bot) if event.bot is not None else None
            wait = pacer.expected_wait(chat.id) if pacer is not None else 0.0
            if wait >= BUSY_NOTE_AFTER:
                note = t("tap-group-minute-full", seconds=math.ceil(wait))
        task = asyncio.get_running_loop().create_task(self._stop_spinner(event, note))
        _EARLY.add(task)
        task.add_done_callback(_EARLY.discard)

    @staticmethod
    async def _stop_spinner(event: CallbackQuery, note: str | None) -> None:
        try:
            await event.answer(note)
        except TelegramAPIError as err:  # too old, or the network: the screen still comes
            log.info("an early answer to a tap failed: %s", err)


_EARLY: set[asyncio.Task] = set()  # early answers in flight (a task without a reference may be collected)


# Errors that tell the user to try again later: said with the operator's Support button where one is set.
TRY_LATER = frozenset({"error-provider-down", "error-generic"})
SUPPORT_NOTE_SECONDS = 600.0  # a chat gets the Support button with such an error at most this often
SUPPORT_NOTE_CHATS = 4096


class FeedbackMiddleware(BaseMiddleware):
    """Inner middleware: a UserFacingError becomes a short answer; anything else is logged, answered, survived."""

    def __init__(self) -> None:
        self._noted: OrderedDict[int, float] = OrderedDict()  # chat -> when it was last given the Support button

    async def __call__(self, handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        except UserFacingError as err:
            await self._answer(event, data, err.key, render_error(_texts(data), err))
        except TelegramBadRequest as err:
            if "message is not modified" not in str(err):
                log.warning("telegram refused a call: %s", err)
        except TelegramRetryAfter as err:
            # Only a call outside the paced path gets here (bot/outbound/pace.py waits out every send's flood wait):
            # a flood limit is not the person's error, and an apology now would meet the same limit.
            log.warning("flood limit outside the paced path: %s", err)
        except Exception:
            log.exception("handler failed")
            await self._answer(event, data, "error-generic", _texts(data)("error-generic"))
        return None

    async def _answer(self, event: TelegramObject, data: dict[str, Any], key: str, text: str) -> None:
        url = _support_url(data) if key in TRY_LATER else None
        if url is None or isinstance(event, PreCheckoutQuery):
            await tell(event, data, text)
            return
        t = _texts(data)
        if isinstance(event, Message):
            await event.answer(text, reply_markup=keyboards.with_support(t, url, home=False))
            return
        await tell(event, data, text)  # an alert cannot carry a button: the button follows, once in a while
        chat = data.get("chat")
        if chat is None or not self._due(chat.id):
            return
        try:
            await event.bot.send_message(chat.id, text, reply_markup=keyboards.with_support(t, url, home=False))
        except TelegramAPIError as err:
            log.warning("the Support note was not sent: %s", err)

    def _due(self, chat_id: int) -> bool:
        now = time.monotonic()
        if self._noted.get(chat_id, float("-inf")) + SUPPORT_NOTE_SECONDS > now:
            return False
        self._noted[chat_id] = now
        self._noted.move_to_end(chat_id)
        while len(self._noted) > SUPPORT_NOTE_CHATS:
            self._noted.popitem(last=False)
        return True


def _support_url(data: dict[str, Any]) -> str | None:
    settings = data.get("settings")
    return support_url(settings.support_contact) if settings is not None else None


def _texts(data: dict[str, Any]) -> Texts:
    """The chat's texts; events without a chat (pre-checkout) use the user's language."""
    if "t" in data:
        return data["t"]
    user = data.get("event_from_user")
    return Texts(pick_language(user.language_code if user else None))


def render_error(t: Texts, err: UserFacingError) -> str:
    params = {k: format_money(v) if k in MONEY_PARAMS and isinstance(v, int) else v for k, v in err.params.items()}
    params = {k: t(v) if isinstance(v, TextKey) else v for k, v in params.items()}
    return t(err.key, **params)


async def tell(event: TelegramObject, data: dict[str, Any], text: str) -> None:
    """A short notice: a callback's alert, or a reply to a message."""
    if isinstance(event, CallbackQuery):
        answer = data.get("callback_answer")
        if answer is not None and not answer.answered and not answer.disabled:
            answer.text, answer.show_alert = _plain(text), True
        elif answer is not None and answer.disabled and isinstance(event.message, Message):
            await event.message.answer(text)  # the handler answered the tap already ("working on it")
        else:
            await event.answer(_plain(text), show_alert=True)
    elif isinstance(event, Message):
        await event.answer(text)
    elif isinstance(event, PreCheckoutQuery):
        await event.answer(ok=False, error_message=_plain(text))  # an unanswered query fails the payment late


def _plain(text: str) -> str:
    """Callback alerts are plain text, at most 200 characters."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))[:200]


async def show(event: Message | CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None, *,
               new: bool = False) -> Message | None:
    """Edit the screen in place for a button press (unless ``new``); send a new message for a command."""
    if isinstance(event, CallbackQuery):
        message = event.message
        if new or message is None or isinstance(message, InaccessibleMessage):
            return await event.bot.send_message(event.from_user.id if message is None else message.chat.id,
                                                text, reply_markup=markup)
        try:
            result = await message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as err:
            if "message is not modified" in str(err):
                return message
            raise
        return result if isinstance(result, Message) else message
    return await event.answer(text, reply_markup=markup)


async def prompt_answered(message: Message, chat: Chat, prompts: PromptRepo, kind: str) -> dict | None:
    """The payload of the question of ``kind`` the bot asked this user here, when ``message`` answers it: a text,
    not a command, and in a group a reply to the bot (not the chatter around); None otherwise."""
    if message.from_user is None or not message.text or message.text.startswith("/"):
        return None
    if chat.is_group and (message.reply_to_message is None or message.reply_to_message.from_user is None
                          or not message.reply_to_message.from_user.is_bot):
        return None
    asked = await prompts.pending(chat.id, message.from_user.id)
    return asked[1] if asked is not None and asked[0] == kind else None


def user_name(user) -> str:
    if user is None:
        return ""
    return f"@{user.username}" if user.username else user.full_name
