"""The renderer the push path and the jobs are given (bot.outbound.rendering.Renderer): views and texts of this
package."""
from __future__ import annotations

from datetime import datetime

from aiogram.types import InlineKeyboardMarkup

from bot.services.number_card import NumberCard, SetCard
from providers import Capability, Provider
from storage import Chat, RentalRecord, StoredSms
from storage.broadcasts import Broadcast, Counts

from . import keyboards, views
from .broadcasts import progress_view
from .i18n import Texts
from .teams import request_text


class ChatRenderer:
    """Formats what the domain decided: it asks no service and reads nothing."""

    def __init__(self, providers: dict[str, Provider]) -> None:
        self.providers = providers  # their titles

    def card(self, chat: Chat, card: NumberCard | SetCard) -> tuple[str, InlineKeyboardMarkup]:
        return views.number_card(chat, Texts(chat.language, chat.time_zone), card)

    def chain_card(self, chat: Chat, view) -> tuple[str, InlineKeyboardMarkup]:
        return views.chain_card(Texts(chat.language, chat.time_zone), view,
                                {n: p.title for n, p in self.providers.items()})

    def spend_request(self, chat: Chat, found) -> str:
        return request_text(Texts(chat.language, chat.time_zone), found)

    def alert_fired(self, chat: Chat, fired) -> tuple[str, InlineKeyboardMarkup]:
        """The one message a fired alert sends, with its Rent button at the price it found."""
        t = Texts(chat.language, chat.time_zone)
        provider = self.providers.get(fired.offer.offer.provider)
        text = views.alert_fired(t, fired.alert, fired.offer,
                                 provider.title if provider else fired.offer.offer.provider)
        return text, keyboards.alert_fired(t, fired.alert.id, views.format_money(fired.offer.price))

    def code_message(self, chat: Chat, sms: StoredSms, rental: RentalRecord,
                     actions: set[Capability]) -> tuple[str, InlineKeyboardMarkup]:
        return views.code_message(Texts(chat.language, chat.time_zone), sms, rental, actions, is_group=chat.is_group,
                                  spoiler=chat.spoils_codes)

    def forwarded_code(self, target: Chat | None, source: Chat | None, sms: StoredSms,
                       rental: RentalRecord) -> tuple[str, InlineKeyboardMarkup | None]:
        read_by = target or source
        t = Texts(read_by.language, read_by.time_zone) if read_by else Texts("en")
        return views.forwarded_code(t, sms, rental, source.title if source else "",
                                    spoiler=bool(target and target.spoils_codes))

    def notice(self, language: str, key: str, **params) -> str:
        return Texts(language)(key, **params)

    def notice_markup(self, language: str, key: str) -> InlineKeyboardMarkup | None:
        return keyboards.after_topup(Texts(language)) if key == "topup-done" else None

    def time_left(self, language: str, until: datetime, now: datetime) -> str:
        return views.time_left(Texts(language), until, now)

    def broadcast_message(self, broadcast: Broadcast) -> InlineKeyboardMarkup | None:
        return keyboards.broadcast_link(broadcast.button_text, broadcast.button_url)

    def broadcast_progress(self, broadcast: Broadcast, counts: Counts) -> tuple[str, InlineKeyboardMarkup | None]:
        return progress_view(Texts(broadcast.language), broadcast, counts)
