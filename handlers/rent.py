"""Rent flow: service -> offers of every provider -> confirm -> number card. At most four taps from /start."""
from __future__ import annotations

import math

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.services.catalogue import Catalogue, service_key
from bot.services.errors import StaleButton
from bot.services.pricing import format_money
from bot.services.rentals import RentalService, RentRequest
from providers import BillingType, Provider
from bot.screens import Screens
from storage import Chat, FavouriteRepo, SmsRepo
from storage.favourites import MAX_PER_CHAT as MAX_FAVOURITES

from . import keyboards, views
from .callbacks import FavouriteCb, OfferCb, RentCb, ServiceCb, ServicesCb
from .common import show, user_name
from .i18n import Texts
from .numbers import show_card
from .permissions import AdminCache, ensure_can_spend

QUERY_MAX = 20


async def services_screen(event: Message | CallbackQuery, chat: Chat, t: Texts, catalogue: Catalogue,
                          favourites: FavouriteRepo, page: int, query: str = "") -> None:
    query = query.strip()[:QUERY_MAX]
    found = await catalogue.services(query)
    starred = await favourites.keys(chat.id)
    found.sort(key=lambda s: s.key not in starred)  # stable: the catalogue's order within each part
    if not found:
        text = t("services-none", query=query) if query else t("services-unavailable")
        await show(event, text, keyboards.back_home(t))
        return
    per = keyboards.SERVICES_PER_PAGE
    pages = math.ceil(len(found) / per)
    page = min(max(page, 0), pages - 1)
    items = [(s.key, ("★ " if s.key in starred else "") + s.name) for s in found[page * per:(page + 1) * per]]
    title = (t("services-search", query=query, page=page + 1, pages=pages) if query
             else t("services-title", page=page + 1, pages=pages))
    await show(event, title, keyboards.services(t, items, page, pages, query))


async def rent_command(message: Message, command: CommandObject, chat: Chat, t: Texts, catalogue: Catalogue,
                       favourites: FavouriteRepo) -> None:
    await services_screen(message, chat, t, catalogue, favourites, 0, command.args or "")


async def search_text(message: Message, chat: Chat, t: Texts, catalogue: Catalogue, favourites: FavouriteRepo) -> None:
    await services_screen(message, chat, t, catalogue, favourites, 0, message.text or "")


async def services_page(callback: CallbackQuery, callback_data: ServicesCb, chat: Chat, t: Texts,
                        catalogue: Catalogue, favourites: FavouriteRepo) -> None:
    await services_screen(callback, chat, t, catalogue, favourites, callback_data.page, callback_data.q)


async def offers_screen(callback: CallbackQuery, callback_data: ServiceCb, chat: Chat, t: Texts,
                        catalogue: Catalogue, rentals: RentalService, providers: dict[str, Provider],
                        favourites: FavouriteRepo) -> None:
    service = await catalogue.service(callback_data.key)
    if service is None:
        await show(callback, t("error-stale"), keyboards.back_home(t))
        return
    offers, failed = await catalogue.offers(service)
    shown = offers[:keyboards.OFFERS_SHOWN]
    note = "\n" + t("offers-some-failed", providers=", ".join(failed)) if failed else ""
    if not shown:
        text = (t("error-provider-down") if failed and not offers else t("offers-none", service=service.name))
        await show(callback, text + note, keyboards.services(t, [], 0, 1))
        return
    snapshot = await rentals.snapshot(chat.id, service.key, service.name, [p.offer for p in shown])
    labels = [views.offer_label(t, p, providers[p.offer.provider].title) for p in shown]
    starred = service.key in await favourites.keys(chat.id)
    await show(callback, t("offers-title", service=service.name) + note,
               keyboards.offers(t, snapshot, labels, service.key, starred))


async def toggle_favourite(callback: CallbackQuery, callback_data: FavouriteCb, callback_answer: CallbackAnswer,
                           chat: Chat, t: Texts, catalogue: Catalogue, rentals: RentalService,
                           providers: dict[str, Provider], favourites: FavouriteRepo) -> None:
    """Not a spend: any member may star; only services the catalogue knows are stored."""
    service = await catalogue.service(callback_data.key)
    if service is None:
        raise StaleButton()
    starred = await favourites.toggle(chat.id, service.key)
    callback_answer.text = t({True: "fav-added", False: "fav-removed", None: "fav-full"}[starred],
                             service=service.name, limit=MAX_FAVOURITES)
    await offers_screen(callback, ServiceCb(key=service.key), chat, t, catalogue, rentals, providers, favourites)


async def confirm_screen(callback: CallbackQuery, callback_data: OfferCb, chat: Chat, t: Texts,
                         rentals: RentalService, providers: dict[str, Provider]) -> None:
    offer, price = await rentals.offer_in_snapshot(chat.id, callback_data.snap, callback_data.i)
    key = service_key(offer.service_name)
    if chat.balance < price:
        text = t("confirm-short", service=offer.service_name, price=format_money(price),
                 balance=format_money(chat.balance), missing=format_money(price - chat.balance))
        await show(callback, text, keyboards.short_of_money(t, key))
        return
    provider = providers.get(offer.provider)
    text = t("confirm-title", service=offer.service_name, provider=provider.title if provider else offer.provider,
             duration=views.duration_text(t, offer.billing, offer.duration_label, offer.duration_minutes),
             country=views.country_text(t, offer.country), price=format_money(price),
             after=format_money(chat.balance - price))
    # The refund rule, said before paying: an activation without a code is refunded by itself.
    text += "\n\n" + t("rule-no-code" if offer.billing == BillingType.SMS else "rule-duration")
    await show(callback, text, keyboards.confirm(t, callback_data.snap, callback_data.i, key,
                                                 format_money(price)))


async def rent_number(callback: CallbackQuery, callback_data: RentCb, bot: Bot, chat: Chat, t: Texts,
                      rentals: RentalService, admins: AdminCache, sms_repo: SmsRepo,
                      providers: dict[str, Provider], screens: Screens) -> None:
    await ensure_can_spend(bot, admins, chat, callback.from_user.id)
    request = RentRequest(chat.id, callback.from_user.id, user_name(callback.from_user), callback_data.snap,
                          callback_data.i, callback_data.n)
    rental = await rentals.rent(request)
    if rental.status == "pending":
        await show(callback, t("rent-pending"), keyboards.to_card(t, rental.id))
        return
    await show_card(callback, chat, t, rental.id, rentals, sms_repo, providers, screens)


def setup() -> Router:
    router = Router(name="rent")
    router.message.register(rent_command, Command("rent"))
    router.callback_query.register(services_page, ServicesCb.filter())
    router.callback_query.register(offers_screen, ServiceCb.filter())
    router.callback_query.register(toggle_favourite, FavouriteCb.filter())
    router.callback_query.register(confirm_screen, OfferCb.filter())
    router.callback_query.register(rent_number, RentCb.filter())
    # Typing a name searches services (private chats only: in groups the bot sees commands, not chatter).
    router.message.register(search_text, F.chat.type == "private", F.text, ~F.text.startswith("/"))
    return router
