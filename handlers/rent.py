"""Rent flow: service -> (country) -> (duration group) -> offers of every provider -> confirm -> number card.
Four taps from /start when the service sells in one country or the chat picked its country before."""
from __future__ import annotations

import math
from dataclasses import replace
from functools import partial

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.services import choosing, delivery_record, fallback_chain, localize
from bot.services.catalogue import Catalogue, CatalogueService, service_key
from bot.services.errors import (
    AutoRenewNeedsBalance,
    NoNumberInArea,
    NothingAvailable,
    StaleButton,
    UserFacingError,
)
from bot.services.fallback_chain import FallbackChains
from bot.services.pricing import format_money
from bot.services.rentals import RentalService, RentRequest
from bot.services.teams import PERIOD_KEYS
from providers import Provider
from storage import Chat
from storage.fallback_chain import ChainRecord
from storage.favourites import MAX_PER_CHAT as MAX_FAVOURITES

from . import keyboards, views
from .callbacks import (
    CountriesCb,
    CountryCb,
    FallbackCb,
    FallbackOp,
    FavouriteCb,
    OfferCb,
    RentCb,
    RequestCb,
    ServiceCb,
    ServicesCb,
    WishCb,
)
from .common import show, user_name
from .context import Ctx
from .i18n import Texts
from .permissions import ensure_can_spend, may_spend
from .rent_outcome import RentPath, confirm_view, present_rent, renewal_covered

QUERY_MAX = 20


async def services_screen(event: Message | CallbackQuery, ctx: Ctx, page: int = 0, query: str = "") -> None:
    chat, t, services = ctx.chat, ctx.t, ctx.services
    # Told at the first step, not after a walk through plans to the last tap; they may still pick one to request.
    refused = (event.from_user is not None
               and not await may_spend(ctx.bot, services.admins, chat, event.from_user.id))
    told = t("rent-not-yours", title=chat.title) + "\n\n" if refused else ""
    query = query.strip()[:QUERY_MAX]
    found = await services.catalogue.services(query)
    starred = await services.favourites.keys(chat.id)
    found.sort(key=lambda s: s.key not in starred)  # stable: the catalogue's order within each part
    if not found:
        text = t("services-none", query=query) if query else t("services-unavailable")
        await show(event, text, keyboards.back_home(t))
        return
    per = keyboards.SERVICES_PER_PAGE
    pages = math.ceil(len(found) / per)
    page = min(max(page, 0), pages - 1)
    items = [(s.key, ("★ " if s.key in starred else "") + s.name) for s in found[page * per:(page + 1) * per]]
    if pages == 1:  # a single page shows no (1/1)
        title = t("services-search-one", query=query) if query else t("services-title-one")
    else:
        title = (t("services-search", query=query, page=page + 1, pages=pages) if query
                 else t("services-title", page=page + 1, pages=pages))
    await show(event, told + title, keyboards.services(t, items, page, pages, query))


async def rent_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    await services_screen(message, ctx, 0, command.args or "")


async def services_page(callback: CallbackQuery, callback_data: ServicesCb, ctx: Ctx) -> None:
    await services_screen(callback, ctx, callback_data.page, callback_data.q)


async def offers_screen(callback: CallbackQuery, callback_data: ServiceCb, ctx: Ctx) -> None:
    """A service tapped: its plans, or first its countries when it sells in several and the chat has not
    picked one for it before."""
    await plans_screen(callback, ctx, callback_data.key)


async def country_plans(callback: CallbackQuery, callback_data: CountryCb, ctx: Ctx) -> None:
    # a country picked: typing is a service search again
    await ctx.services.prompts.clear(ctx.chat.id, callback.from_user.id)
    await plans_screen(callback, ctx, callback_data.key, callback_data.c or None, callback_data.g)


async def _service_offers(event, t: Texts, catalogue: Catalogue, key: str):
    """(service, offers, note) or None when the screen was answered already."""
    service = await catalogue.service(key)
    if service is None:
        await show(event, t("error-stale"), keyboards.back_home(t))
        return None
    offers, failed = await catalogue.offers(service)
    note = "\n" + t("offers-some-failed", providers=", ".join(failed)) if failed else ""
    if not offers:
        if failed:
            await show(event, t("error-provider-down") + note, keyboards.services(t, [], 0, 1))
        else:  # none listed: the chat may ask to be told when one is
            await show(event, t("offers-none", service=service.name),
                       keyboards.offers_none(t, service.key, catalogue.alerts_offered))
        return None
    return service, offers, note


