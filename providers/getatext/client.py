"""``GetATextClient``: GetAText behind the bot's ``Provider`` interface, composed of the
per-area mixins (each documented call lives in the module of its area).

All GetAText numbers are US numbers, so every offer's country is "USA". A code SMS read
by polling and the same code pushed by webhook get one ``Sms.id`` (see ``webhook``).

``rent`` takes two wishes, a carrier (or keeping the carrier of a number already rented)
and a price cap; ``Rental.price`` is the reply's ``price``, what was charged, which a
carrier may make more than the listed price.

Long-term numbers (a week to a year) are plans too, whose price is a ceiling (see ``long_plans``):
rented, polled, renewed, toggled and cancelled through the same interface, under ids ``L<id>``.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from .. import errors
from ..base import Provider
from ..codes import extract_code
from ..errors import NotFoundError, ProviderError
from ..models import BillingType, Capability, Choice, Offer, Rental, RentalStatus, RentChoice, Service, SetRent, Sms
from . import long_plans
from .activations import Activations
from .auctions import Auctions
from .handler_api import HandlerApi
from .long_rentals import LongRentals
from .multi_service import MultiServiceRentals
from .replies import CANCEL_WAIT_SECONDS, PROVIDER, LongRental, _json
from .webhook import _code_sms, parse_webhook

log = logging.getLogger(__package__)  # the provider's one logger, "providers.getatext"

# How long a webhook waits for rental-status to restore a code's leading zeros: the
# sender is waiting for our reply, and the integer's digits are a usable fallback.
WEBHOOK_STATUS_SECONDS = 5.0
# How often offers re-read the list of long rentals for the prices paid lately.
LONG_PRICES_SECONDS = 600.0


class GetATextClient(Activations, MultiServiceRentals, LongRentals, Auctions, HandlerApi, Provider):
    name = PROVIDER
    title = "GetAText"
    capabilities = frozenset({Capability.CANCEL, Capability.FINISH, Capability.RENEW, Capability.WEBHOOK,
                              Capability.AUTO_RENEW, Capability.HISTORY})
    min_age_to_cancel = float(CANCEL_WAIT_SECONDS)
    auto_renew_min_minutes = long_plans.PERIODS["1w"].minutes  # long-term numbers only
    refund_only_without_sms = True  # an activation that got its code is done, not cancellable
    rent_choices = frozenset({Choice.CARRIER, Choice.MAX_PRICE})
    # The document gives "at&t" as its example and has no endpoint listing carriers: these are the big US
    # carriers a user may pick by name. The provider may know others (or spell them otherwise); none is checked.
    carriers = ("at&t", "verizon", "t-mobile")
    rents_sets = True
    # "the service combination is cached for 5-15 minutes": the longest, since which one applies is not said.
    set_refusal_seconds = 15 * 60.0

    def __init__(self, api_key: str, *, long_prices: Mapping[str, Decimal] | None = None,
                 long_margin_percent: Decimal = Decimal(20), **options) -> None:
        """``long_prices``: the operator's expected price per long period ("1w", "2w", "1m", "1y") until one is
        seen; a period with neither is not offered. ``long_margin_percent``: held above the expected price."""
        super().__init__(api_key, **options)
        unknown = set(long_prices or {}) - set(long_plans.PERIODS)
        if unknown:
            raise ValueError(f"long_prices periods must be among {sorted(long_plans.PERIODS)}, got {sorted(unknown)}")
        self._long_expected = {k: Decimal(v) for k, v in (long_prices or {}).items() if Decimal(v) > 0}
        self._long_seen: dict[str, Decimal] = {}
        self._long_margin = Decimal(long_margin_percent)
        self._long_read_at = float("-inf")

    # -- plan rules ---------------------------------------------------------------------------

    def capabilities_for(self, plan_id: str) -> frozenset[Capability]:
        if long_plans.is_long_plan(plan_id):  # no "completed" for a number kept for a while
            return self.capabilities - {Capability.FINISH, Capability.WEBHOOK}
        # An activation keeps one code at the provider, no history of them.
        return self.capabilities - {Capability.AUTO_RENEW, Capability.HISTORY}

    def choices_for(self, offer: Offer) -> frozenset[Choice]:
        return frozenset({Choice.AUTO_RENEW}) if long_plans.is_long_plan(offer.id) else self.rent_choices

    def cancel_refunds(self, plan_id: str) -> bool:
        # The document says what cancelling a long rental does to its renewal, nothing of money back.
        return not long_plans.is_long_plan(plan_id)

    def renews_in_place(self, plan_id: str) -> bool:
        return long_plans.is_long_plan(plan_id)

    def listing_scope(self, plan_id: str) -> str:
        return "long" if long_plans.is_long_plan(plan_id) else "short"

    async def list_rentals_like(self, plan_id: str) -> list[Rental]:
        if not long_plans.is_long_plan(plan_id):
            return await self.list_active_rentals()  # raises: short rentals are not listed
        return [long_plans.as_rental(r) for r in await self._read_long_rentals()
                if r.status is RentalStatus.ACTIVE]

    def long_ceilings(self) -> dict[str, Decimal]:
        """Per period, the price a long-term rent holds: the last seen (else expected) price plus the margin."""
        return {code: long_plans.ceiling(price, self._long_margin)
                for code, price in {**self._long_expected, **self._long_seen}.items()}

    def _saw_long_price(self, long_rental: LongRental) -> None:
        period = long_plans.period_from_text(long_rental.period)
        if period is not None and long_rental.price > 0:
            self._long_seen[period.code] = long_rental.price

    async def _read_long_rentals(self) -> list[LongRental]:
        listed = await self.list_long_rentals()
        self._long_read_at = time.monotonic()
        for long_rental in sorted(listed, key=lambda r: int(r.id)):  # the newest (highest id) last: it wins
            self._saw_long_price(long_rental)
        return listed

    async def _long_offers(self, service: Service) -> list[Offer]:
        if time.monotonic() - self._long_read_at >= LONG_PRICES_SECONDS:
            try:
                await self._read_long_rentals()
            except ProviderError as err:  # the activations are still offered; the prices known so far stand
                self._long_read_at = time.monotonic()
                log.warning("getatext long rentals unreadable for prices: %s", err)
        return long_plans.offers(service, self.long_ceilings())

    # -- the Provider interface ---------------------------------------------------------------

    async def list_services(self) -> list[Service]:
        seen: dict[str, Service] = {}
        for info in await self.prices_info():
            seen.setdefault(info.api_name, Service(id=info.api_name, name=info.service_name))
        return list(seen.values())

    async def list_offers(self, service: Service) -> list[Offer]:
        """One short (per-activation) offer per prices-info entry of this service, then the long-term
        numbers (see ``long_plans``), whose prices are ceilings."""
        short = [o for o in await self.list_set_offers() if o.service_id == service.id]
        return short + await self._long_offers(service) if short else short

    async def list_set_offers(self) -> list[Offer]:
        """One per-activation offer per prices-info entry, every service's (one request)."""
        return [
            Offer(
                provider=self.name,
                id=info.api_name,
                service_id=info.api_name,
                service_name=info.service_name,
                price=info.price,
                billing=BillingType.SMS,
                duration_minutes=info.ttl,
                duration_label=f"{info.ttl} min",
                country="USA",  # GetAText only sells US numbers
                stock=info.stock,
            )
            for info in await self.prices_info()
        ]

    async def rent_set(self, offers: Sequence[Offer], choice: RentChoice | None = None) -> SetRent:
        if not offers or any(o.provider != self.name or long_plans.is_long_plan(o.id) for o in offers):
            raise errors.UnsupportedOperationError("a set is made of GetAText activations", provider=self.name)
        self._check_choice(choice)
        choice = choice or RentChoice()
        # max_price: the user's cap, else the sum of the prices shown: a rise is refused instead of paid.
        cap = choice.max_price if choice.max_price is not None else sum((o.price for o in offers), Decimal(0))
        carrier = (choice.carrier or "").strip() or None
        result = await self.rent_multiple_services([o.id for o in offers], max_price=cap, carrier=carrier,
                                                   keep_carrier=choice.keep_carrier)
        return SetRent(result.rentals, result.failures, result.total_cost)

    async def get_balance(self) -> Decimal:
        return await self.balance()

    async def rent(self, offer: Offer, choice: RentChoice | None = None) -> Rental:
        self._check_choice(choice, offer)
        choice = choice or RentChoice()
        if (period := long_plans.period_of(offer.id)) is not None:
            created = await self.create_long_rental(period.code, bool(choice.auto_renew))
            self._saw_long_price(created)
            return long_plans.as_rental(created)  # its price is the reply's: what was charged
        # max_price: the user's cap, else the price we showed, so a price rise is refused instead of paid.
        cap = choice.max_price if choice.max_price is not None else offer.price
        carrier = (choice.carrier or "").strip() or None
        reply = await self.rent_a_number(offer.id, max_price=cap, carrier=carrier, keep_carrier=choice.keep_carrier)
        return reply.rental  # its price is the reply's: what was charged

    async def get_rental(self, rental_id: str) -> Rental:
        if long_plans.is_long_rental(rental_id):
            return await self._long_rental(rental_id)
        return (await self.rental_status(rental_id)).rental

    async def _long_rental(self, rental_id: str) -> Rental:
        wanted = long_plans.long_id(rental_id)
        for long_rental in await self._read_long_rentals():
            if long_rental.id == wanted:
                return long_plans.as_rental(long_rental)
        return long_plans.gone(rental_id)

    async def list_active_rentals(self) -> list[Rental]:
        """Not available: GetAText has no endpoint listing short rentals.

        Long rentals are listed, but returning only those would make a reconciler
        conclude that a short rent with an unknown outcome did not happen. Raises
        ``UnsupportedOperationError``; callers must reconcile GetAText otherwise (e.g.
        compare balances, or let the user check the number)."""
        raise errors.UnsupportedOperationError(
            "GetAText cannot list short rentals", provider=self.name
        )

    async def fetch_new_sms(self, rental_ids: Sequence[str]) -> list[Sms]:
        """One rental-status request per rental (the API has no batch read), paced by
        ``poll_interval``. The API has no message id nor SMS text: ``Sms.id`` is
        ``sms_id(rental_id, code)`` and the body is the code. A rental the provider no longer
        knows (NotFoundError) is skipped; other errors propagate."""
        found: list[Sms] = []
        for rental_id in rental_ids:
            await self._poll_pacer.wait()
            if long_plans.is_long_rental(rental_id):
                found += await self._long_messages(rental_id)
                continue
            try:
                reply = await self.rental_status(rental_id)
            except NotFoundError:
                log.warning("getatext rental %s not found while polling; skipped", rental_id)
                continue
            if reply.code:
                found.append(_code_sms(reply.rental.id, reply.code, phone=reply.rental.phone,
                                       service_name=reply.rental.service_name or None))
        return found

    async def _long_messages(self, rental_id: str) -> list[Sms]:
        """The long-rental messages call: every message the rental received (no "new" filter is documented),
        oldest first; stored idempotently by the caller."""
        try:
            messages = await self.long_rental_messages(long_plans.long_id(rental_id))
        except NotFoundError:
            log.warning("getatext long rental %s not found while polling; skipped", rental_id)
            return []
        found = [long_plans.as_sms(rental_id, m) for m in messages]
        return sorted(found, key=lambda s: s.received_at.timestamp() if s.received_at else 0.0)

    async def history(self, rental_id: str) -> list[Sms]:
        """A long rental's messages, oldest first. Activations keep no history (their one code is polled)."""
        if not long_plans.is_long_rental(rental_id):
            raise self._unsupported(Capability.HISTORY)
        return await self._long_messages(rental_id)

    async def set_auto_renew(self, rental_id: str, enabled: bool) -> bool:
        if not long_plans.is_long_rental(rental_id):
            raise self._unsupported(Capability.AUTO_RENEW)
        updated = await self.update_long_rental(long_plans.long_id(rental_id), "auto_renew", auto_renew=enabled)
        return updated.auto_renew

    async def webhook_sms(self, payload: bytes | str | dict) -> Sms:
        """``parse_webhook``, with the digits a JSON-integer ``code`` may have lost.

        rental-status reports the code as a string; when it is the same number, its digits
        win ("012345" for the webhook's 12345). If that read fails or is slow, the SMS keeps
        the integer's digits: a code with a missing zero beats a lost code. Sms.id is the
        same either way (see ``sms_id``)."""
        data = _json(payload, "webhook")
        sms = parse_webhook(data)
        code = data.get("code")
        if isinstance(code, bool) or not isinstance(code, int):
            return sms  # a string keeps every digit it was sent with
        try:
            async with asyncio.timeout(WEBHOOK_STATUS_SECONDS):
                polled = (await self.rental_status(sms.rental_id)).code
        except (ProviderError, TimeoutError) as err:
            log.warning("getatext webhook for rental %s: status read failed (%s); code kept as sent",
                        sms.rental_id, err)
            return sms
        if polled is None or not polled.isdigit() or int(polled) != code or polled == sms.code:
            return sms  # no code yet, or a different (newer) one: the webhook's is the one it announced
        return replace(sms, body=polled, code=extract_code(polled, polled))

    async def cancel(self, rental_id: str) -> Rental:
        if long_plans.is_long_rental(rental_id):
            updated = await self.update_long_rental(long_plans.long_id(rental_id), "cancel")
            return replace(long_plans.as_rental(updated), status=RentalStatus.CANCELLED)
        return (await self.cancel_rental(rental_id)).rental

    async def finish(self, rental_id: str) -> Rental:
        if long_plans.is_long_rental(rental_id):
            raise self._unsupported(Capability.FINISH)
        return (await self.mark_completed(rental_id)).rental

    async def renew(self, rental_id: str) -> Rental:
        """An activation: re-rents the number, under a new id. A long rental: one more period, same id."""
        if long_plans.is_long_rental(rental_id):
            renewed = await self.update_long_rental(long_plans.long_id(rental_id), "renew")
            self._saw_long_price(renewed)
            return long_plans.as_rental(renewed)
        return (await self.re_rent(rental_id)).rental
