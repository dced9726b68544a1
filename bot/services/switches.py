"""Switching a daily rent to a longer plan: quote, charge, call the provider, settle; reconcile when the answer was
lost.

Same discipline as renting: the charge and a pending row are written together before the provider is
called; a refusal refunds at once; a lost answer stays pending until the provider's rental shows the new
plan (done) or, after a grace period, still shows the old one (refunded). The chat is told either way."""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from providers import Capability, Offer, ProviderError, Rental
from providers import errors as perr
from storage import InsufficientBalanceError, PlanSwitch, PlanSwitchRepo, RentalRecord, notes
from storage.models import utcnow

from . import errors
from .catalogue import service_key
from .offers import PricedOffer
from .rentals import RECONCILE_GRACE, RentalService, provider_failure

log = logging.getLogger(__name__)

MONTH_MINUTES = 28 * 24 * 60


class SwitchPending(errors.UserFacingError):
    """The provider did not answer: charged and kept pending; the chat is told when it is settled."""

    key = "error-switch-pending"


@dataclass(frozen=True, slots=True)
class SwitchQuote:
    rental: RentalRecord
    offer: Offer
    price: int
    ends_about: datetime | None  # the provider counts the new plan from the rent's start


@dataclass(frozen=True, slots=True)
class SwitchOutcome:
    """A pending switch the reconciler settled: ``rental`` after it, and whether the chat got its money back."""

    switch: PlanSwitch
    rental: RentalRecord
    refunded: bool


class PlanSwitches:
    def __init__(self, rentals: RentalService) -> None:
        self.rentals = rentals
        self.repo = PlanSwitchRepo(rentals.db)

    async def offers(self, chat_id: int, rental_id: int) -> tuple[RentalRecord, int, list[PricedOffer]]:
        """Longer plans this rent can switch to, saved as a snapshot for the buttons."""
        rental = await self.rentals.active_with(chat_id, rental_id, Capability.TRANSITION)
        catalogue = self.rentals.catalogue
        service = await catalogue.service(service_key(rental.service_name))
        if service is None:
            raise errors.ActionUnavailable()
        offers, _ = await catalogue.offers(service)
        longer = [p for p in offers if p.offer.provider == rental.provider
                  and (p.offer.duration_minutes or 0) >= MONTH_MINUTES]
        if not longer:
            raise errors.ActionUnavailable()
        snapshot = await self.rentals.snapshot(chat_id, service.key, service.name, [p.offer for p in longer])
        return rental, snapshot, longer

    async def quote(self, chat_id: int, rental_id: int, snapshot_id: int, index: int) -> SwitchQuote:
        rental = await self.rentals.active_with(chat_id, rental_id, Capability.TRANSITION)
        offer, price = await self.rentals.offer_in_snapshot(chat_id, snapshot_id, index)
        start = rental.active_from or utcnow()
        ends = start + timedelta(minutes=offer.duration_minutes) if offer.duration_minutes else None
        return SwitchQuote(rental, offer, price, ends)

    async def switch(self, chat_id: int, user_id: int, rental_id: int, snapshot_id: int, index: int,
                     nonce: str) -> RentalRecord:
        quote = await self.quote(chat_id, rental_id, snapshot_id, index)
        rental, offer = quote.rental, quote.offer
        if await self.repo.pending_for(rental.id) is not None:
            raise SwitchPending()
        key = f"transition:{rental.id}:{snapshot_id}:{index}:{nonce}"
        try:
            async with self.rentals.db.transaction() as conn:
                switch = await PlanSwitchRepo.open_charged(
                    conn, rental, user_id=user_id, offer_id=offer.id, duration_label=offer.duration_label,
                    duration_minutes=offer.duration_minutes, price=quote.price, provider_cost=str(offer.price),
                    request_key=key,
                    note=notes.make("switch", service=rental.service_name, minutes=offer.duration_minutes,
                                    label=offer.duration_label))
        except sqlite3.IntegrityError:
            raise errors.AlreadyRequested(rental_id=rental.id) from None
        except InsufficientBalanceError as err:
            raise errors.NotEnoughBalance(missing=err.missing, price=quote.price, balance=err.balance) from None
        provider = self.rentals.provider_of(rental)
        try:
            result: Rental = await provider.transition(rental.provider_rental_id, offer.id)
        except perr.OutcomeUnknownError as err:
            log.warning("plan switch %d of rental %d: outcome unknown (%s); kept pending", switch.id, rental.id, err)
            raise SwitchPending() from None
        except ProviderError as err:
            log.warning("plan switch %d of rental %d refused: %s", switch.id, rental.id, err)
            await self.repo.refund(switch.id, notes.make("switch-failed"))
            raise provider_failure(err) from None
        # Any other exception (a bug, a cancel) leaves the switch pending: it may have come after the
        # provider acted, so the reconciler decides from the provider's rental.
        done = await self.repo.complete(switch.id, result.active_till)
        return done or await self.rentals.rentals.get(rental.id)

    async def reconcile(self, grace: timedelta = RECONCILE_GRACE,
                        refunded: Callable[[aiosqlite.Connection, PlanSwitch, str], Awaitable[object]] | None = None,
                        ) -> list[SwitchOutcome]:
        """Pending switches: the provider's rental shows the new plan (done), or still the old one after
        ``grace`` (refunded; ``refunded(conn, switch, ledger key)`` writes the chat's notice with the refund). A
        provider that cannot be asked decides nothing."""
        settled: list[SwitchOutcome] = []
        for switch in await self.repo.pending():
            age = utcnow() - switch.created_at
            if age < timedelta(seconds=20):
                continue  # the call itself may still be running
            rental = await self.rentals.rentals.get(switch.rental_id)
            provider = self.rentals.providers.get(rental.provider)
            if provider is None:
                continue
            try:
                fresh = await provider.get_rental(rental.provider_rental_id)
            except ProviderError as err:
                log.warning("reconcile plan switch %d: %s unreachable: %s", switch.id, rental.provider, err)
                continue
            if _shows_new_plan(fresh, switch):
                done = await self.repo.complete(switch.id, fresh.active_till)
                if done is not None:
                    settled.append(SwitchOutcome(switch, done, refunded=False))
            elif age >= grace:
                if await self.repo.refund(switch.id, notes.make("switch-not-made"), refunded) is not None:
                    settled.append(SwitchOutcome(switch, await self.rentals.rentals.get(rental.id), refunded=True))
        return settled


def _shows_new_plan(fresh: Rental, switch: PlanSwitch) -> bool:
    if fresh.plan_id is not None:
        return fresh.plan_id == switch.offer_id
    # A provider that names no plan: a switch to a longer plan moves the end well past where it was.
    return bool(fresh.active_till and switch.active_till_before and fresh.active_till > switch.active_till_before
                + timedelta(days=1))
