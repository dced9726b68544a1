"""One number for several services (GetAText rent-multiple-services): picked from a plan list, quoted as the
sum of the listed prices, charged once for the set, rented in one request. Each service is a rental of its own
(its codes, its no-code refund, its cancel), tied to the others by ``set_id`` and shown on one card.

A combination the provider refused is refused by it again for a while (GetAText: 5-15 minutes): remembered, said
with its end, and not sent again until then."""
from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from providers import Capability, Offer, Provider, ProviderError
from providers import errors as perr
from storage import Database, InsufficientBalanceError, RentalRecord, RentalRepo, SmsRepo, SnapshotRepo, ledger
from storage.models import utcnow
from storage.sets import RefusedSets

from . import errors
from .budget import OnWait
from .catalogue import Catalogue, service_key
from .offers import PricedOffer, offer_from_dict, offer_to_dict
from .rentals import SNAPSHOT_MAX_AGE, RentalService, provider_failure

log = logging.getLogger(__name__)

SET_MAX = 5  # services on one number: the document names no limit; a card and a phone screen stay readable
CANDIDATES_MAX = 40  # services offered to add (the most rented first): the set travels as a bit mask


@dataclass(frozen=True, slots=True)
class SetQuote:
    provider: Provider
    offers: list[Offer]  # the services picked, the plan list's one first
    prices: list[int]  # what the chat pays for each, minor units
    refused: tuple[datetime, str] | None  # the provider refuses this combination until then, and why

    @property
    def total(self) -> int:
        return sum(self.prices)

    @property
    def names(self) -> str:
        return " + ".join(o.service_name for o in self.offers)


def picked(mask: int, size: int) -> list[int]:
    """Indexes a mask names, the first (the plan list's service) always among them."""
    return [i for i in range(size) if mask >> i & 1]


