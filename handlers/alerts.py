"""Alerts (issue 17): 🔔 under a plan list → back in stock (a sold-out plan) or under $X (the service in the list's
country) → saved; /alerts lists and cancels them; the Rent button of a fired alert rents its offer with the quote
lock. Setting one makes no provider call: the choices come from the list's snapshot."""
from __future__ import annotations

from functools import partial

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.services import localize
from bot.services.alerts import Alerts, AlertsFull, price_steps
from bot.services.catalogue import Catalogue, service_key
from bot.services.errors import NothingAvailable, OfferExpired, StaleButton, UserFacingError
from bot.services.offers import offer_from_dict
from bot.services.pricing import format_money
from bot.services.rentals import SNAPSHOT_MAX_AGE, RentalService, RentRequest
from storage import Chat
from storage.alerts import Alert

from . import keyboards, views
from .callbacks import AlertCancelCb, AlertNewCb, AlertRentCb, AlertsCb, AlertServiceCb, AlertSetCb
from .common import show, user_name
from .context import Ctx
from .i18n import Texts
from .permissions import ensure_can_spend
from .rent_outcome import RentPath, present_rent

BACK_IN_STOCK_SHOWN = 3  # sold-out plans offered on the choice screen


async def _snapshot(rentals: RentalService, chat: Chat, snap: int) -> dict:
    found = await rentals.snapshots.get(snap, chat.id, SNAPSHOT_MAX_AGE)
    if found is None or not found["offers"]:
        raise OfferExpired()
    return found


def _country(offers) -> str:
    """The list's country key: the plans of one list share one ('' when they do not)."""
    keys = {localize.country_key(o.country) for o in offers}
    return keys.pop() if len(keys) == 1 else ""


async def alert_choice(callback: CallbackQuery, callback_data: AlertNewCb, chat: Chat, t: Texts,
                       rentals: RentalService, catalogue: Catalogue, alerts: Alerts) -> None:
    found = await _snapshot(rentals, chat, callback_data.snap)
    offers = [offer_from_dict(d) for d in found["offers"]]
    sold = [(i, views.duration_text(t, o.billing, o.duration_label, o.duration_minutes))
            for i, o in enumerate(offers) if o.stock == 0 or catalogue.is_sold_out(o)][:BACK_IN_STOCK_SHOWN]
    cheapest = min(catalogue.price(o) for o in offers)
    under = [(x, format_money(x)) for x in price_steps(cheapest)]
    text = t("alert-choice", service=found["service_name"], price=format_money(cheapest), hours=alerts.hours)
    if sold:
        text += "\n" + t("alert-choice-back")
    await show(callback, text, keyboards.alert_choice(t, callback_data.snap, found["service_key"], sold, under))


async def _save(callback: CallbackQuery, chat: Chat, t: Texts, alerts: Alerts, key: str, service_name: str,
                country: str, kind: str, **fields) -> None:
    """Saves an alert of the service ``key`` and shows it, or that the chat has as many as it may."""
    try:
        made = await alerts.create(chat.id, key, service_name, country, kind, **fields)
    except AlertsFull:
        await show(callback, t("alerts-full", limit=alerts.per_chat), keyboards.alert_saved(t, key))
        return
    text = t("alert-saved", alert=views.alert_label(t, made), left=views.time_left(t, made.expires_at))
    await show(callback, text, keyboards.alert_saved(t, key))


async def alert_set(callback: CallbackQuery, callback_data: AlertSetCb, chat: Chat, t: Texts,
                    rentals: RentalService, alerts: Alerts) -> None:
    found = await _snapshot(rentals, chat, callback_data.snap)
    offers = [offer_from_dict(d) for d in found["offers"]]
    key, name = found["service_key"], found["service_name"]
    if callback_data.x:
        await _save(callback, chat, t, alerts, key, name, _country(offers), "price", below=callback_data.x)
        return
    if not callback_data.i < len(offers):
        raise StaleButton()
    o = offers[callback_data.i]
    await _save(callback, chat, t, alerts, key, name, localize.country_key(o.country), "stock", provider=o.provider,
                offer_id=o.id, plan=views.duration_text(t, o.billing, o.duration_label, o.duration_minutes))