async def plans_screen(event: Message | CallbackQuery, ctx: Ctx, key: str, country: str | None = None,
                       group: str = "", notice: str = "") -> None:
    chat, t, services = ctx.chat, ctx.t, ctx.services
    catalogue, providers = services.catalogue, services.providers
    found = await _service_offers(event, t, catalogue, key)
    if found is None:
        return
    service, offers, note = found
    if notice:
        note += "\n" + notice
    in_countries = choosing.countries(offers)
    several = len(in_countries) > 1
    if several:
        known = {c.key: c for c in in_countries}
        picked = country is not None
        if not picked:
            country = await services.country_choices.get(chat.id, service.key)
        if country not in known:
            await countries_screen(event, ctx, service, in_countries)
            return
        if picked:  # remembered for the chat: its next visit opens here
            await services.country_choices.set(chat.id, service.key, country)
        offers = choosing.in_country(offers, country)
        place = views.country_text(t, known[country].name)
        title = t("offers-title-country", service=service.name, country=place)
    else:  # one country: named on the title as well, since the plans' labels leave it out
        country = ""
        place = views.country_text(t, in_countries[0].name) if in_countries[0].name else ""
        title = (t("offers-title-country", service=service.name, country=place) if place
                 else t("offers-title", service=service.name))
    switch = keyboards.country_switch(t, service.key, place) if several else []
    if not group and choosing.should_group(offers):
        labels = [(name, t("group-button", group=t(f"group-{name}"), plans=count, price=format_money(cheapest)))
                  for name, count, cheapest in choosing.groups(offers)]
        await show(event, title + "\n" + t("groups-hint") + note,
                   keyboards.duration_groups(t, service.key, country, labels, switch))
        return
    if group:
        offers = choosing.in_group(offers, group) or offers
    records = await catalogue.records.figures(service.name)
    offers = delivery_record.rank(offers, records)
    shown = offers[:keyboards.OFFERS_SHOWN]
    note = views.record_lines(t, shown, records, {n: p.title for n, p in providers.items()}) + note
    snapshot = await services.rentals.snapshot(chat.id, service.key, service.name, [p.offer for p in shown])
    marks = choosing.cheapest_marks(shown)
    gone = [p.offer.stock == 0 or catalogue.is_sold_out(p.offer) for p in shown]
    labels = [views.offer_label(t, p, providers[p.offer.provider].title, cheapest=mark, sold_out=out)
              for p, mark, out in zip(shown, marks, gone, strict=True)]
    note = views.offer_legend(t, shown, marks, gone) + note
    starred = service.key in await services.favourites.keys(chat.id)
    back = CountryCb(key=service.key, c=country) if group else ServicesCb(page=0)
    # The same number for more services: from the first plan whose provider rents sets (an activation).
    set_from = next((i for i, p in enumerate(shown) if providers[p.offer.provider].rents_sets
                     and not p.offer.price_upto), None)
    extras = keyboards.OffersExtras(set_from=set_from, alert=catalogue.alerts_offered, switch=switch, back=back)
    await show(event, title + note, keyboards.offers(t, snapshot, labels, service.key, starred, extras))


async def countries_screen(event: Message | CallbackQuery, ctx: Ctx, service: CatalogueService,
                           found: list[choosing.CountryPlans], page: int = 0, query: str = "",
                           last: str | None = None) -> bool:
    """The chat's last country and the ones it rents most on top; typing a name searches (private chats)."""
    chat, t, services = ctx.chat, ctx.t, ctx.services
    used: dict[str, int] = {}
    for name, count in (await services.rentals.rentals.countries_used(chat.id, service.name)).items():
        used[localize.country_key(name)] = used.get(localize.country_key(name), 0) + count
    ordered = choosing.order_countries(found, last, used)
    if query:
        needle = query.casefold()
        ordered = [c for c in ordered if needle in localize.country_name(c.name, t.language).casefold()
                   or needle in c.name.casefold()]
    per = keyboards.COUNTRIES_PER_PAGE
    pages = max(1, math.ceil(len(ordered) / per))
    page = min(max(page, 0), pages - 1)
    items = [(c.key, t("country-button", country=views.country_text(t, c.name),
                       price=format_money(c.cheapest))) for c in ordered[page * per:(page + 1) * per]]
    if isinstance(event, CallbackQuery) and event.message is not None and event.message.chat.type == "private":
        await services.prompts.ask(chat.id, event.from_user.id, "country", {"key": service.key})
    text = (t("countries-search", service=service.name, query=query) if query
            else t("countries-title", service=service.name))
    if query and not ordered:
        return False
    await show(event, text, keyboards.countries(t, service.key, items, page, pages))
    return True


