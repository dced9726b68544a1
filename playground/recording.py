"""A recording Telegram session: every Bot API call is kept and answered the way Telegram would,
so the production Dispatcher can be driven with dp.feed_update() and asserted on what users see."""
from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageText,
    GetChat,
    GetChatMember,
    GetMe,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    CallbackQuery,
    Chat,
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatShared,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    PhotoSize,
    Update,
    User,
)

BOT_USER = User(id=42, is_bot=True, first_name="RentBot", username="rent_test_bot")


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod] = []
        self.messages: dict[int, dict[int, Message]] = {}  # chat -> message id -> current message
        self.admins: set[tuple[int, int]] = set()
        self.owners: set[tuple[int, int]] = set()
        self.left: set[tuple[int, int]] = set()  # (chat, user) no longer in the chat
        self.flood: list[int] = []  # retry_after values to raise on the next sendMessage calls
        self.blocked: set[int] = set()  # chats that blocked or removed the bot
        self.failures: list[tuple[type, Exception]] = []  # (method type, error): raised by the next such call
        self.unknown_chats: set[int] = set()  # getChat: "chat not found" (the bot is not there)
        self._ids = itertools.count(1000)

    async def close(self) -> None:
        pass

    async def stream_content(self, *args, **kwargs) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError
        yield b""

    async def make_request(self, bot: Bot, method: TelegramMethod, timeout: int | None = None) -> Any:
        self.calls.append(method)
        for i, (kind, error) in enumerate(self.failures):
            if isinstance(method, kind):
                del self.failures[i]
                raise error
        if isinstance(method, SendMessage):
            if method.chat_id in self.blocked:
                raise TelegramForbiddenError(method=method, message="Forbidden: bot was blocked by the user")
            if self.flood:
                raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=self.flood.pop(0))
            # A message keeps only an inline keyboard (a ForceReply is seen in ``calls``).
            markup = method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
            return self._store(method.chat_id, next(self._ids), method.text, markup)
        if isinstance(method, SendPhoto):  # a photo by file id (a broadcast's): kept with its caption
            if method.chat_id in self.blocked:
                raise TelegramForbiddenError(method=method, message="Forbidden: bot was blocked by the user")
            if self.flood:
                raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=self.flood.pop(0))
            markup = method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
            return self._store(method.chat_id, next(self._ids), None, markup, caption=method.caption,
                               photo=str(method.photo))
        if isinstance(method, EditMessageText):
            current = self.messages.get(method.chat_id, {}).get(method.message_id)
            if current is None:
                raise TelegramBadRequest(method=method, message="Bad Request: message to edit not found")
            if current.text == method.text and current.reply_markup == method.reply_markup:
                raise TelegramBadRequest(method=method, message="Bad Request: message is not modified")
            return self._store(method.chat_id, method.message_id, method.text, method.reply_markup)
        if isinstance(method, DeleteMessage):  # the bot's own message; gone from what users see
            if self.messages.get(method.chat_id, {}).pop(method.message_id, None) is None:
                raise TelegramBadRequest(method=method, message="Bad Request: message to delete not found")
            return True
        if isinstance(method, GetChatMember):
            user = User(id=method.user_id, is_bot=False, first_name=f"user{method.user_id}")
            key = (method.chat_id, method.user_id)
            if key in self.owners:
                return ChatMemberOwner(user=user, is_anonymous=False)
            if key in self.left:
                return ChatMemberLeft(user=user)
            if key in self.admins:
                # model_construct: the permission flags grow with each Bot API version; only the status matters here
                return ChatMemberAdministrator.model_construct(user=user, status="administrator")
            return ChatMemberMember(user=user)
        if isinstance(method, GetChat):
            if method.chat_id in self.unknown_chats or method.chat_id in self.blocked:
                raise TelegramBadRequest(method=method, message="Bad Request: chat not found")
            kind = "private" if int(method.chat_id) > 0 else "supergroup"
            return ChatFullInfo.model_construct(id=method.chat_id, type=kind, title=None if kind == "private" else "G")
        if isinstance(method, GetMe):
            return BOT_USER
        if isinstance(method, GetChat):  # no group here is a forum (tests/test_topics.py uses the emulator)
            kind = "private" if int(method.chat_id) > 0 else "supergroup"
            return ChatFullInfo.model_construct(id=method.chat_id, type=kind, is_forum=None)
        return True

    def _store(self, chat_id: int, message_id: int, text: str | None, markup: InlineKeyboardMarkup | None, *,
               caption: str | None = None, photo: str | None = None) -> Message:
        chat = Chat(id=chat_id, type="private" if chat_id > 0 else "supergroup", title=None if chat_id > 0 else "G")
        photos = [PhotoSize(file_id=photo, file_unique_id=photo, width=800, height=600)] if photo else None
        message = Message(message_id=message_id, date=datetime.now(UTC), chat=chat, from_user=BOT_USER,
                          text=text, caption=caption, photo=photos, reply_markup=markup)
        self.messages.setdefault(chat_id, {})[message_id] = message
        return message

    # -- reading what users see ---------------------------------------------------------

    def sent(self, chat_id: int) -> list[SendMessage]:
        return [c for c in self.calls if isinstance(c, SendMessage) and c.chat_id == chat_id]

    def last(self, chat_id: int) -> Message:
        return max(self.messages[chat_id].values(), key=lambda m: m.message_id)

    def fail_next(self, kind: type, error: Exception) -> None:
        """The next call of this method type raises ``error`` (after being recorded)."""
        self.failures.append((kind, error))

    def calls_of(self, kind: type) -> list[TelegramMethod]:
        return [c for c in self.calls if isinstance(c, kind)]

    def callback_answers(self) -> list[AnswerCallbackQuery]:
        return [c for c in self.calls if isinstance(c, AnswerCallbackQuery)]


