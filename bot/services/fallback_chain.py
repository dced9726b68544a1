"""The fallback chain (issue 17): "if no code in N minutes, try the next plan", within a budget the user agreed to.

A chain starts at a Rent tap with the option on. Each attempt is an ordinary rental (charged, refunded through the
ledger, under the quote lock) whose request key is ``chain:<id>:<n>``, so a kill and restart can never rent one
attempt twice. Its ``ChainGuard`` runs inside the charging transaction: the chain still running, charged minus
refunded for it plus this price within the budget, and the rental linked as the chain's next attempt, all in the
one transaction that charges it.

The step job moves every open chain on from what the database says, so it resumes after any crash:
- an attempt received an SMS: done (the code is pushed as usual);
- the last attempt is pending (its rent call's outcome unknown): wait for the reconciler;
- the last attempt is active past its wait: cancelled and refunded like "no code, no charge" (three outcomes, an
  unanswered cancel asked again next round);
- the last attempt ended without a code: the next plan is rented: same country and provider first, then the same
  country at other providers, then other countries if allowed, each tier ranked by the delivery record; the first
  whose price fits what is left of the budget. None left: exhausted, with why each plan left over was not tried.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from providers import BillingType, Offer
from storage import Database, RentalRecord, RentalRepo
from storage.fallback_chain import ChainRecord, ChainRepo, FallbackPrefs
from storage.models import utcnow

from . import delivery_record, errors, localize
from .catalogue import Catalogue, service_key
from .choosing import Wishes
from .no_code import LEAD, NoCodeRefunds
from .offers import PricedOffer, offer_from_dict, offer_to_dict
from .rentals import RentalService, RentRequest

log = logging.getLogger(__name__)

BUDGET_PERCENTS = (150, 200, 300, 500)  # of the first price: the confirm screen's choices, 2x first
WINDOWS = (10, 5, 3, 1)  # minutes, offered below an activation's own wait (0: its own)
FIRST_GRACE = timedelta(seconds=30)  # a chain with no attempt yet: the tap's own rent may still be at work
SHOWN_MAX = 1000  # the card states last drawn, bounded (only open chains are kept)

# Why a plan left over was not tried, in the order the card lists them: its rent was refused, the chain's rules
# (one-time activations only, the country), then what it found (sold out, dearer than the budget left).
UNTRIED = ("refused", "rental", "elsewhere", "sold_out", "over_budget")

# Plans that could not be rented now: the chain goes on with the next one.
SKIPPED = (errors.QuoteRose, errors.NothingAvailable, errors.NoNumberInArea, errors.ProviderUnavailable,
           errors.ProviderRefused, errors.ProviderBusy)

Permit = Callable[[int, int], Awaitable[object]]  # (chat id, user id) -> the member's budget or None; raises


class ChainStopped(errors.UserFacingError):
    key = "error-chain-stopped"


class OverChainBudget(errors.UserFacingError):
    key = "error-chain-budget"


def budget_for(price: int, percent: int) -> int:
    return price * percent // 100


def windows_for(own_minutes: int | None) -> tuple[int, ...]:
    """The waits offered: the activation's own (0), then each shorter one."""
    return (0, *(w for w in WINDOWS if own_minutes is None or w < own_minutes))


def offers_fallback(offer: Offer) -> bool:
    """Only one-time activations: a number paid for time has no "no code" moment."""
    return offer.billing == BillingType.SMS and not offer.price_upto


@dataclass(frozen=True, slots=True)
class ChainGuard:
    """``RentRequest.budget`` of an attempt: checked in the transaction that charges it (after its row is
    written, before its charge), so concurrent steps and taps cannot pass the budget together."""

    chain_id: int
    budget: int
    key: str
    member: object = None  # a member's MemberBudget, checked as well

    async def check(self, conn, chat_id: int, user_id: int, price: int) -> None:
        if await ChainRepo.status_in(conn, self.chain_id) != "running":
            raise ChainStopped()
        spent = await ChainRepo.spent_in(conn, self.chain_id, chat_id)
        if spent + price > self.budget:
            raise OverChainBudget()
        if self.member is not None:
            await self.member.check(conn, chat_id, user_id, price)
        rental_id = await RentalRepo.id_by_request_key(conn, self.key)
        await ChainRepo.add_attempt(conn, self.chain_id, rental_id)