async def countries_page(callback: CallbackQuery, callback_data: CountriesCb, ctx: Ctx) -> None:
    found = await _service_offers(callback, ctx.t, ctx.services.catalogue, callback_data.key)
    if found is None:
        return
    service, offers, _ = found
    await countries_screen(callback, ctx, service, choosing.countries(offers), callback_data.page,
                           last=await ctx.services.country_choices.get(ctx.chat.id, service.key))


async def search_text(message: Message, ctx: Ctx) -> None:
    """Typed text: a country's name while a country picker is open, else a service's name."""
    chat, t, services = ctx.chat, ctx.t, ctx.services
    text = (message.text or "").strip()[:QUERY_MAX]
    asked = await services.prompts.pending(chat.id, message.from_user.id) if message.from_user else None
    if asked is not None and asked[0] == "country":
        found = await _service_offers(message, t, services.catalogue, str(asked[1].get("key", "")))
        if found is not None:
            service, offers, _ = found
            if await countries_screen(message, ctx, service, choosing.countries(offers), query=text):
                return
    await services_screen(message, ctx, 0, text)


async def toggle_favourite(callback: CallbackQuery, callback_data: FavouriteCb, callback_answer: CallbackAnswer,
                           ctx: Ctx) -> None:
    """Not a spend: any member may star; only services the catalogue knows are stored."""
    chat, t, services = ctx.chat, ctx.t, ctx.services
    service = await services.catalogue.service(callback_data.key)
    if service is None:
        raise StaleButton()
    starred = await services.favourites.toggle(chat.id, service.key)
    callback_answer.text = t({True: "fav-added", False: "fav-removed", None: "fav-full"}[starred],
                             service=service.name, limit=MAX_FAVOURITES)
    await plans_screen(callback, ctx, service.key)


def _wishes(data: OfferCb | RentCb | WishCb | RequestCb | FallbackCb) -> choosing.Wishes:
    return choosing.Wishes(area=data.a, carrier=data.c, cap=data.x, renew=data.r)


async def confirm_screen(callback: CallbackQuery, callback_data: OfferCb, ctx: Ctx) -> None:
    chat, t, services = ctx.chat, ctx.t, ctx.services
    rentals = services.rentals
    await services.prompts.clear(chat.id, callback.from_user.id)  # back on the confirm screen: no answer awaited
    wishes = _wishes(callback_data)
    text, markup = await confirm_view(chat, t, rentals, services.providers, callback_data.snap, callback_data.i,
                                      wishes, services.chains)
    if chat.is_group and chat.members_can_rent and chat.member_limit \
            and not await services.admins.is_admin(ctx.bot, chat.id, callback.from_user.id):
        # A member whose limit this number would pass: the limit said, and the way that works (ask the admins)
        # instead of a Rent button that could only refuse.
        offer, price = await rentals.offer_in_snapshot(chat.id, callback_data.snap, callback_data.i)
        left = max(0, chat.member_limit - await services.teams.spent(chat, callback.from_user.id))
        if (wishes.cap or price) > left:
            text += "\n\n" + t("confirm-over-limit", left=format_money(left), limit=format_money(chat.member_limit),
                                period=t(PERIOD_KEYS[chat.limit_period]))
            markup = keyboards.request_only(t, callback_data.snap, callback_data.i, wishes,
                                            service_key(offer.service_name))
    await show(callback, text, markup)


async def fallback_choice(callback: CallbackQuery, callback_data: FallbackCb, chat: Chat, t: Texts,
                          rentals: RentalService, providers: dict[str, Provider], chains: FallbackChains) -> None:
    """One of "if no code, try the next plan"'s choices changed: remembered for the chat (on or off for this
    service, the rest for every screen), the screen drawn again. Not a spend: the Rent tap is."""
    offer, _ = await rentals.offer_in_snapshot(chat.id, callback_data.snap, callback_data.i)
    if not fallback_chain.offers_fallback(offer):
        raise StaleButton()
    key = service_key(offer.service_name)
    prefs = await chains.prefs(chat.id, key)
    op = callback_data.op
    if op in (FallbackOp.ON, FallbackOp.OFF):
        prefs = replace(prefs, enabled=op is FallbackOp.ON)
    elif op is FallbackOp.BUDGET:
        prefs = replace(prefs, budget_percent=_after(fallback_chain.BUDGET_PERCENTS, prefs.budget_percent))
    elif op is FallbackOp.WAIT:
        prefs = replace(prefs, window_minutes=_after(fallback_chain.windows_for(offer.duration_minutes),
                                                     prefs.window_minutes))
    else:
        prefs = replace(prefs, other_countries=not prefs.other_countries)
    await chains.set_prefs(chat.id, key, prefs)
    await show(callback, *await confirm_view(chat, t, rentals, providers, callback_data.snap, callback_data.i,
                                             _wishes(callback_data), chains))


