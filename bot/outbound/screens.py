"""Which bot message is on top of each chat, so that a code arriving under a number's card can refresh that
card (no stale "No codes yet" above the code).

A session middleware notes every message the bot sends; the card screen notes which message shows which
rental's card; an edit that puts anything else in that message (a question asked over the card, a list)
forgets it, so a code arriving never turns a pending question back into the card. Both tables are bounded
(least recently touched chats go first); a restart forgets them, and then a card is simply not refreshed."""
from __future__ import annotations

from collections import OrderedDict

from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.methods import EditMessageText
from aiogram.types import Message

MAX_CHATS = 4096


class _Bounded(OrderedDict):
    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > MAX_CHATS:
            self.popitem(last=False)


class Screens:
    def __init__(self) -> None:
        self._latest: _Bounded = _Bounded()  # chat -> id of the newest message the bot sent there
        self._cards: _Bounded = _Bounded()  # chat -> (message id, rental id) of the card shown last

    def sent(self, chat_id: int, message_id: int) -> None:
        self._latest.put(chat_id, message_id)

    def card_shown(self, chat_id: int, message_id: int, rental_id: int) -> None:
        self._cards.put(chat_id, (message_id, rental_id))

    def edited(self, chat_id: int, message_id: int) -> None:
        """That message now shows whatever the edit put there: no longer a card until noted as one again."""
        card = self._cards.get(chat_id)
        if card is not None and card[0] == message_id:
            del self._cards[chat_id]

    def card_on_top(self, chat_id: int, rental_id: int) -> int | None:
        """The message id of this rental's card when it is the newest bot message in the chat."""
        card = self._cards.get(chat_id)
        if card is None or card[1] != rental_id or self._latest.get(chat_id) != card[0]:
            return None
        return card[0]

    def card_shown_last(self, chat_id: int, rental_id: int) -> int | None:
        """The message id of this rental's card when it is the card the chat was shown last (other messages may
        have come under it): a code deleted from the chat leaves that card too (bot/outbound/hiding.py)."""
        card = self._cards.get(chat_id)
        return card[0] if card is not None and card[1] == rental_id else None

    def middleware(self) -> BaseRequestMiddleware:
        return _NoteSent(self)


class _NoteSent(BaseRequestMiddleware):
    def __init__(self, screens: Screens) -> None:
        self.screens = screens

    async def __call__(self, make_request, bot, method):
        result = await make_request(bot, method)
        # send* methods put a new message at the bottom; edits change one in place and leave the order alone
        if isinstance(result, Message) and type(method).__name__.startswith("Send"):
            self.screens.sent(result.chat.id, result.message_id)
        elif isinstance(method, EditMessageText) and result and method.chat_id is not None:
            self.screens.edited(method.chat_id, method.message_id)  # a card edited stays one: noted again after
        return result