@dataclass(frozen=True, slots=True)
class ChainView:
    """What the chain's card shows."""

    chain: ChainRecord
    attempts: list[RentalRecord]
    spent: int
    with_code: int | None  # the rental that received the code
    gives_up_at: datetime | None  # when the current attempt is given up (its next plan tried)

    @property
    def current(self) -> RentalRecord | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def left(self) -> int:
        return max(self.chain.budget - self.spent, 0)


async def _no_further_attempt(chat_id: int, user_id: int) -> None:
    """The permit of a chain being stopped: it makes no attempt (its advance only cancels the current one)."""
    raise errors.NotAllowed()


class FallbackChains:
    def __init__(self, db: Database, rentals: RentalService, catalogue: Catalogue,
                 no_code: NoCodeRefunds | None = None) -> None:
        self.repo = ChainRepo(db)
        self.rentals = rentals
        self.catalogue = catalogue
        self.no_code = no_code or NoCodeRefunds(rentals)
        self._shown: dict[int, tuple] = {}

    # -- the confirm screen's choice -------------------------------------------------------

    async def prefs(self, chat_id: int, service_key: str) -> FallbackPrefs:
        """On only for a service it was switched on for: one chosen for Telegram does not follow into WhatsApp."""
        return await self.repo.prefs(chat_id, service_key)

    async def set_prefs(self, chat_id: int, service_key: str, prefs: FallbackPrefs) -> None:
        await self.repo.set_prefs(chat_id, service_key, prefs)

    # -- starting --------------------------------------------------------------------------

    async def start(self, request: RentRequest, budget: int) -> tuple[ChainRecord, RentalRecord]:
        """The Rent tap with the option on: the chain, then its first attempt (the plan tapped, with the tap's
        wishes). Refused before renting (price rose, sold out, balance): the chain ends, costing nothing, and
        the error goes back to the tap. A second tap of the same button: AlreadyRequested."""
        offer, _ = await self.rentals.offer_in_snapshot(request.chat_id, request.snapshot_id, request.index)
        if not offers_fallback(offer):
            raise errors.StaleButton()
        prefs = await self.repo.prefs(request.chat_id, service_key(offer.service_name))
        key = f"rent:{request.chat_id}:{request.snapshot_id}:{request.index}:{request.nonce}"
        chain = await self.repo.create(
            chat_id=request.chat_id, user_id=request.user_id, user_name=request.user_name,
            service_key=service_key(offer.service_name), service_name=offer.service_name,
            first_offer=offer_to_dict(offer), country=offer.country, other_countries=prefs.other_countries,
            window_minutes=prefs.window_minutes, budget=budget, request_key=key)
        if chain is None:
            earlier = await self.repo.by_key(key)
            attempts = await self.repo.attempts(earlier.id) if earlier else []
            raise errors.AlreadyRequested(rental_id=attempts[0].id if attempts else 0)
        try:
            rental = await self._attempt(chain, offer, request.wishes, request.budget, 1)
        except errors.UserFacingError as err:
            await self.repo.set_status(chain.id, "ended", err.key)
            raise
        return chain, rental

    async def _attempt(self, chain: ChainRecord, offer: Offer, wishes: Wishes, member, number: int) -> RentalRecord:
        key = f"chain:{chain.id}:{number}"
        guard = ChainGuard(chain.id, chain.budget, key, member)
        return await self.rentals.rent(RentRequest.for_offer(chain.chat_id, chain.user_id, chain.user_name, offer,
                                                             key, wishes, guard))

    # -- the card's Stop -------------------------------------------------------------------

    async def stop(self, chat_id: int, chain_id: int) -> ChainRecord:
        """No further attempt from now on (the guard refuses one already under way); the current number is
        cancelled and refunded as soon as its provider allows (at once when it does)."""
        chain = await self.owned(chat_id, chain_id)
        if chain.status == "running":
            await self.repo.set_status(chain.id, "stopping", "stopped", only_from=("running",))
        await self.advance(await self.repo.get(chain.id), _no_further_attempt)
        return await self.repo.get(chain.id)

    async def owned(self, chat_id: int, chain_id: int) -> ChainRecord:
        chain = await self.repo.get(chain_id)
        if chain is None or chain.chat_id != chat_id:
            raise errors.StaleButton()
        return chain

    # -- the step job ----------------------------------------------------------------------

    async def step(self, permit: Permit) -> list[int]:
        """One round over the open chains; returns those whose card should be drawn again. ``permit``: may a
        chain's user still spend the chat's balance (asked before each attempt after the first)."""
        changed = []
        open_ids = set()
        for chain in await self.repo.open():
            open_ids.add(chain.id)
            try:
                await self.advance(chain, permit)
            except Exception:  # noqa: BLE001 - one chain's bug must not stop the others; asked again next round
                log.exception("fallback chain %d: step failed", chain.id)
            if await self._changed(chain.id):
                changed.append(chain.id)
        for gone in set(self._shown) - open_ids - set(changed):
            del self._shown[gone]
        return changed

    async def _changed(self, chain_id: int) -> bool:
        view = await self.view(chain_id)
        state = (view.chain.status, view.with_code, view.spent,
                 tuple((r.id, r.status, r.phone, r.no_code) for r in view.attempts))
        if self._shown.get(chain_id) == state:
            return False
        self._shown[chain_id] = state
        while len(self._shown) > SHOWN_MAX:
            self._shown.pop(next(iter(self._shown)))
        return True

    def drawn(self, view: ChainView) -> None:
        """The card was drawn from ``view`` (by the tap): the step job need not draw it again."""
        self._shown[view.chain.id] = (view.chain.status, view.with_code, view.spent,
                                      tuple((r.id, r.status, r.phone, r.no_code) for r in view.attempts))

    async def advance(self, chain: ChainRecord, permit: Permit) -> None:
        if not chain.is_open:
            return
        if await self.repo.with_code(chain.id) is not None:
            await self.repo.set_status(chain.id, "done")
            return
        attempts = await self.repo.attempts(chain.id)
        last = attempts[-1] if attempts else None
        if chain.status == "stopping":
            if last is not None and last.status == "pending":
                return  # its outcome first: a number that did rent is cancelled then
            if last is not None and last.status == "active" and last.no_code is None:
                if not await self._give_up(last):
                    return  # too young to cancel, or no answer: the next round asks again
            if await self.repo.with_code(chain.id) is not None:
                await self.repo.set_status(chain.id, "done")
            else:
                await self.repo.set_status(chain.id, "stopped", "stopped", only_from=("stopping",))
            return
        if last is None:
            if utcnow() - chain.created_at >= FIRST_GRACE:  # the tap's rent never happened (killed before it)
                await self._next(chain, attempts, permit)
            return
        if last.status == "pending":
            return  # its rent call's outcome is the reconciler's to decide
        if last.status == "active" and last.no_code is None:
            if utcnow() < self.gives_up_at(chain, last) or not await self._give_up(last):
                return
            if await self.repo.with_code(chain.id) is not None:  # a code came while it was cancelled
                await self.repo.set_status(chain.id, "done")
                return
            attempts = await self.repo.attempts(chain.id)
        await self._next(chain, attempts, permit)

    def gives_up_at(self, chain: ChainRecord, rental: RentalRecord) -> datetime:
        """The chain's wait, or shortly before the activation ends (as "no code, no charge" does), whichever is
        first; never before the provider accepts a cancel."""
        start = rental.active_from or rental.created_at
        ends = [rental.active_till - LEAD] if rental.active_till else []
        if chain.window_minutes or not ends:
            ends.append(start + timedelta(minutes=chain.window_minutes or rental.duration_minutes or 20))
        provider = self.rentals.providers.get(rental.provider)
        youngest = start + timedelta(seconds=provider.min_age_to_cancel if provider else 0)
        return max(min(ends), youngest)

    async def _give_up(self, rental: RentalRecord) -> bool:
        """Cancel and refund the attempt; True once decided (refunded, or refused: then no refund)."""
        provider = self.rentals.providers.get(rental.provider)
        if provider is None:
            return False
        start = rental.active_from or rental.created_at
        if start + timedelta(seconds=provider.min_age_to_cancel) > utcnow():
            return False
        await self.no_code.cancel(rental)
        fresh = await self.rentals.rentals.get(rental.id)
        return fresh.status != "active" or fresh.no_code is not None

    async def _next(self, chain: ChainRecord, attempts: list[RentalRecord], permit: Permit) -> None:
        member = None
        if attempts:  # the first attempt's right was checked at the tap
            try:
                member = await permit(chain.chat_id, chain.user_id)
            except errors.UserFacingError as err:
                await self.repo.set_status(chain.id, "ended", err.key)
                return
        spent = await self.repo.spent(chain)
        too_dear = False
        for priced in await self.candidates(chain, attempts):
            if spent + priced.price > chain.budget:
                too_dear = True
                continue
            offer = priced.offer
            try:
                await self._attempt(chain, offer, Wishes(), member, len(attempts) + 1)
            except (errors.AlreadyRequested, ChainStopped):
                return  # another path made this attempt, or stopped the chain
            except OverChainBudget:
                too_dear = True
                continue
            except errors.NotEnoughBalance as err:
                await self.repo.set_status(chain.id, "ended", err.key)
                return
            except SKIPPED as err:
                log.info("fallback chain %d: %s %s skipped (%s)", chain.id, offer.provider, offer.id, err.key)
                if isinstance(err, errors.NothingAvailable):
                    await self.catalogue.sold_out(offer)
                await self.repo.add_tried(chain, offer.provider, offer.id)
                chain = await self.repo.get(chain.id)
                attempts = await self.repo.attempts(chain.id)  # one charged and refunded is an attempt too
                spent = await self.repo.spent(chain)
                continue
            except errors.UserFacingError as err:  # a member's limit or cap: the chain ends, said on its card
                await self.repo.set_status(chain.id, "ended", err.key)
                return
            return
        await self.repo.set_status(chain.id, "exhausted", "budget" if too_dear else "none",
                                   untried=await self.untried(chain, attempts))

    async def candidates(self, chain: ChainRecord, attempts: list[RentalRecord]) -> list[PricedOffer]:
        """The plans still to try, best first (the plan tapped, when no attempt was made yet)."""
        first = offer_from_dict(chain.first_offer)
        if not attempts and (first.provider, first.id) not in chain.tried:
            return [PricedOffer(first, self.catalogue.price(first))]
        service = await self.catalogue.service(chain.service_key)
        if service is None:
            return []
        priced, _ = await self.catalogue.offers(service)
        tried = chain.tried | {(r.provider, r.offer_id) for r in attempts}
        pool = [p for p in priced if offers_fallback(p.offer) and (p.offer.provider, p.offer.id) not in tried
                and p.offer.stock != 0 and not self.catalogue.is_sold_out(p.offer)]
        home = localize.country_key(chain.country)
        here = [p for p in pool if localize.country_key(p.offer.country) == home]
        tiers = [[p for p in here if p.offer.provider == first.provider],
                 [p for p in here if p.offer.provider != first.provider]]
        if chain.other_countries:
            tiers.append([p for p in pool if localize.country_key(p.offer.country) != home])
        records = await self.catalogue.records.figures(service.name)
        return [p for tier in tiers for p in delivery_record.rank(tier, records)]

    async def untried(self, chain: ChainRecord, attempts: list[RentalRecord]) -> dict[str, int]:
        """Why each plan of the service not attempted was left: {reason (UNTRIED): how many}."""
        service = await self.catalogue.service(chain.service_key)
        if service is None:
            return {}
        priced, _ = await self.catalogue.offers(service)
        attempted = {(r.provider, r.offer_id) for r in attempts}
        left = chain.budget - await self.repo.spent(chain)
        home = localize.country_key(chain.country)
        reasons = Counter()
        for p in priced:
            plan = (p.offer.provider, p.offer.id)
            if plan in attempted:
                continue  # on the card as an attempt
            if plan in chain.tried:
                reasons["refused"] += 1
            elif not offers_fallback(p.offer):
                reasons["rental"] += 1
            elif not chain.other_countries and localize.country_key(p.offer.country) != home:
                reasons["elsewhere"] += 1
            elif p.offer.stock == 0 or self.catalogue.is_sold_out(p.offer):
                reasons["sold_out"] += 1
            elif p.price > left:
                reasons["over_budget"] += 1
        return {reason: reasons[reason] for reason in UNTRIED if reasons[reason]}

    # -- the card --------------------------------------------------------------------------

    async def view(self, chain_id: int) -> ChainView:
        chain = await self.repo.get(chain_id)
        attempts = await self.repo.attempts(chain_id)
        last = attempts[-1] if attempts else None
        gives_up = (self.gives_up_at(chain, last) if chain.status == "running" and last is not None
                    and last.status == "active" and last.no_code is None else None)
        return ChainView(chain, attempts, await self.repo.spent(chain), await self.repo.with_code(chain_id),
                         gives_up)

    async def quiet(self, rental_id: int) -> bool:
        """An attempt that got no code: its own notices (refunded, confirmed, expired) are the chain card's."""
        if await self.repo.chain_of(rental_id) is None:
            return False
        return not await self.rentals.sms.received_any(rental_id)