def _after(cycle: tuple[int, ...], value: int) -> int:
    """The next choice of a cycling button (the first when the current one is not offered here)."""
    return cycle[(cycle.index(value) + 1) % len(cycle)] if value in cycle else cycle[0]


async def rent_number(callback: CallbackQuery, callback_data: RentCb, ctx: Ctx) -> None:
    chat, services = ctx.chat, ctx.services
    budget = await ensure_can_spend(ctx.bot, services.admins, chat, callback.from_user.id, budgeted=True)
    wishes = _wishes(callback_data)
    if wishes.renew:  # asked again at the tap: the balance may have moved since the screen
        period = wishes.cap or (await services.rentals.offer_in_snapshot(chat.id, callback_data.snap,
                                                                         callback_data.i))[1]
        if not renewal_covered(chat.balance, period):
            raise AutoRenewNeedsBalance(price=period, balance=chat.balance - period)
    request = RentRequest.from_plan(chat.id, callback.from_user.id, user_name(callback.from_user), callback_data.snap,
                                    callback_data.i, callback_data.n, wishes, budget)
    if callback_data.f:  # "if no code, try the next plan": the chain's first attempt is this plan
        renting = _start_chain(services.chains, request, callback_data.f)
    else:
        renting = services.rentals.rent(request)
    refusals = {NothingAvailable: partial(_nothing_available, callback, ctx, callback_data),
                NoNumberInArea: partial(_no_number_in_area, callback, ctx, callback_data)}
    await present_rent(callback, ctx, renting, RentPath(wishes=wishes, fallback=True, refusals=refusals))


async def _start_chain(chains: FallbackChains, request: RentRequest, budget: int) -> ChainRecord:
    chain, _ = await chains.start(request, budget)
    return chain


async def _nothing_available(callback: CallbackQuery, ctx: Ctx, data: RentCb, _refusal: UserFacingError) -> None:
    chat, t, services = ctx.chat, ctx.t, ctx.services
    wishes = _wishes(data)
    if not wishes.empty:
        # None that meets the wishes (a carrier, a cap): the same plan may rent without them.
        text, markup = await confirm_view(chat, t, services.rentals, services.providers, data.snap, data.i, wishes,
                                          services.chains)
        await show(callback, t("no-number-with-wishes") + "\n\n" + text, markup)
        return
    # Sold out since the list was shown: back to the plans, read afresh, with this one marked.
    offer, _ = await services.rentals.offer_in_snapshot(chat.id, data.snap, data.i)
    await services.catalogue.sold_out(offer)
    await plans_screen(callback, ctx, service_key(offer.service_name), localize.country_key(offer.country),
                       notice=t("plan-sold-out", plan=views.duration_text(t, offer.billing, offer.duration_label,
                                                                           offer.duration_minutes)))


async def _no_number_in_area(callback: CallbackQuery, ctx: Ctx, data: RentCb, _refusal: UserFacingError) -> None:
    # Refunded already: offer the same plan in any area, on its confirm screen (no spend on a guess).
    t = ctx.t
    offer, _ = await ctx.services.rentals.offer_in_snapshot(ctx.chat.id, data.snap, data.i)
    await show(callback, t("no-number-in-area", area=data.a),
               keyboards.any_area(t, data.snap, data.i, _wishes(data), service_key(offer.service_name)))


def setup() -> Router:
    router = Router(name="rent")
    router.message.register(rent_command, Command("rent"))
    router.callback_query.register(services_page, ServicesCb.filter())
    router.callback_query.register(offers_screen, ServiceCb.filter())
    router.callback_query.register(countries_page, CountriesCb.filter())
    router.callback_query.register(country_plans, CountryCb.filter())
    router.callback_query.register(toggle_favourite, FavouriteCb.filter())
    router.callback_query.register(confirm_screen, OfferCb.filter())
    router.callback_query.register(fallback_choice, FallbackCb.filter())
    router.callback_query.register(rent_number, RentCb.filter(), flags={"spends": True})
    # Typing a name searches services (private chats only: in groups the bot sees commands, not chatter).
    router.message.register(search_text, F.chat.type == "private", F.text, ~F.text.startswith("/"))
    return router