async def alert_service(callback: CallbackQuery, callback_data: AlertServiceCb, chat: Chat, t: Texts,
                        catalogue: Catalogue, alerts: Alerts) -> None:
    """A service with no plans: a stock alert on the service itself, fired by the first plan of it in stock."""
    service = await catalogue.service(callback_data.key)
    if service is None:
        raise StaleButton()
    await _save(callback, chat, t, alerts, service.key, service.name, "", "stock")


async def alerts_view(chat: Chat, t: Texts, alerts: Alerts, notice: str = ""):
    found = await alerts.repo.open_of(chat.id)
    head = notice + "\n\n" if notice else ""
    if not found:
        return head + t("alerts-none"), keyboards.alerts(t, [])
    lines = [t("alert-line", alert=views.alert_label(t, a), left=views.time_left(t, a.expires_at)) for a in found]
    text = head + t("alerts-title", count=len(found), limit=alerts.per_chat) + "\n" + "\n".join(lines)
    return text, keyboards.alerts(t, [(a.id, views.alert_label(t, a)) for a in found])


async def alerts_command(message: Message, chat: Chat, t: Texts, alerts: Alerts) -> None:
    await show(message, *await alerts_view(chat, t, alerts))


async def alerts_screen(callback: CallbackQuery, chat: Chat, t: Texts, alerts: Alerts) -> None:
    await show(callback, *await alerts_view(chat, t, alerts))


async def alert_cancel(callback: CallbackQuery, callback_data: AlertCancelCb, callback_answer: CallbackAnswer,
                       chat: Chat, t: Texts, alerts: Alerts) -> None:
    if await alerts.repo.cancel(chat.id, callback_data.a):
        callback_answer.text = t("alert-cancelled")
    await show(callback, *await alerts_view(chat, t, alerts))


async def alert_rent(callback: CallbackQuery, callback_data: AlertRentCb, ctx: Ctx) -> None:
    """The offer the alert found, rented once per alert (its request key), at most at the price the message said:
    RentalService.rent re-reads it (the quote lock); higher by now, the plan's confirm screen at the new price."""
    chat, services = ctx.chat, ctx.services
    alert = await services.alerts.repo.get(callback_data.a)
    if alert is None or alert.chat_id != chat.id or alert.offer is None:
        raise StaleButton()
    budget = await ensure_can_spend(ctx.bot, services.admins, chat, callback.from_user.id, budgeted=True)
    offer = offer_from_dict(alert.offer)
    request = RentRequest.for_offer(chat.id, callback.from_user.id, user_name(callback.from_user), offer,
                                    f"alert:{alert.id}", budget=budget)
    path = RentPath(refusals={NothingAvailable: partial(_offer_gone, callback, ctx, alert)})
    await present_rent(callback, ctx, services.rentals.rent(request), path)


async def _offer_gone(callback: CallbackQuery, ctx: Ctx, alert: Alert, _refusal: UserFacingError) -> None:
    offer = offer_from_dict(alert.offer)
    await ctx.services.catalogue.sold_out(offer)
    await show(callback, ctx.t("alert-gone", service=alert.service_name),
               keyboards.alert_saved(ctx.t, service_key(offer.service_name)))


def setup() -> Router:
    router = Router(name="alerts")
    router.message.register(alerts_command, Command("alerts"))
    router.callback_query.register(alert_choice, AlertNewCb.filter())
    router.callback_query.register(alert_set, AlertSetCb.filter())
    router.callback_query.register(alert_service, AlertServiceCb.filter())
    router.callback_query.register(alerts_screen, AlertsCb.filter())
    router.callback_query.register(alert_cancel, AlertCancelCb.filter())
    router.callback_query.register(alert_rent, AlertRentCb.filter(), flags={"spends": True})
    return router



