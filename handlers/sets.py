"""One number for several services: from a plan list, pick the services (the combined price shown as they are
picked), confirm, rent once. The card lists them; each code is pushed with its service's name."""
from __future__ import annotations

import math
from functools import partial

from aiogram import Router
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer

from bot.services.catalogue import service_key
from bot.services.errors import SetRefused, StaleButton, UserFacingError
from bot.services.pricing import format_money
from bot.services.service_sets import SET_MAX, ServiceSets, SetQuote, picked
from storage import Chat, RentalRecord

from . import keyboards, views
from .callbacks import SetOkCb, SetPickCb, SetRentCb, SetStartCb
from .common import render_error, show, user_name
from .context import Ctx
from .i18n import Texts
from .permissions import ensure_can_spend
from .rent_outcome import RentPath, present_rent


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


async def rent(callback: CallbackQuery, callback_data: SetRentCb, callback_answer: CallbackAnswer, ctx: Ctx) -> None:
    await ensure_can_spend(ctx.bot, ctx.services.admins, ctx.chat, callback.from_user.id)
    refused = partial(_refused, callback, callback_answer, ctx, callback_data)
    await present_rent(callback, ctx, _rent_set(callback, callback_answer, ctx, callback_data),
                       RentPath(refusals={SetRefused: refused}))


async def _rent_set(callback: CallbackQuery, callback_answer: CallbackAnswer, ctx: Ctx,
                    data: SetRentCb) -> list[RentalRecord]:
    members = await ctx.services.sets.rent(ctx.chat.id, callback.from_user.id, user_name(callback.from_user),
                                           data.snap, data.m, data.n)
    failed = [m.service_name for m in members if m.status == "failed"]
    if failed:  # said before the card is drawn: an answer the handler chose is not replaced by the early one
        callback_answer.text = ctx.t("set-partly", services=", ".join(failed))[:200]
        callback_answer.show_alert = True
    return members


async def _refused(callback: CallbackQuery, callback_answer: CallbackAnswer, ctx: Ctx, data: SetRentCb,
                   refused: UserFacingError) -> None:
    # Back on the confirm screen, which now says until when and has no Rent button.
    callback_answer.text, callback_answer.show_alert = render_error(ctx.t, refused)[:200], True
    await confirm(callback, SetOkCb(snap=data.snap, m=data.m), ctx.chat, ctx.t, ctx.services.sets)


def setup() -> Router:
    router = Router(name="sets")
    router.callback_query.register(start, SetStartCb.filter())
    router.callback_query.register(pick, SetPickCb.filter())
    router.callback_query.register(confirm, SetOkCb.filter())
    router.callback_query.register(rent, SetRentCb.filter(), flags={"spends": True})
    return router
