"""Everything that moves money for rentals. Charge first, then call the provider; refund on failure."""
from __future__ import annotations

import collections
import logging
import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

import aiosqlite

from providers import Capability, Offer, Provider, ProviderError, Rental, RentalStatus, RentChoice, Sms
from providers import errors as perr
from providers.http import GATEWAY_STATUSES
from storage import (
    ChatRepo,
    Database,
    InsufficientBalanceError,
    RentalRecord,
    RentalRepo,
    SmsRepo,
    SnapshotRepo,
    StoredSms,
    ledger,
    notes,
)
from storage.db import WrongStateError
from storage.in_place_renewals import InPlaceRenewalRepo
from storage.models import utcnow

from . import errors
from .budget import OnWait, ProviderBudget
from .catalogue import QUOTE_FRESH, Catalogue, service_key
from .choosing import KEEP_CARRIER_NAME, Wishes, rent_choice
from .cooldowns import Cooldowns
from .money_news import RentalTell
from .offers import PricedOffer, offer_from_dict, offer_to_dict
from .pricing import price_for_chat
from .renewals import Renewals, release_reservation

log = logging.getLogger(__name__)

SNAPSHOT_MAX_AGE = 15 * 60.0
# A rent that would wait longer than this for its turn under the provider's own pace (GetAText: one a second) is
# refused before it is charged: a person would have given up on the tap by then (docs/security.md).
RENT_QUEUE_MAX_WAIT = 8.0
RECONCILE_GRACE = timedelta(minutes=3)
UNREACHABLE = object()  # the provider did not answer: decide nothing


class SpendCheck(Protocol):
    async def check(self, conn: aiosqlite.Connection, chat_id: int, user_id: int, price: int) -> None:
        """Raises unless this spend fits (a member's limit or cap, a fallback chain's budget): asked inside the
        charging transaction, so concurrent taps cannot pass it together."""


@dataclass(frozen=True, slots=True)
class RentRequest:
    """One rent: who asks, which plan, once under which key, and what may refuse it. Built by the constructor of
    its kind of caller (``from_plan``, ``for_offer``, ``renewal``)."""

    chat_id: int
    user_id: int
    user_name: str
    snapshot_id: int = 0  # the plan list the tap was on, and the plan's place in it
    index: int = 0
    nonce: str = ""  # the tap's own: a second tap on the same button rents once
    wishes: Wishes = Wishes()
    offer: Offer | None = None  # an offer kept elsewhere (an alert's, a request's, a chain's): no snapshot
    key: str | None = None  # the rent's idempotency key when the caller has its own
    budget: SpendCheck | None = None

    @classmethod
    def from_plan(cls, chat_id: int, user_id: int, user_name: str, snapshot_id: int, index: int, nonce: str,
                  wishes: Wishes = Wishes(), budget: SpendCheck | None = None) -> RentRequest:
        """A Rent tap on a plan's confirm screen: the plan as its list showed it, once per tap."""
        return cls(chat_id, user_id, user_name, snapshot_id, index, nonce, wishes, budget=budget)

    @classmethod
    def for_offer(cls, chat_id: int, user_id: int, user_name: str, offer: Offer, key: str,
                  wishes: Wishes = Wishes(), budget: SpendCheck | None = None) -> RentRequest:
        """An offer kept elsewhere (a fired alert, a member's request an admin approved, a fallback chain's next
        attempt), rented once under the caller's ``key`` whoever taps and however often."""
        return cls(chat_id, user_id, user_name, wishes=wishes, offer=offer, key=key, budget=budget)

    @classmethod
    def renewal(cls, chat_id: int, user_id: int, user_name: str, nonce: str) -> RentRequest:
        """A renewal of a number that cannot renew in place: its plan rented anew, once per tap."""
        return cls(chat_id, user_id, user_name, nonce=nonce)


def period_end(fresh: Rental, start: datetime | None, minutes: int | None) -> datetime | None:
    """The moment a rental's paid time ends, from the provider's ``fresh`` view. A provider that says only the
    day (``till_is_day``) is read as the moment it was rented (``start``) plus whole periods of ``minutes``, when
    that moment falls on the day it names (renewals move the day by a period); else the day's last second."""
    till = fresh.active_till
    if till is None or not fresh.till_is_day or start is None or not minutes:
        return till
    period = timedelta(minutes=minutes)
    day_starts = till - timedelta(days=1)  # till is the day's last second: the day is (till - 1 day, till]
    whole = max(1, math.floor((day_starts - start) / period) + 1)
    moment = start + whole * period
    return moment if day_starts < moment <= till else till


def _plan_of(rental: RentalRecord, service_id: str, service_name: str, price: Decimal) -> Offer:
    """A rental's plan as an offer at ``price`` (to read its price today, or to quote it again)."""
    return Offer(provider=rental.provider, id=rental.offer_id, service_id=service_id, service_name=service_name,
                 price=price, billing=rental.billing, duration_minutes=rental.duration_minutes,
                 duration_label=rental.duration_label, country=rental.country)