def next_update_id() -> int:
    """A fresh update id: the bot handles each update_id once (bot/web/once.py), so a hand-made update needs its own."""
    return next(Person._update_ids)


class Person:
    """A Telegram user acting in one chat against the production Dispatcher."""

    _update_ids = itertools.count(1)

    def __init__(self, dp: Dispatcher, bot: Bot, session: RecordingSession, user_id: int, *,
                 chat_id: int | None = None, name: str = "Alice", language: str = "en") -> None:
        self.dp, self.bot, self.session = dp, bot, session
        self.user = User(id=user_id, is_bot=False, first_name=name, language_code=language, username=name.lower())
        self.chat_id = chat_id if chat_id is not None else user_id
        self.chat = (Chat(id=self.chat_id, type="private", first_name=name) if self.chat_id > 0
                     else Chat(id=self.chat_id, type="supergroup", title="Team"))

    async def send(self, text: str, *, reply_to: Message | None = None,
                   entities: list[MessageEntity] | None = None) -> None:
        """A typed message; ``entities``: its formatting (bold, links...), as the user's app marks it."""
        entities = list(entities or [])
        if text.startswith("/"):
            entities.insert(0, MessageEntity(type="bot_command", offset=0, length=len(text.split()[0])))
        entities = entities or None
        message = Message(message_id=next(self._update_ids), date=datetime.now(UTC), chat=self.chat,
                          from_user=self.user, text=text, entities=entities, reply_to_message=reply_to)
        await self.dp.feed_update(self.bot, Update(update_id=next(self._update_ids), message=message))

    async def share_chat(self, request_id: int, chat_id: int, title: str | None = None) -> None:
        """A chat picked with a reply keyboard's request_chat button: the message Telegram sends the bot."""
        message = Message(message_id=next(self._update_ids), date=datetime.now(UTC), chat=self.chat,
                          from_user=self.user, chat_shared=ChatShared(request_id=request_id, chat_id=chat_id,
                                                                      title=title))
        await self.dp.feed_update(self.bot, Update(update_id=next(self._update_ids), message=message))

    async def send_photo(self, file_id: str, caption: str = "", *, reply_to: Message | None = None) -> None:
        """A photo (by file id, as Telegram gives it to the bot) with a caption; a caption starting with /command
        is a command, as Telegram marks it."""
        entities = None
        if caption.startswith("/"):
            entities = [MessageEntity(type="bot_command", offset=0, length=len(caption.split()[0]))]
        message = Message(message_id=next(self._update_ids), date=datetime.now(UTC), chat=self.chat,
                          from_user=self.user, caption=caption or None, caption_entities=entities,
                          photo=[PhotoSize(file_id=file_id, file_unique_id=file_id, width=1280, height=960)],
                          reply_to_message=reply_to)
        await self.dp.feed_update(self.bot, Update(update_id=next(self._update_ids), message=message))

    def screen(self) -> Message:
        return self.session.last(self.chat_id)

    def buttons(self, message: Message | None = None) -> list[str]:
        message = message or self.screen()
        markup = message.reply_markup
        return [b.text for row in markup.inline_keyboard for b in row] if markup else []

    def data_of(self, label: str, message: Message | None = None) -> str:
        message = message or self.screen()
        for row in (message.reply_markup.inline_keyboard if message.reply_markup else []):
            for button in row:
                if label in button.text:
                    return button.callback_data
        raise AssertionError(f"no button {label!r} in {self.buttons(message)}")

    async def press(self, label: str, message: Message | None = None) -> AnswerCallbackQuery | None:
        message = message or self.screen()
        return await self.press_data(self.data_of(label, message), message)

    async def press_data(self, data: str, message: Message | None = None) -> AnswerCallbackQuery | None:
        message = message or self.screen()
        query_id = str(next(self._update_ids))
        query = CallbackQuery(id=query_id, from_user=self.user, chat_instance="ci", message=message, data=data)
        await self.dp.feed_update(self.bot, Update(update_id=next(self._update_ids), callback_query=query))
        answers = [a for a in self.session.callback_answers() if a.callback_query_id == query_id]
        assert len(answers) == 1, f"callback {data!r} answered {len(answers)} times"
        return answers[0]
