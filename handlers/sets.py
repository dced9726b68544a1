"""One number for several services: from a plan list, pick the services (the combined price shown as they are
picked), confirm, rent once. The card lists them; each code is pushed with its service's name."""
from __future__ import annotations

import math

from aiogram import Bot, Router
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer

from bot.outbound.screens import Screens
from bot.outbound.topics import NumberTopics
from bot.services.catalogue import service_key
from bot.services.errors import AlreadyRequested, SetRefused, StaleButton
from bot.services.pricing import format_money
from bot.services.rentals import RentalService
from bot.services.service_sets import SET_MAX, ServiceSets, SetQuote, picked
from providers import Provider
from storage import Chat, SmsRepo

from . import keyboards, views
from .callbacks import SetOkCb, SetPickCb, SetRentCb, SetStartCb
from .common import render_error, show, user_name
from .i18n import Texts
from .numbers import show_card, show_earlier
from .permissions import AdminCache, ensure_can_spend
from .topics import card_in_topic


async def start(callback: CallbackQuery, callback_data: SetStartCb, callback_answer: CallbackAnswer, chat: Chat,
                t: Texts, sets: ServiceSets) -> None:
    snapshot = await sets.start(chat.id, callback_data.snap, callback_data.i)
    await picker(callback, callback_answer, chat, t, sets, snapshot, 1, 0)


async def pick(callback: CallbackQuery, callback_data: SetPickCb, callback_answer: CallbackAnswer, chat: Chat,
               t: Texts, sets: ServiceSets) -> None:
    await picker(callback, callback_answer, chat, t, sets, callback_data.snap, callback_data.m, callback_data.p)


def _refused_note(t: Texts, quote: SetQuote) -> str:
    if quote.refused is None:
        return ""
    until, reason = quote.refused
    return "\n\n" + t("set-refused-note", provider=quote.provider.title, services=quote.names,
                      reason=reason, when=views.when(t, until), zone=views.zone_of(t, until))


async def picker(callback: CallbackQuery, callback_answer: CallbackAnswer, chat: Chat, t: Texts, sets: ServiceSets,
                 snapshot: int, mask: int, page: int) -> None:
    offered = await sets.candidates(chat.id, snapshot)
    chosen = picked(mask, len(offered))
    if len(chosen) > SET_MAX:  # one more than allowed was tapped: said, and the set stays as it was
        callback_answer.text = t("set-full", max=SET_MAX)
        return
    quote = await sets.quote(chat.id, snapshot, mask)
    base = quote.offers[0]
    per = keyboards.SET_PICKS_PER_PAGE
    others = list(range(1, len(offered)))
    pages = max(1, math.ceil(len(others) / per))
    page = min(max(page, 0), pages - 1)
    items = [(i, t("set-pick", service=offered[i].offer.service_name, price=format_money(offered[i].price)))
             for i in others[page * per:(page + 1) * per]]
    text = t("set-title", service=base.service_name, provider=quote.provider.title, max=SET_MAX)
    text += "\n\n" + (t("set-picked", services=quote.names, price=format_money(quote.total)) if len(chosen) > 1
                      else t("set-pick-more", service=base.service_name, price=format_money(quote.prices[0])))
    text += _refused_note(t, quote)
    total = format_money(quote.total) if len(chosen) > 1 and quote.refused is None else None
    await show(callback, text, keyboards.set_picker(t, snapshot, mask, items, page, pages,
                                                    service_key(base.service_name), total))


async def confirm(callback: CallbackQuery, callback_data: SetOkCb, chat: Chat, t: Texts, sets: ServiceSets) -> None:
    quote = await sets.quote(chat.id, callback_data.snap, callback_data.m)
    if len(quote.offers) < 2:
        raise StaleButton()
    price = format_money(quote.total)
    if chat.balance < quote.total:
        text = t("confirm-short", service=quote.names, price=price, balance=format_money(chat.balance),
                 missing=format_money(quote.total - chat.balance))
        await show(callback, text, keyboards.short_of_money(t, service_key(quote.offers[0].service_name)))
        return
    lines = "\n".join(t("set-confirm-line", service=o.service_name, price=format_money(p))
                      for o, p in zip(quote.offers, quote.prices, strict=True))
    text = t("set-confirm", services=quote.names, provider=quote.provider.title,
             country=views.country_text(t, quote.offers[0].country), lines=lines, price=price,
             after=format_money(chat.balance - quote.total))
    text += "\n\n" + t("set-rule") + _refused_note(t, quote)
    await show(callback, text, keyboards.set_confirm(t, callback_data.snap, callback_data.m, price,
                                                     service_key(quote.offers[0].service_name),
                                                     refused=quote.refused is not None))


async def rent(callback: CallbackQuery, callback_data: SetRentCb, callback_answer: CallbackAnswer, bot: Bot,
               chat: Chat, t: Texts,
               sets: ServiceSets, rentals: RentalService, admins: AdminCache, sms_repo: SmsRepo,
               providers: dict[str, Provider], screens: Screens, number_topics: NumberTopics) -> None:
    await ensure_can_spend(bot, admins, chat, callback.from_user.id)
    try:
        members = await sets.rent(chat.id, callback.from_user.id, user_name(callback.from_user), callback_data.snap,
                                  callback_data.m, callback_data.n)
    except AlreadyRequested as pressed:
        await show_earlier(callback, chat, t, rentals, pressed)
        return
    except SetRefused as refused:
        # Back on the confirm screen, which now says until when and has no Rent button.
        callback_answer.text, callback_answer.show_alert = render_error(t, refused)[:200], True
        await confirm(callback, SetOkCb(snap=callback_data.snap, m=callback_data.m), chat, t, sets)
        return
    if all(m.status == "pending" for m in members):
        await show(callback, t("rent-pending"), keyboards.to_card(t, members[0].id))
        return
    failed = [m.service_name for m in members if m.status == "failed"]
    if failed:
        callback_answer.text = t("set-partly", services=", ".join(failed))[:200]
        callback_answer.show_alert = True
    if await card_in_topic(callback, bot, chat, t, members[0], rentals, sms_repo, providers, screens, number_topics):
        return  # a forum group with a topic per number: the set's card is in the number's topic
    await show_card(callback, chat, t, members[0].id, rentals, sms_repo, providers, screens)


def setup() -> Router:
    router = Router(name="sets")
    router.callback_query.register(start, SetStartCb.filter())
    router.callback_query.register(pick, SetPickCb.filter())
    router.callback_query.register(confirm, SetOkCb.filter())
    router.callback_query.register(rent, SetRentCb.filter(), flags={"spends": True})
    return router
