"""What a Rent tap came to, on screen, for every path that rents (a plan's Rent button, a fired alert's, a set's):
the number's card (in its topic where the group has one per number), the fallback chain's card, the notice of a
rent still at work, what an earlier tap of the same button did, the plan's confirm screen again at a risen price,
or the path's own screen for a refusal of its own. The confirm screen lives here too: a risen price reopens it."""
from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from aiogram.types import CallbackQuery

from bot.services import choosing, fallback_chain
from bot.services.catalogue import service_key
from bot.services.errors import AlreadyRequested, QuoteRose, StaleButton, UserFacingError
from bot.services.fallback_chain import FallbackChains
from bot.services.pricing import format_money
from bot.services.rentals import RentalService
from providers import BillingType, Provider
from storage import Chat, RentalRecord
from storage.fallback_chain import ChainRecord

from . import keyboards, views
from .common import show
from .context import Ctx
from .i18n import Texts
from .numbers import show_card, show_earlier
from .topics import card_in_topic

Rented = TypeVar("Rented", RentalRecord, list[RentalRecord], ChainRecord)  # a number, a set's, a fallback chain
Refusal = Callable[[UserFacingError], Awaitable[None]]  # draws a path's own screen for one refusal


@dataclass(frozen=True, slots=True)
class RentPath:
    """Where the paths that rent differ."""

    wishes: choosing.Wishes = choosing.Wishes()  # kept by the confirm screen a risen price reopens
    fallback: bool = False  # that screen offers "if no code, try the next plan" (as the plan's own screen does)
    refusals: Mapping[type[UserFacingError], Refusal] = field(default_factory=dict)  # any other: the error's text


async def present_rent(callback: CallbackQuery, ctx: Ctx, renting: Awaitable[Rented],
                       path: RentPath) -> Rented | None:
    """Awaits the rent and shows what it came to. Returns what was rented; None when a refusal's screen was shown
    (a refusal the path has no screen for goes on up: the error's own answer)."""
    chat, t, services = ctx.chat, ctx.t, ctx.services
    try:
        rented = await renting
    except AlreadyRequested as pressed:
        await show_earlier(callback, chat, t, services.rentals, pressed)
        return None
    except QuoteRose as rose:
        chains = services.chains if path.fallback else None
        await show(callback, *await quote_rose_view(chat, t, services.rentals, services.providers, rose, path.wishes,
                                                    chains))
        return None
    except UserFacingError as refusal:
        screen = next((s for kind, s in path.refusals.items() if isinstance(refusal, kind)), None)
        if screen is None:
            raise
        await screen(refusal)
        return None
    await _show_rented(callback, ctx, rented)
    return rented


async def _show_rented(callback: CallbackQuery, ctx: Ctx, rented: Rented) -> None:
    chat, t, services = ctx.chat, ctx.t, ctx.services
    if isinstance(rented, ChainRecord):  # one card for the whole chain, edited in place as it goes (bot/background.py)
        await show_chain(callback, chat, t, services.chains, services.providers, rented.id)
        return
    members = rented if isinstance(rented, list) else [rented]  # a set is one number: its card is the first's
    if all(m.status == "pending" for m in members):
        await show(callback, t("rent-pending"), keyboards.to_card(t, members[0].id))
        return
    if await card_in_topic(callback, ctx, members[0]):
        return  # a forum group with a topic per number: the card is in the number's topic
    await show_card(callback, ctx, members[0].id)


async def show_chain(callback: CallbackQuery, chat: Chat, t: Texts, chains: FallbackChains,
                     providers: dict[str, Provider], chain_id: int) -> None:
    view = await chains.view(chain_id)
    message = await show(callback, *views.chain_card(t, view, {n: p.title for n, p in providers.items()}))
    if message is not None:
        await chains.repo.set_card(chain_id, message.chat.id, message.message_id)
    chains.drawn(view)