def provider_failure(err: ProviderError) -> errors.UserFacingError:
    """What the user is told when a provider call fails. Never includes keys or raw replies."""
    if isinstance(err, perr.NoNumberInAreaError):
        return errors.NoNumberInArea()
    if isinstance(err, perr.NothingAvailableError):
        return errors.NothingAvailable()
    if isinstance(err, perr.RateLimitedError):
        return errors.ProviderBusy()  # the provider's own word, after the client's retries
    if isinstance(err, perr.ProviderRejectedError) and err.message:
        return errors.ProviderRefused(reason=err.message[:200])
    return errors.ProviderUnavailable()


class RentalService:
    def __init__(self, db: Database, providers: dict[str, Provider], catalogue: Catalogue,
                 cooldown: float = 10.0) -> None:
        self.db = db
        self.providers = providers
        self.catalogue = catalogue
        self.rentals = RentalRepo(db)
        self.chats = ChatRepo(db)
        self.snapshots = SnapshotRepo(db)
        self.sms = SmsRepo(db)
        self.renewals = Renewals(db)
        self.in_place_renewals = InPlaceRenewalRepo(db)
        self.cooldowns = Cooldowns(cooldown)
        self.budget = ProviderBudget()
        # Cents above a hold that providers charged and chats did not pay, per provider, since the start.
        self.absorbed: dict[str, int] = {}
        self._renting: collections.Counter[str] = collections.Counter()  # rents under way, per provider
        # Rentals cancelled and refunded because the provider charged above the quote, per provider.
        self.refused_above_quote: dict[str, int] = {}

    # -- lookups -------------------------------------------------------------------------

    async def owned(self, chat_id: int, rental_id: int) -> RentalRecord:
        """The rental, if it belongs to this chat; otherwise the button is stale or forged."""
        rental = await self.rentals.get(rental_id)
        if rental is None or rental.chat_id != chat_id:
            raise errors.StaleButton()
        return rental

    def provider_of(self, rental: RentalRecord) -> Provider:
        provider = self.providers.get(rental.provider)
        if provider is None:
            raise errors.ProviderUnavailable()
        return provider

    async def offer_in_snapshot(self, chat_id: int, snapshot_id: int, index: int) -> tuple[Offer, int]:
        snapshot = await self.snapshots.get(snapshot_id, chat_id, SNAPSHOT_MAX_AGE)
        if snapshot is None:
            raise errors.OfferExpired()
        offers = snapshot["offers"]
        if not 0 <= index < len(offers):
            raise errors.StaleButton()
        offer = offer_from_dict(offers[index])
        return offer, self.catalogue.price(offer)

    async def snapshot(self, chat_id: int, key: str, service_name: str, offers: list[Offer]) -> int:
        """Remember the offers shown to a chat; buttons then name one by (snapshot, index)."""
        return await self.snapshots.save(chat_id, key, service_name, [offer_to_dict(o) for o in offers])

    def actions(self, rental: RentalRecord, *, has_sms: bool = False) -> set[Capability]:
        """Actions the card offers for this rental, from the provider's capabilities and the rental's state
        (``has_sms``: an SMS came, which ends the refund at providers that refund only before one)."""
        provider = self.providers.get(rental.provider)
        if provider is None or rental.status != "active":
            return {Capability.HISTORY} & (provider.capabilities_for(rental.offer_id) if provider else set())
        allowed = set(provider.capabilities_for(rental.offer_id)) - {Capability.WEBHOOK}
        minutes = rental.duration_minutes or 0
        if rental.billing != "duration" or (provider.transition_max_minutes is not None
                                            and not 0 < minutes <= provider.transition_max_minutes):
            allowed.discard(Capability.TRANSITION)
        if minutes < provider.auto_renew_min_minutes:
            allowed.discard(Capability.AUTO_RENEW)
        if has_sms and provider.refund_only_without_sms and provider.cancel_refunds(rental.offer_id):
            allowed.discard(Capability.CANCEL)
        if rental.renewing:  # one renewal at a time
            allowed.discard(Capability.RENEW)
        return allowed

    def code_actions(self, rental: RentalRecord) -> set[Capability]:
        """Actions under a pushed code. "Another code" rents the number again; a number renewed in place (a
        long-term one) keeps receiving codes, and renewing it adds a period: that stays on its card."""
        allowed = self.actions(rental, has_sms=True)
        provider = self.providers.get(rental.provider)
        if provider is not None and provider.renews_in_place(rental.offer_id):
            allowed.discard(Capability.RENEW)
        return allowed

    # -- renting -------------------------------------------------------------------------

    async def rent(self, request: RentRequest) -> RentalRecord:
        if request.offer is not None:
            offer, price = request.offer, self.catalogue.price(request.offer)
        else:
            offer, price = await self.offer_in_snapshot(request.chat_id, request.snapshot_id, request.index)
        provider = self.providers.get(offer.provider)
        if provider is None:
            raise errors.ProviderUnavailable()
        # Rents ahead of this one, each its turn under the provider's own pace (GetAText: one a second).
        name = offer.provider
        if (backlog := self._renting[name] * provider.rent_interval) > RENT_QUEUE_MAX_WAIT:
            raise errors.RentQueueFull(seconds=math.ceil(backlog))  # before anything is charged
        self._renting[name] += 1
        try:
            offer, price = await self._locked_quote(request, offer, price)
            choice, charge = rent_choice(request.wishes, offer, provider, price, self.catalogue.markup_percent)
            key = request.key or f"rent:{request.chat_id}:{request.snapshot_id}:{request.index}:{request.nonce}"
            # A price the provider says only when it rents (a long-term number) is held like a cap, then settled.
            held = offer.price_upto or (choice is not None and choice.max_price is not None)
            rental = await self._charge_pending(request, offer, charge, key, choice, held=held)
            return await self._call_provider(rental, provider.rent(offer, choice))
        finally:
            self._renting[name] -= 1

    async def _locked_quote(self, request: RentRequest, offer: Offer, price: int) -> tuple[Offer, int]:
        """The quote lock, before anything is charged: the plan's current price (catalogue.QUOTE_FRESH) against
        the most this tap agreed to pay (the price shown, or the user's cap). Higher: QuoteRose, with a new
        snapshot holding the plan at its new price. Gone: NothingAvailable. The
        provider not answering: the shown price stands (the rent call's own guards still hold: GetAText's
        max_price, the reply's price checked in ``_call_provider``)."""
        try:
            now = await self.catalogue.current_offer(offer)
        except ProviderError as err:
            log.warning("quote check of %s %s: provider unreachable (%s); the shown price stands",
                        offer.provider, offer.id, err)
            return offer, price
        if now is None or (offer.provider, offer.service_name, offer.country) in await self.catalogue.records.hidden():
            raise errors.NothingAvailable()
        now_price = self.catalogue.price(now)
        agreed = request.wishes.cap or price
        if now_price > agreed:
            snap = await self.snapshot(request.chat_id, service_key(offer.service_name), offer.service_name, [now])
            log.info("rent of %s %s: price rose from %d to %d since shown; asked again", offer.provider, offer.id,
                     agreed, now_price)
            raise errors.QuoteRose(shown=agreed, price=now_price, snap=snap)
        # At or below the quote: the quote stands (what the chat agreed to, and the provider's price it holds
        # the provider to), so a provider that charges above its own list cannot loop the chat through re-asks.
        return offer, price

    async def renewal_quote(self, rental: RentalRecord,
                            max_age: float | None = None) -> tuple[int, Decimal] | None:
        """What renting this number again costs now, (chat's price, provider's price): the provider's current
        price for its plan (the plan's renewal price where it has one), with today's markup. None when the plan
        is not on sale now. ``max_age``: the provider's price read at most that long ago (the tap that charges
        it); else the catalogue's cached list (a card shown)."""
        if rental.provider not in self.providers:
            return None
        service = await self.catalogue.service(service_key(rental.service_name))
        if service is None:
            return None
        if max_age is not None and rental.provider in service.ids:
            try:
                found = await self.catalogue.current_offer(
                    _plan_of(rental, service.ids[rental.provider], service.name, Decimal(0)), max_age)
                priced = [PricedOffer(found, self.catalogue.price(found))] if found is not None else []
            except ProviderError as err:
                log.warning("renewal quote of rental %d: %s unreachable (%s)", rental.id, rental.provider, err)
                priced, _ = await self.catalogue.offers(service)
        else:
            priced, _ = await self.catalogue.offers(service)
        for entry in priced:
            offer = entry.offer
            if offer.provider == rental.provider and offer.id == rental.offer_id:
                if offer.renew_price is not None:
                    return price_for_chat(offer.renew_price, self.catalogue.markup_percent), offer.renew_price
                if rental.carrier and not self.provider_of(rental).renews_in_place(rental.offer_id):
                    # The same number again, so its carrier again: a carrier's number costs what it cost then
                    # (the listed price and the carrier's premium) unless the list has risen above that.
                    return (max(entry.price, rental.renewal_price),
                            max(offer.price, Decimal(rental.provider_cost or 0)))
                return entry.price, offer.price
        return None

    async def renew(self, chat_id: int, user_id: int, user_name: str, rental_id: int, nonce: str,
                    shown_price: int | None = None) -> RentalRecord:
        """Rent the same number again at today's price: a new rental row (or, where the provider renews in
        place, one more period of this one). ``shown_price`` is the price the button said; when today's
        differs, nothing is charged and RenewPriceChanged says the new one."""
        old = await self.owned(chat_id, rental_id)
        provider = self.provider_of(old)
        if (Capability.RENEW not in provider.capabilities_for(old.offer_id) or not old.provider_rental_id
                or old.status == "pending"):
            raise errors.ActionUnavailable()
        # The quote lock: today's price read afresh at the tap; above the button's, nothing is charged and the
        # card comes back with the new price; at or below it, charged as it is now.
        quote = await self.renewal_quote(old, QUOTE_FRESH)
        if quote is None:
            raise errors.NothingAvailable()
        price, cost = quote
        if shown_price is not None and price > shown_price:
            raise errors.RenewPriceChanged(price=price)
        if provider.renews_in_place(old.offer_id):
            return await self._renew_in_place(old, provider, user_id, price, nonce)
        request = RentRequest.renewal(chat_id, user_id, user_name, nonce)
        offer = Offer(provider=old.provider, id=old.offer_id, service_id="", service_name=old.service_name,
                      price=cost, billing=old.billing,
                      duration_minutes=old.duration_minutes, duration_label=old.duration_label,
                      country=old.country)
        rental = await self._charge_pending(request, offer, price, f"renew:{old.id}:{nonce}")
        return await self._call_provider(rental, provider.renew(old.provider_rental_id))

    async def _renew_in_place(self, rental: RentalRecord, provider: Provider, user_id: int, hold: int,
                              nonce: str) -> RentalRecord:
        """One more period of the same rental (a long-term number): ``hold`` (today's price, a ceiling) is
        charged with the rental marked as renewing, then settled to what the provider charged. Refused: the
        hold comes back. No answer: kept marked, and ``reconcile_renewals`` decides from the provider's end."""
        key = f"renew-now:{rental.id}:{nonce}"
        await self.budget.spend(rental.provider)  # before the charge: a call the budget refuses charges nothing
        try:
            async with self.db.transaction() as conn:
                locked = await RentalRepo.lock(conn, rental.id)
                if locked.renewing or locked.status != "active":
                    raise errors.AlreadyRequested(rental_id=rental.id)
                await ledger.post(conn, rental.chat_id, -hold, "charge", f"rental:{rental.id}", idempotency_key=key,
                                  actor_id=user_id, note=notes.make("renewal", service=rental.service_name))
                await InPlaceRenewalRepo.ask(conn, rental.id, key, hold, locked.active_till)
                rental = await RentalRepo.lock(conn, rental.id)
        except sqlite3.IntegrityError:
            raise errors.AlreadyRequested(rental_id=rental.id) from None
        except InsufficientBalanceError as err:
            raise errors.NotEnoughBalance(missing=err.missing, price=hold, balance=err.balance) from None
        try:
            result = await provider.renew(rental.provider_rental_id)
        except perr.OutcomeUnknownError as err:
            log.warning("rental %d: renewal outcome unknown (%s); kept for reconciliation", rental.id, err)
            return rental
        except ProviderError as err:
            log.warning("rental %d: renewal refused by %s: %s", rental.id, rental.provider, err)
            await self._end_renewal(rental.id, None)
            raise provider_failure(err) from None
        return await self._end_renewal(rental.id, result)

    async def _end_renewal(self, rental_id: int, result: Rental | None, made: RentalTell | None = None,
                           refunded: RentalTell | None = None) -> RentalRecord:
        """A renewal in place decided: made (``result``, settled to its price) or not (the hold comes back).
        ``made`` / ``refunded``: the chat's notice of it, written in the same transaction (the reconciler's; a tap
        shows its own outcome)."""
        async with self.db.transaction() as conn:
            rental = await RentalRepo.lock(conn, rental_id)
            asked = await InPlaceRenewalRepo.asked_of(conn, rental_id)
            if asked is None:
                return rental  # decided already
            key, hold = asked.request_key, asked.hold
            if result is None:
                await ledger.post(conn, rental.chat_id, hold, "refund", f"rental:{rental.id}",
                                  idempotency_key=f"refund:{key}",
                                  note=notes.make("renewal-not-made", service=rental.service_name))
                await InPlaceRenewalRepo.refunded(conn, asked)
                rental = await RentalRepo.lock(conn, rental.id)
                if refunded is not None:
                    await refunded(conn, rental, f"refund:{key}")
                return rental
            paid = await self._settle_hold(conn, rental, hold, result.price, f"settle:{key}")
            await InPlaceRenewalRepo.made(conn, asked, paid)
            rental = await RentalRepo.update(
                conn, rental.id, period_price=paid, price_charged=rental.price_charged + paid,
                active_till=period_end(result, rental.active_from, rental.duration_minutes) or rental.active_till,
                auto_renew=result.auto_renew, renew_warned_at=None)
            if made is not None:
                await made(conn, rental, key)  # the hold's charge row: once per renewal
            return rental

    async def reconcile_renewals(self, made: RentalTell | None = None,
                                 refunded: RentalTell | None = None) -> list[tuple[RentalRecord, bool]]:
        """Renewals in place whose call got no answer: made if the provider's end moved past the one before,
        refunded if it has not after the grace, each with the chat's notice (``made``, ``refunded``) in the same
        transaction. Returns the rentals decided, each with whether it was made."""
        decided = []
        for asked in await self.in_place_renewals.undecided():
            rental = await self.rentals.get(asked.rental_id)
            provider = self.providers.get(rental.provider)
            age = utcnow() - asked.asked_at
            if provider is None or age < timedelta(seconds=20):
                continue  # the renewing call itself may still be running
            try:
                fresh = await provider.get_rental(rental.provider_rental_id)
            except ProviderError as err:
                log.warning("renewal check of rental %d: %s unreachable (%s)", rental.id, rental.provider, err)
                continue  # never refund on a guess
            before, till = asked.till_before, period_end(fresh, rental.active_from, rental.duration_minutes)
            if till and (before is None or till > before):
                decided.append((await self._end_renewal(rental.id, fresh, made, refunded), True))
            elif age >= RECONCILE_GRACE:
                decided.append((await self._end_renewal(rental.id, None, made, refunded), False))
        return decided

    async def _charge_pending(self, request: RentRequest, offer: Offer, price: int, key: str,
                              choice: RentChoice | None = None, held: bool = False) -> RentalRecord:
        asked = {"price_held": price if held else None}
        if choice is not None:
            asked |= {"area_code": choice.area_code,
                      "carrier": KEEP_CARRIER_NAME if choice.keep_carrier else choice.carrier}
        try:
            async with self.db.transaction() as conn:
                rental = await RentalRepo.insert_pending(
                    conn, chat_id=request.chat_id, user_id=request.user_id, user_name=request.user_name,
                    provider=offer.provider, offer_id=offer.id, service_name=offer.service_name,
                    billing=str(offer.billing), duration_label=offer.duration_label, country=offer.country,
                    duration_minutes=offer.duration_minutes,
                    price_charged=price, period_price=price, provider_cost=str(offer.price), request_key=key,
                    **asked,
                )
                if request.budget is not None:
                    await request.budget.check(conn, request.chat_id, request.user_id, price)
                if price > 0:
                    await ledger.post(conn, request.chat_id, -price, "charge", f"rental:{rental.id}",
                                      actor_id=request.user_id, note=offer.service_name)
        except sqlite3.IntegrityError:
            existing = await self.rentals.get_by_request_key(key)
            if existing is None:
                raise
            raise errors.AlreadyRequested(rental_id=existing.id) from None
        except InsufficientBalanceError as err:
            raise errors.NotEnoughBalance(missing=err.missing, price=price, balance=err.balance) from None
        return rental

    async def _call_provider(self, rental: RentalRecord, call) -> RentalRecord:
        try:
            result: Rental = await call
        except perr.OutcomeUnknownError as err:
            if err.status is not None and err.status >= 500 and err.status not in GATEWAY_STATUSES:
                return await self._settle_after_server_error(rental, err)
            log.warning("rental %d: outcome unknown (%s); kept pending for reconciliation", rental.id, err)
            return rental
        except ProviderError as err:
            log.warning("rental %d failed at %s: %s", rental.id, rental.provider, err)
            await self.fail_and_refund(rental.id, str(err))
            raise provider_failure(err) from None
        except BaseException:
            # Cut off (a shutdown cancelled the call) or a bug while the call ran: whether the provider rented is
            # not known, so the charge stays pending and the reconciler links the rental or refunds it. Refunding
            # here would hand out a number the provider may have rented for free.
            log.warning("rental %d: the provider call did not finish; kept pending for reconciliation", rental.id)
            raise
        if self._above_quote(rental, result):
            return await self._refuse_above_quote(rental, result)
        return await self.activate(rental.id, result)

    async def _requote(self, rental: RentalRecord, cost: Decimal) -> int:
        """A snapshot holding this rental's plan at the provider price ``cost``, for a Rent button at it; 0 when
        there is none to offer (a hold, or the service no longer listed)."""
        service = await self.catalogue.service(service_key(rental.service_name))
        if rental.price_held is not None or service is None or rental.provider not in service.ids:
            return 0
        offer = _plan_of(rental, service.ids[rental.provider], rental.service_name, cost)
        return await self.snapshot(rental.chat_id, service.key, rental.service_name, [offer])

    def _above_quote(self, rental: RentalRecord, result: Rental) -> bool:
        """The rent reply says the provider charged more than the quote: its price above the provider price the
        chat was quoted, or (a hold) its price for the chat above the hold."""
        if result.price is None or rental.status != "pending":
            return False
        if rental.price_held is not None:
            return price_for_chat(result.price, self.catalogue.markup_percent) > rental.price_held
        try:
            return result.price > Decimal(rental.provider_cost)
        except ArithmeticError:
            return False

    async def _refuse_above_quote(self, rental: RentalRecord, result: Rental) -> RentalRecord:
        """The quote lock after the fact (docs/money.md): a rental the provider charged above the quote for is cancelled
        at once and the chat refunded in full, where cancelling gives the provider's price back; the chat is
        then asked again at the new price (QuoteRose). Where it cannot be cancelled (or the cancel fails), the
        rental stands at the quote and the operator absorbs the difference, logged and counted."""
        provider = self.providers.get(rental.provider)
        actual = price_for_chat(result.price, self.catalogue.markup_percent)
        if provider is not None and provider.cancel_refunds(rental.offer_id) and result.id:
            try:
                await provider.cancel(result.id)
            except ProviderError as err:
                log.warning("rental %d: charged %s above the quote, and the cancel failed (%s)", rental.id,
                            result.price, err)
            else:
                log.warning("rental %d: %s charged %s, above the quoted %s: cancelled and refunded", rental.id,
                            rental.provider, result.price, rental.provider_cost)
                async with self.db.transaction() as conn:
                    await RentalRepo.update(conn, rental.id, provider_rental_id=result.id, phone=result.phone,
                                            provider_cost=str(result.price))
                await self._close_with_refund(rental.id, "cancelled", "charged above the quote")
                self.refused_above_quote[rental.provider] = self.refused_above_quote.get(rental.provider, 0) + 1
                raise errors.QuoteRose(shown=rental.price_charged, price=actual, refunded=True,
                                       snap=await self._requote(rental, result.price))
        activated = await self.activate(rental.id, result)
        if rental.price_held is None:  # a hold's excess is counted where it settles (_settle_hold)
            log.warning("rental %d: %s charged %s, above the quoted %s; the operator absorbs %d cents", rental.id,
                        rental.provider, result.price, rental.provider_cost, actual - rental.price_charged)
            self.absorbed[rental.provider] = (self.absorbed.get(rental.provider, 0)
                                              + max(actual - rental.price_charged, 0))
            async with self.db.transaction() as conn:
                activated = await RentalRepo.update(conn, rental.id, provider_cost=str(result.price))
        return activated

    async def _settle_after_server_error(self, rental: RentalRecord, err: perr.OutcomeUnknownError) -> RentalRecord:
        """The provider answered the renting call itself with a 5xx: it has finished with the request, so one
        look at its rent list decides at once (linked if it rented after all, refunded if not). Without a list,
        or when the list cannot be read, the rental stays pending for the reconciler."""
        listing = await self._active_at(self.providers.get(rental.provider), rental.offer_id)
        if listing is None or listing is UNREACHABLE:
            log.warning("rental %d: %s; kept pending for reconciliation", rental.id, err)
            return rental
        match = await self._match(rental, listing)
        if match is not None:
            log.warning("rental %d: %s, but the provider rented it: linked", rental.id, err)
            return await self.activate(rental.id, match)
        log.warning("rental %d: %s and no rental at the provider: refunded", rental.id, err)
        await self.fail_and_refund(rental.id, str(err))
        raise errors.ProviderUnavailable() from None

    async def activate(self, rental_id: int, result: Rental) -> RentalRecord:
        """The provider rented it. A rent that held a price cap settles here, in the same transaction: the
        chat pays the provider's price plus markup and gets the rest of the hold back."""
        async with self.db.transaction() as conn:
            rental = await RentalRepo.lock(conn, rental_id)
            if rental.status == "active" and rental.provider_rental_id == result.id:
                return rental  # linked already (the reconciler and a late rent reply both found it)
            settled = {}
            if rental.price_held is not None and rental.status == "pending" and result.price is not None:
                paid = await self._settle_hold(conn, rental, rental.price_charged, result.price,
                                               f"settle:rental:{rental.id}")
                settled = {"provider_cost": str(result.price), "price_charged": paid, "period_price": paid}
            started = result.active_from or utcnow()
            return await RentalRepo.move(
                conn, rental_id, "active", provider_rental_id=result.id, phone=result.phone,
                active_from=started, active_till=period_end(result, started, rental.duration_minutes),
                auto_renew=result.auto_renew, **settled,
            )

    async def _settle_hold(self, conn, rental: RentalRecord, hold: int, cost: Decimal | None, key: str) -> int:
        """In the caller's transaction: what the chat pays for a hold once the provider said its price ``cost``
        (plus markup). Less: the rest comes back under ``key``. More: never more than the chat agreed to, the
        hold is the price and the operator carries the difference (logged and counted). Unknown: the hold."""
        if cost is None:
            return hold
        actual = price_for_chat(cost, self.catalogue.markup_percent)
        if actual < hold:
            await ledger.post(conn, rental.chat_id, hold - actual, "refund", f"rental:{rental.id}",
                              idempotency_key=key, note=notes.make("hold-returned", service=rental.service_name))
            return actual
        if actual > hold:
            log.warning("rental %d: %s charged %s, above the hold of %d cents; the operator absorbs %d",
                        rental.id, rental.provider, cost, hold, actual - hold)
            self.absorbed[rental.provider] = self.absorbed.get(rental.provider, 0) + actual - hold
        return hold

    async def cancel_and_refund(self, rental_id: int, reason: str, tell: RentalTell | None = None) -> RentalRecord:
        """The provider cancelled it (confirmed): the chat gets its charge back, once (``tell``: with its notice)."""
        return await self._close_with_refund(rental_id, "cancelled", reason, tell)

    async def fail_and_refund(self, rental_id: int, reason: str, tell: RentalTell | None = None) -> None:
        await self._close_with_refund(rental_id, "failed", reason[:200], tell)

    async def _close_with_refund(self, rental_id: int, status: str, reason: str = "",
                                 tell: RentalTell | None = None) -> RentalRecord:
        """Closed and refunded in one transaction; ``tell`` writes the chat's notice of it in the same one."""
        async with self.db.transaction() as conn:
            rental = await RentalRepo.lock(conn, rental_id)
            if rental.status not in ("pending", "active"):
                return rental
            key = f"refund:rental:{rental.id}"
            if rental.price_charged > 0:
                await ledger.post(conn, rental.chat_id, rental.price_charged, "refund", f"rental:{rental.id}",
                                  idempotency_key=key, note=rental.service_name)
            await release_reservation(conn, rental)
            closed = await RentalRepo.move(conn, rental_id, status, failure=reason)
            if tell is not None:
                await tell(conn, closed, key)
            return closed

    async def close(self, rental_id: int, status: str) -> RentalRecord:
        """A rental ending without a refund (``status``: cancelled, finished, expired): a renewal reserved for it
        comes back. One closed already stays as it is (a cancel and the expiry job may meet)."""
        async with self.db.transaction() as conn:
            rental = await RentalRepo.lock(conn, rental_id)
            if not rental.is_open:
                return rental
            await release_reservation(conn, rental)
            return await RentalRepo.move(conn, rental_id, status)

    # -- card actions --------------------------------------------------------------------

    def cancel_refunds(self, rental: RentalRecord) -> bool:
        provider = self.providers.get(rental.provider)
        return provider is None or provider.cancel_refunds(rental.offer_id)

    # Cancel, finish and auto-renew off give money back (the charge, or a period reserved for a renewal): their
    # provider calls go first in the card actions' budget and are never refused by it (``on_wait``: told once
    # when one has to wait its turn).

    async def cancellable(self, chat_id: int, rental_id: int) -> RentalRecord:
        """The rental, when Cancel may still be asked of its provider; else the reason, said plainly (before
        the confirm screen, and again at the confirming tap, without asking a provider that would refuse)."""
        rental = await self.active_with(chat_id, rental_id, Capability.CANCEL)
        provider = self.provider_of(rental)
        if (provider.cancel_refunds(rental.offer_id) and provider.refund_only_without_sms
                and await self.sms.for_rental(rental.id, limit=1)):
            raise errors.RefundEndedBySms()
        return rental

    async def cancel(self, chat_id: int, rental_id: int, on_wait: OnWait | None = None) -> RentalRecord:
        rental = await self.cancellable(chat_id, rental_id)
        provider = self.provider_of(rental)
        if not provider.cancel_refunds(rental.offer_id):
            # Ended, nothing back (the provider returns nothing): a renewal reserved for it comes back.
            await self._provider_call(rental.provider, provider.cancel(rental.provider_rental_id),
                                      returns_money=True, on_wait=on_wait)
            return await self.close(rental.id, "cancelled")
        wait = (rental.active_from or rental.created_at) + timedelta(seconds=provider.min_age_to_cancel) - utcnow()
        if wait.total_seconds() > 0:
            raise errors.TooEarlyToCancel(seconds=int(wait.total_seconds()) + 1)
        await self._provider_call(rental.provider, provider.cancel(rental.provider_rental_id),
                                  returns_money=True, on_wait=on_wait)
        return await self._close_with_refund(rental.id, "cancelled")

    async def finish(self, chat_id: int, rental_id: int, on_wait: OnWait | None = None) -> RentalRecord:
        rental = await self.active_with(chat_id, rental_id, Capability.FINISH)
        await self._provider_call(rental.provider, self.provider_of(rental).finish(rental.provider_rental_id),
                                  returns_money=True, on_wait=on_wait)
        return await self.close(rental.id, "finished")

    async def set_auto_renew(self, chat_id: int, rental_id: int, enabled: bool,
                             on_wait: OnWait | None = None) -> RentalRecord:
        """On only while the balance covers the next period (the operator never pays a renewal); off gives
        back a period already reserved for it."""
        rental = await self.active_with(chat_id, rental_id, Capability.AUTO_RENEW)
        if enabled:
            balance = (await self.chats.get(chat_id)).balance
            if balance < rental.renewal_price:
                raise errors.AutoRenewNeedsBalance(price=rental.renewal_price, balance=balance)
        state = await self._provider_call(
            rental.provider, self.provider_of(rental).set_auto_renew(rental.provider_rental_id, enabled),
            returns_money=not enabled, on_wait=on_wait,
        )
        async with self.db.transaction() as conn:
            updated = await RentalRepo.update(conn, rental.id, auto_renew=bool(state))
        if not state:
            await self.renewals.release(updated)
        return updated

    async def wake_up(self, chat_id: int, rental_id: int) -> str:
        rental = await self.active_with(chat_id, rental_id, Capability.WAKE_UP)
        self.cooldowns.take(rental.id, "wake")
        return await self._provider_call(rental.provider, self.provider_of(rental).wake_up(rental.provider_rental_id))

    async def refresh(self, chat_id: int, rental_id: int) -> RentalRecord:
        rental = await self.owned(chat_id, rental_id)
        if rental.status != "active" or not rental.provider_rental_id:
            return rental
        self.cooldowns.take(rental.id, "refresh")
        fresh = await self._provider_call(rental.provider,
                                          self.provider_of(rental).get_rental(rental.provider_rental_id))
        if fresh.status is RentalStatus.CANCELLED and self.cancel_refunds(rental):
            # The provider cancelled (refunded) it: the chat gets its money back the way a user's cancel does,
            # so the card's "cancelled, refunded" is true and the ledger shows the refund.
            return await self._close_with_refund(rental.id, "cancelled", "cancelled by the provider")
        status = {RentalStatus.ACTIVE: "active", RentalStatus.EXPIRED: "expired",
                  RentalStatus.CANCELLED: "cancelled"}.get(fresh.status, "finished")
        if status != "active":
            return await self.close(rental.id, status)
        async with self.db.transaction() as conn:
            till = period_end(fresh, rental.active_from, rental.duration_minutes)
            return await RentalRepo.update(conn, rental.id, active_till=till or rental.active_till,
                                           auto_renew=fresh.auto_renew)

    async def history(self, chat_id: int, rental_id: int, limit: int = 20) -> list[StoredSms]:
        """The provider's full history, stored like pushed SMS (so nothing shown here is lost), newest first."""
        rental = await self.owned(chat_id, rental_id)
        provider = self.providers.get(rental.provider)
        if (provider is not None and Capability.HISTORY in provider.capabilities_for(rental.offer_id)
                and rental.provider_rental_id
                and self.cooldowns.ready(rental.id, "history")):  # pressed again soon: what is stored is shown
            for sms in await self._provider_call(rental.provider, provider.history(rental.provider_rental_id)):
                # Stored as already delivered: history is shown on request, not pushed again.
                await self.sms.store(provider=rental.provider, provider_message_id=sms.id, rental_id=rental.id,
                                     body=sms.body, code=sms.code, sender=sms.sender, received_at=sms.received_at,
                                     delivered=True)
        return await self.sms.for_rental(rental.id, limit=limit)

    async def active_with(self, chat_id: int, rental_id: int, capability: Capability) -> RentalRecord:
        rental = await self.owned(chat_id, rental_id)
        if capability not in self.actions(rental) or not rental.provider_rental_id:
            raise errors.ActionUnavailable()
        return rental

    async def _provider_call(self, provider: str, call, *, returns_money: bool = False,
                             on_wait: OnWait | None = None):
        """A card action's provider call: drawn from the provider's budget (code polling keeps its share); one
        that gives money back is never refused by it."""
        try:
            if returns_money:
                await self.budget.spend_returning_money(provider, on_wait)
            else:
                await self.budget.spend(provider)
        except BaseException:
            call.close()  # never started
            raise
        try:
            return await call
        except ProviderError as err:
            log.warning("provider action failed: %s", err)
            raise provider_failure(err) from None

    # -- background ----------------------------------------------------------------------

    async def reconcile_pending(self, refunded: RentalTell | None = None) -> list[RentalRecord]:
        """Rentals whose rent call timed out: link them to the provider's rental, or refund (``refunded``: the
        chat's notice, written with the refund).

        Returns the rentals that changed, so the caller can tell their chats of those confirmed."""
        changed: list[RentalRecord] = []
        listings: dict[tuple[str, str], list[Rental] | None] = {}
        for rental in await self.rentals.with_status("pending"):
            age = utcnow() - rental.created_at
            if age < timedelta(seconds=20):
                continue  # the rent call itself may still be running
            provider = self.providers.get(rental.provider)
            scope = (rental.provider, provider.listing_scope(rental.offer_id) if provider else "")
            if scope not in listings:
                listings[scope] = await self._active_at(provider, rental.offer_id)
            listing = listings[scope]
            if listing is UNREACHABLE:
                continue  # never refund on a guess while the provider cannot be asked
            match = await self._match(rental, listing or [])
            if match is not None:
                try:
                    changed.append(await self.activate(rental.id, match))
                except WrongStateError:  # its own rent call closed it meanwhile (refunded): that stands
                    log.warning("rental %d: found at %s after it was closed; left closed", rental.id, rental.provider)
            # A provider with no rent list (listing is None) gets a longer wait for a webhook or late reply.
            elif age >= (RECONCILE_GRACE if listing is not None else 2 * RECONCILE_GRACE):
                await self.fail_and_refund(rental.id, "no rental appeared at the provider", refunded)
                changed.append(await self.rentals.get(rental.id))
        return changed

    async def adopt_from_sms(self, sms: Sms) -> RentalRecord | None:
        """An SMS for a provider rental we do not know, naming its service (GetAText's webhook): if exactly one
        of our pending rentals of that provider and service, made before the SMS, has no provider id yet, its
        rent reply was lost and this is its rental. Linked (the provider's own record when it answers), so the
        number and the code reach the chat. Any doubt (no service, two candidates) decides nothing."""
        if not sms.service_name:
            return None
        arrived = sms.received_at or utcnow()
        candidates = [r for r in await self.rentals.with_status("pending")
                      if r.provider == sms.provider and not r.provider_rental_id
                      and service_key(r.service_name) == service_key(sms.service_name)
                      and r.created_at - timedelta(minutes=1) <= arrived]
        if len(candidates) != 1:
            if candidates:
                log.warning("SMS for unknown %s rental %s matches %d pending rentals: not adopted",
                            sms.provider, sms.rental_id, len(candidates))
            return None
        [rental] = candidates
        found = await self._as_reported(rental, sms)
        log.info("rental %d adopted from an SMS: the provider's rental %s", rental.id, sms.rental_id)
        return await self.activate(rental.id, found)

    async def _as_reported(self, rental: RentalRecord, sms: Sms) -> Rental:
        provider = self.providers.get(rental.provider)
        if provider is not None:
            try:
                return await provider.get_rental(sms.rental_id)
            except ProviderError as err:
                log.warning("adopting rental %d: %s did not confirm (%s); using the SMS", rental.id,
                            rental.provider, err)
        minutes = rental.duration_minutes or 0
        return Rental(provider=rental.provider, id=sms.rental_id, phone=sms.phone or "", service_name=sms.service_name,
                      status=RentalStatus.ACTIVE, active_from=rental.created_at,
                      active_till=rental.created_at + timedelta(minutes=minutes) if minutes else None)

    async def _active_at(self, provider: Provider | None, plan_id: str):
        """The provider's active rentals of this plan's kind; None if it keeps no such list; UNREACHABLE if it
        did not answer."""
        if provider is None:
            return UNREACHABLE
        try:
            return await provider.list_rentals_like(plan_id)
        except perr.UnsupportedOperationError:
            return None
        except ProviderError as err:
            log.warning("reconcile: %s unreachable: %s", provider.name, err)
            return UNREACHABLE

    async def _match(self, rental: RentalRecord, candidates: list[Rental]) -> Rental | None:
        for candidate in candidates:
            if candidate.plan_id not in (None, rental.offer_id):
                continue
            if candidate.service_name and service_key(candidate.service_name) != service_key(rental.service_name):
                continue  # a number for any service (a long-term one) names none
            if candidate.active_from and candidate.active_from < rental.created_at - timedelta(minutes=2):
                continue
            if await self.rentals.find_by_provider_id(rental.provider, candidate.id) is None:
                return candidate
        return None
