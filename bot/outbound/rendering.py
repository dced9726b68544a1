"""What the push path and the jobs need to show something: interfaces here, implemented in handlers/.

bot/ imports handlers/ only in its wiring module (bot/app.py), which hands these in."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup

from bot.services.number_card import NumberCard, SetCard
from providers import Capability
from storage import Chat, RentalRecord, StoredSms
from storage.broadcasts import Broadcast, Counts


class Renderer(Protocol):
    def code_message(self, chat: Chat, sms: StoredSms, rental: RentalRecord,
                     actions: set[Capability]) -> tuple[str, InlineKeyboardMarkup]:
        """A pushed SMS: its text and buttons, in the chat's language and time zone."""

    def forwarded_code(self, target: Chat | None, source: Chat | None, sms: StoredSms,
                       rental: RentalRecord) -> tuple[str, InlineKeyboardMarkup | None]:
        """An SMS forwarded from ``source`` into ``target``: the code's own layout and copy button, the target's
        language and spoiler rule (None: a chat the bot has no settings for, read in the source's language), and
        where it came from."""

    def notice(self, language: str, key: str, **params) -> str:
        """A notice to a chat (expired, renewed, refunded, ...) in its language."""

    def notice_markup(self, language: str, key: str) -> InlineKeyboardMarkup | None:
        """The way on from a money notice (a top-up received: renting, the balance); None for the others."""

    def time_left(self, language: str, until: datetime, now: datetime) -> str: ...

    def alert_fired(self, chat: Chat, fired) -> tuple[str, InlineKeyboardMarkup]:
        """The message of a fired alert (bot/services/alerts.py Fired) with its Rent button."""

    def chain_card(self, chat: Chat, view) -> tuple[str, InlineKeyboardMarkup]:
        """A fallback chain's card (bot/services/fallback_chain.py ChainView), to edit it in place."""

    def spend_request(self, chat: Chat, found) -> str:
        """A member's request to spend (storage/teams.py SpendRequest) as posted, with what became of it."""

    def card(self, chat: Chat, card: NumberCard | SetCard) -> tuple[str, InlineKeyboardMarkup]:
        """A number's card from its facts (bot/services/number_card.py), to refresh one already shown."""

    def broadcast_message(self, broadcast: Broadcast) -> InlineKeyboardMarkup | None:
        """The URL button under a broadcast's message (its text is the operator's, sent as written)."""

    def broadcast_progress(self, broadcast: Broadcast, counts: Counts) -> tuple[str, InlineKeyboardMarkup | None]:
        """The one progress message in the operator's chat: sent, failed, blocked, and Cancel while it runs."""


class TopicCards(Protocol):
    async def open_with_card(self, bot: Bot, chat: Chat, rental: RentalRecord) -> None:
        """In a forum group with a topic per number: the number's topic opened and its card posted there (best
        effort: without one, the card stays in the main chat)."""