async def quote_rose_view(chat: Chat, t: Texts, rentals: RentalService, providers: dict[str, Provider],
                          rose: QuoteRose, wishes: choosing.Wishes, chains: FallbackChains | None = None):
    """The quote lock: the plan costs more than the screen said (nothing charged, or charged and refunded): the old
    and the new price, then the plan's confirm screen at the new price (its Rent button says it)."""
    shown, price = format_money(rose.params["shown"]), format_money(rose.params["price"])
    snap = rose.params.get("snap") or 0
    if not snap:
        return t("quote-rose-gone", shown=shown), keyboards.back_home(t)
    # A cap below the new price no longer means anything: the new screen starts from the new price.
    again = choosing.Wishes(area=wishes.area, carrier=wishes.carrier, renew=wishes.renew)
    text, markup = await confirm_view(chat, t, rentals, providers, snap, 0, again, chains)
    head = t("quote-rose-refunded" if rose.params.get("refunded") else "quote-rose", shown=shown, price=price)
    return head + "\n\n" + text, markup


def renewal_covered(balance: int, period_price: int) -> bool:
    """Auto-renew's one rule (the card's and the confirm screen's): on only while the balance, after this charge,
    covers the next period (the provider renews at the end; the operator never pays it)."""
    return balance - period_price >= period_price


def _fallback(t: Texts, chains_prefs, offer, charge: int) -> keyboards.FallbackChoice | None:
    if chains_prefs is None or not fallback_chain.offers_fallback(offer):
        return None
    windows = fallback_chain.windows_for(offer.duration_minutes)
    window = chains_prefs.window_minutes if chains_prefs.window_minutes in windows else 0
    percent = (chains_prefs.budget_percent if chains_prefs.budget_percent in fallback_chain.BUDGET_PERCENTS
               else fallback_chain.BUDGET_PERCENTS[1])
    return keyboards.FallbackChoice(chains_prefs.enabled, fallback_chain.budget_for(charge, percent),
                                    views.fallback_wait(t, window, offer.duration_minutes),
                                    chains_prefs.other_countries)


async def confirm_view(chat: Chat, t: Texts, rentals: RentalService, providers: dict[str, Provider], snap: int,
                       index: int, wishes: choosing.Wishes, chains: FallbackChains | None = None):
    offer, price = await rentals.offer_in_snapshot(chat.id, snap, index)
    key = service_key(offer.service_name)
    provider = providers.get(offer.provider)
    if provider is None:
        raise StaleButton()
    charge = wishes.cap or price
    renew_short = wishes.renew and not renewal_covered(chat.balance, charge)
    if renew_short:  # the card's rule, here too: on only while the balance covers the next period
        wishes = dataclasses.replace(wishes, renew=False)
    if chat.balance < charge:
        text = t("confirm-short", service=offer.service_name, price=format_money(charge),
                 balance=format_money(chat.balance), missing=format_money(charge - chat.balance))
        return text, keyboards.short_of_money(t, key)
    text = t("confirm-title", service=offer.service_name, provider=provider.title,
             duration=views.duration_text(t, offer.billing, offer.duration_label, offer.duration_minutes),
             country=views.country_text(t, offer.country), price=format_money(price),
             after=format_money(chat.balance - charge))
    text += views.wish_lines(t, provider, offer, wishes, price)
    if renew_short:
        text += "\n" + t("confirm-renew-needs-balance", price=format_money(charge),
                          after=format_money(chat.balance - charge))
    # The refund rule, said before paying: an activation without a code is refunded by itself.
    rule = ("rule-no-code" if offer.billing == BillingType.SMS
            else "rule-duration-no-refund" if not provider.cancel_refunds(offer.id)
            else "rule-duration-until-sms" if provider.refund_only_without_sms else "rule-duration")
    text += "\n\n" + t(rule)
    if offer.price_upto:  # the provider says its price only when it rents: a hold, settled then
        text += "\n" + t("rule-price-upto", price=format_money(price))
    # An activation: "if no code, try the next plan", as the chat chose last time for this service.
    fallback = _fallback(t, await chains.prefs(chat.id, key) if chains is not None else None, offer, charge)
    if fallback is not None and fallback.enabled:
        text += "\n" + views.fallback_line(t, fallback, offer.country, offer.service_name)
    # A group whose members rent within bounds, or not at all: anyone may ask its admins for this one.
    ask = chat.is_group and (not chat.members_can_rent or chat.members_bounded)
    options = keyboards.ConfirmOptions(provider.choices_for(offer), wishes, upto=offer.price_upto, ask=ask,
                                       fallback=fallback)
    return text, keyboards.confirm(t, snap, index, key, format_money(charge), options)