class ServiceSets:
    def __init__(self, db: Database, rentals: RentalService, catalogue: Catalogue) -> None:
        self.db = db
        self.rentals = rentals
        self.catalogue = catalogue
        self.snapshots = SnapshotRepo(db)
        self.refusals = RefusedSets(db)
        self.sms = SmsRepo(db)

    def offered_for(self, offer: Offer) -> bool:
        provider = self.rentals.providers.get(offer.provider)
        return provider is not None and provider.rents_sets and not offer.price_upto

    # -- choosing ------------------------------------------------------------------------

    async def start(self, chat_id: int, snapshot_id: int, index: int) -> int:
        """From a plan in a plan list: a snapshot of that plan first, then the other services its provider can
        put on the same number, in stock, the most rented first. Buttons name them by a bit mask over it."""
        base, _ = await self.rentals.offer_in_snapshot(chat_id, snapshot_id, index)
        if not self.offered_for(base):
            raise errors.StaleButton()
        others = [p for p in await self.catalogue.set_offers(base.provider)
                  if service_key(p.offer.service_name) != service_key(base.service_name)
                  and (p.offer.stock is None or p.offer.stock > 0)]
        order = {s.key: n for n, s in enumerate(await self.catalogue.services())}
        others.sort(key=lambda p: (order.get(service_key(p.offer.service_name), len(order)), p.price))
        offers = [base] + [p.offer for p in others[:CANDIDATES_MAX]]
        return await self.snapshots.save(chat_id, "set:" + service_key(base.service_name), base.service_name,
                                         [offer_to_dict(o) for o in offers])

    async def candidates(self, chat_id: int, snapshot_id: int) -> list[PricedOffer]:
        snapshot = await self.snapshots.get(snapshot_id, chat_id, SNAPSHOT_MAX_AGE)
        if snapshot is None or not snapshot["service_key"].startswith("set:"):
            raise errors.OfferExpired()
        return [PricedOffer(o, self.catalogue.price(o)) for o in map(offer_from_dict, snapshot["offers"])]

    async def quote(self, chat_id: int, snapshot_id: int, mask: int) -> SetQuote:
        """The set a button names; a forged mask (without the first service, too many, out of range) is stale."""
        offered = await self.candidates(chat_id, snapshot_id)
        chosen = picked(mask, len(offered))
        if not mask & 1 or mask >> len(offered) or len(chosen) > SET_MAX:
            raise errors.StaleButton()
        provider = self.rentals.providers.get(offered[0].offer.provider)
        if provider is None or not provider.rents_sets:
            raise errors.ProviderUnavailable()
        offers = [offered[i].offer for i in chosen]
        refused = await self.refusals.refused_until(provider.name, [o.id for o in offers]) if len(offers) > 1 else None
        return SetQuote(provider, offers, [offered[i].price for i in chosen], refused)

    # -- renting -------------------------------------------------------------------------

    async def rent(self, chat_id: int, user_id: int, user_name: str, snapshot_id: int, mask: int,
                   nonce: str) -> list[RentalRecord]:
        """One charge for the set, one request; each service's rental activated or refunded by itself."""
        quote = await self.quote(chat_id, snapshot_id, mask)
        if len(quote.offers) < 2:
            raise errors.StaleButton()
        if quote.refused is not None:
            raise self._refused(quote, quote.refused[0])
        key = f"set:{chat_id}:{snapshot_id}:{mask}:{nonce}"
        members = await self._charge_pending(chat_id, user_id, user_name, quote, key)
        try:
            result = await quote.provider.rent_set(quote.offers)
        except perr.OutcomeUnknownError as err:
            # Whether the number was rented is not known: every rental stays pending for the reconciler (an SMS
            # naming its service links it; none in time refunds it). Never refunded on a guess.
            log.warning("set %d: outcome unknown (%s); kept pending for reconciliation", members[0].id, err)
            return members
        except ProviderError as err:
            for member in members:
                await self.rentals.fail_and_refund(member.id, str(err))
            # Refused as a combination (not for its price: the cap is the sum shown): the provider keeps
            # refusing it for a while, so it is remembered and not sent again until then.
            if (isinstance(err, (perr.NothingAvailableError, perr.ProviderRejectedError))
                    and "price" not in err.message.lower()):
                until = utcnow() + timedelta(seconds=quote.provider.set_refusal_seconds)
                await self.refusals.remember(quote.provider.name, [o.id for o in quote.offers], until, err.message)
                raise self._refused(quote, until) from None
            raise provider_failure(err) from None
        except BaseException:
            log.warning("set %d: the provider call did not finish; kept pending for reconciliation", members[0].id)
            raise
        return await self._settle(members, result)

    async def _charge_pending(self, chat_id: int, user_id: int, user_name: str, quote: SetQuote,
                              key: str) -> list[RentalRecord]:
        members: list[RentalRecord] = []
        try:
            async with self.db.transaction() as conn:
                for n, (offer, price) in enumerate(zip(quote.offers, quote.prices, strict=True)):
                    member = await RentalRepo.insert_pending(
                        conn, chat_id=chat_id, user_id=user_id, user_name=user_name, provider=offer.provider,
                        offer_id=offer.id, service_name=offer.service_name, billing=str(offer.billing),
                        duration_label=offer.duration_label, country=offer.country,
                        duration_minutes=offer.duration_minutes, price_charged=price, period_price=price,
                        provider_cost=str(offer.price), request_key=f"{key}:{n}",
                        # Held: the reply names each entry's price, and the rental settles to it.
                        price_held=price if price > 0 else None,
                        set_id=members[0].id if members else None,
                    )
                    if not members:
                        member = await RentalRepo.update(conn, member.id, set_id=member.id)
                    members.append(member)
                if quote.total > 0:
                    await ledger.post(conn, chat_id, -quote.total, "charge", f"set:{members[0].id}",
                                      actor_id=user_id, note=quote.names)
        except sqlite3.IntegrityError:
            existing = await self.rentals.rentals.get_by_request_key(f"{key}:0")
            if existing is None:
                raise
            raise errors.AlreadyRequested(rental_id=existing.id) from None
        except InsufficientBalanceError as err:
            raise errors.NotEnoughBalance(missing=err.missing, price=quote.total, balance=err.balance) from None
        return members

    async def _settle(self, members: list[RentalRecord], result) -> list[RentalRecord]:
        """Each entry the provider paid for activates the rental of its service (settled to the entry's price);
        a service with no such entry is refunded, with the provider's words."""
        waiting = list(members)
        done: list[RentalRecord] = []
        for rental in result.rentals:
            member = next((m for m in waiting if service_key(m.service_name) == service_key(rental.service_name)),
                          None)
            if member is None:
                log.warning("set %d: %s rented %s, not asked for; left to the provider's expiry",
                            members[0].id, members[0].provider, rental.service_name)
                continue
            waiting.remove(member)
            done.append(await self.rentals.activate(member.id, rental))
        reason = "; ".join(result.failures) or "not rented by the provider"
        for member in waiting:
            log.warning("set %d: %s not rented (%s); refunded", members[0].id, member.service_name, reason)
            await self.rentals.fail_and_refund(member.id, reason)
        return [await self.rentals.rentals.get(m.id) for m in members]

    def _refused(self, quote: SetQuote, until: datetime) -> errors.UserFacingError:
        minutes = max(1, -(-int((until - utcnow()).total_seconds()) // 60))
        return errors.SetRefused(services=quote.names, minutes=minutes)

    # -- the card ------------------------------------------------------------------------

    async def members(self, rental: RentalRecord) -> list[RentalRecord]:
        return await self.rentals.rentals.in_set(rental.set_id) if rental.set_id else [rental]

    async def cancellable(self, chat_id: int, set_id: int) -> list[RentalRecord]:
        """The services of the set that can still be cancelled (no code yet, where the provider refunds only
        until one)."""
        first = await self.rentals.owned(chat_id, set_id)
        found = []
        for member in await self.members(first):
            has_sms = bool(await self.sms.for_rental(member.id, limit=1))
            if Capability.CANCEL in self.rentals.actions(member, has_sms=has_sms):
                found.append(member)
        return found

    async def cancel(self, chat_id: int, set_id: int, on_wait: OnWait | None = None) -> tuple[int, int]:
        """Cancels every service of the set that can still be cancelled (no code yet, where the provider refunds
        only until one): (services cancelled, money back). Those with a code stay until they end. ``on_wait``: as
        RentalService.cancel's (told for each service that waits)."""
        cancelled = back = 0
        for member in await self.cancellable(chat_id, set_id):
            done = await self.rentals.cancel(chat_id, member.id, on_wait)
            cancelled += 1
            back += done.price_charged if done.status == "cancelled" else 0
        if not cancelled:
            raise errors.ActionUnavailable()
        return cancelled, back
