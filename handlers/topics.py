"""A topic per number in forum groups: the rented number's card posted in its own topic (the screen that rented
it points there), and the settings lines that say whether the group can have them (bot/outbound/topics.py does the
rest)."""
from __future__ import annotations

import html
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery

from bot.outbound.screens import Screens
from bot.outbound.topics import NumberTopics, TopicsCheck, topic_name
from bot.services.number_card import NumberCards
from storage import Chat, RentalRecord

from . import keyboards, phones, views
from .common import show
from .context import Ctx
from .i18n import Html, Texts

log = logging.getLogger(__name__)

CHECK_KEYS = {TopicsCheck.NOT_FORUM: "settings-topics-not-forum", TopicsCheck.NO_RIGHT: "settings-topics-no-right",
              TopicsCheck.UNKNOWN: "settings-topics-unknown"}


def topic_url(chat_id: int, thread_id: int) -> str | None:
    """t.me/c/<id>/<topic> for a supergroup (its Bot API id is -100<id>); None when the id has no such form."""
    internal = -chat_id - 10**12
    return f"https://t.me/c/{internal}/{thread_id}" if internal > 0 else None


async def settings_lines(t: Texts, bot: Bot, chat: Chat, topics: NumberTopics) -> str:
    """The setting, and while it is on and cannot work, why the numbers stay in the main chat."""
    if not chat.is_group:
        return ""
    if not chat.topic_per_number:
        return t("settings-topics-off")
    check = await topics.check(bot, chat.id)
    return t("settings-topics-on") + ("\n" + t(CHECK_KEYS[check]) if check in CHECK_KEYS else "")


async def open_with_card(ctx: Ctx, rental: RentalRecord) -> tuple[int, str] | None:
    """The number's topic opened and its card posted there: (thread id, topic name); None: no topic (off, not a
    forum, no right, Telegram trouble), the card belongs in the main chat."""
    services = ctx.services
    return await _open_with_card(ctx.bot, ctx.chat, rental, services.number_cards, services.screens,
                                 services.number_topics)


async def _open_with_card(bot: Bot, chat: Chat, rental: RentalRecord, cards: NumberCards, screens: Screens,
                          topics: NumberTopics) -> tuple[int, str] | None:
    if not (chat.is_group and chat.topic_per_number):
        return None
    rentals = cards.rentals
    card = await rentals.owned(chat.id, rental.card_id)
    services = (await rentals.rentals.set_names([card.set_id])).get(card.set_id) if card.set_id else None
    name = topic_name(" + ".join(services) if services else card.service_name, phones.display(card.phone or ""))
    thread = await topics.open(bot, chat, card.id, name)
    if thread is None:
        return None
    card = await rentals.owned(chat.id, card.id)  # read again: it now has its topic, where its codes come
    text, markup = views.number_card(chat, Texts(chat.language, chat.time_zone), await cards.of(card, chat.is_group))
    try:
        sent = await bot.send_message(chat.id, text, reply_markup=markup, message_thread_id=thread)
    except TelegramAPIError as err:  # the topic stays the number's: its codes go there; the card shows here
        log.warning("posting the card of rental %d in its topic failed: %s", card.id, err)
        return None
    screens.card_shown(chat.id, sent.message_id, card.card_id)
    return thread, name


class ChatTopicCards:
    """The jobs' way to a number's topic (bot.outbound.rendering.TopicCards): a number the reconciler confirmed gets
    its topic and card as the Rent tap would have given them."""

    def __init__(self, cards: NumberCards, screens: Screens, topics: NumberTopics) -> None:
        self.cards, self.screens, self.topics = cards, screens, topics

    async def open_with_card(self, bot: Bot, chat: Chat, rental: RentalRecord) -> None:
        await _open_with_card(bot, chat, rental, self.cards, self.screens, self.topics)


async def card_in_topic(callback: CallbackQuery, ctx: Ctx, rental: RentalRecord) -> bool:
    """A number rented in a group with a topic per number: its card in its topic, and the screen that rented it
    says so. False: no topic; the caller shows the card here."""
    opened = await open_with_card(ctx, rental)
    if opened is None:
        return False
    thread, name = opened
    url = topic_url(ctx.chat.id, thread)
    named = f'<a href="{html.escape(url)}">{html.escape(name)}</a>' if url else f"<b>{html.escape(name)}</b>"
    await show(callback, ctx.t("topic-card-there", name=Html(named)), keyboards.topic_link(ctx.t, url))
    return True
