"""``GotSmsClient``: GotSMS behind the bot's ``Provider`` interface, built on the documented
operations of ``api``.

Decisions where the document is silent or ambiguous:

* ``rent_messages`` is read newest first; ``history`` keeps that order and stops when
  ``meta.next_before_id`` is null, a page is empty, or the cursor does not move (it equals
  the one just asked with or any asked before: reading on would repeat pages). SMS are
  kept once by id, and a cursor that did not move is logged once.
* ``cancel`` and ``transition`` read the rental first, so that once the provider has
  acted, a failing follow-up read can no longer turn a success into an error.
* ``rent`` takes one wish, an area code (the document's "Preferred area code."), sent as
  given but trimmed; a rent refused for want of numbers there is ``NoNumberInAreaError``
  (see ``api``).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import replace
from decimal import Decimal

from ..base import Provider
from ..errors import NotFoundError, ProviderError
from ..models import Capability, Choice, Offer, Rental, RentalStatus, RentChoice, Service, Sms
from .api import GotSmsApi
from .core import PAGE_SIZE
from .replies import PROVIDER, read_rental

log = logging.getLogger(__package__)  # the provider's one logger, "providers.gotsms"

HISTORY_PAGES = 50


class GotSmsClient(GotSmsApi, Provider):
    name = PROVIDER
    title = "GotSMS"
    capabilities = frozenset(
        {Capability.CANCEL, Capability.AUTO_RENEW, Capability.WAKE_UP, Capability.TRANSITION, Capability.HISTORY}
    )
    auto_renew_min_minutes = 28 * 24 * 60  # "Auto renewal can be toggled only for monthly 1/3/6/12 plans."
    transition_max_minutes = 24 * 60  # "Current rent plan must be daily for this transition endpoint."
    # "Refund not available for this rent." once a rent has SMS (the document names no rule; seen so in the
    # fake we test against): the card offers the refund only before the first SMS.
    refund_only_without_sms = True
    rent_choices = frozenset({Choice.AREA_CODE})  # create-rent's one optional field

    async def list_services(self) -> list[Service]:
        return await self.api_list_services(per_page=PAGE_SIZE)

    async def list_offers(self, service: Service) -> list[Offer]:
        offers = await self.api_list_rent_plans(service_id=service.id, per_page=PAGE_SIZE)
        return [o for o in offers if o.service_id == service.id]

    async def get_balance(self) -> Decimal:
        return await self.api_account_balance()

    async def rent(self, offer: Offer, choice: RentChoice | None = None) -> Rental:
        if offer.provider != self.name:
            raise ValueError(f"offer of {offer.provider!r} given to {self.name}")
        self._check_choice(choice)
        area_code = (choice.area_code or "").strip() if choice is not None else ""
        return await self.api_create_rent(offer.id, area_code=area_code or None)

    async def get_rental(self, rental_id: str) -> Rental:
        """There is no rent-by-id endpoint: scan active rents first (usually one page),
        then all rents, stopping at the page that has it."""
        wanted = str(rental_id)
        for status in ("active", None):
            pages = self._iter_pages("/api/rents", {"status": status, "per_page": PAGE_SIZE}, "rents")
            async with aclosing(pages):
                async for rows in pages:
                    for r in rows:
                        if r.str("id") == wanted:
                            return read_rental(r)
        raise NotFoundError(f"rent {wanted[:64]} not found", provider=self.name)

    async def list_active_rentals(self) -> list[Rental]:
        return await self.api_list_rents(status="active", per_page=PAGE_SIZE)

    async def fetch_new_sms(self, rental_ids: Sequence[str]) -> list[Sms]:
        """All unread SMS in one listing (one request per page however many rentals),
        not marked read; only those of ``rental_ids`` are returned, oldest first."""
        wanted = {str(i) for i in rental_ids}
        if not wanted:
            return []
        messages = await self.api_list_unread_messages(per_page=PAGE_SIZE)
        # The API lists newest first; the interface promises arrival order.
        return [m for m in reversed(messages) if m.rental_id in wanted]

    async def acknowledge_sms(self) -> list[Sms]:
        return list(reversed(await self.api_list_unread_messages(per_page=PAGE_SIZE, mark_as_read=True)))

    async def cancel(self, rental_id: str) -> Rental:
        before = await self.get_rental(rental_id)
        await self.api_refund_rent(rental_id)
        return replace(before, status=RentalStatus.CANCELLED, can_wake_up=False, auto_renew=False)

    async def set_auto_renew(self, rental_id: str, enabled: bool) -> bool:
        """The API only toggles: toggle only when the current state differs."""
        current = await self.get_rental(rental_id)
        if current.auto_renew == enabled:
            return enabled
        return await self.api_toggle_auto_renewal(rental_id)

    async def wake_up(self, rental_id: str) -> str:
        return await self.api_wake_up(rental_id)

    async def transition(self, rental_id: str, plan_id: str) -> Rental:
        before = await self.get_rental(rental_id)
        update = await self.api_transition_rent(rental_id, plan_id)
        try:
            return await self.get_rental(rental_id)
        except ProviderError as err:  # the transition happened: never report it as failed
            log.warning("gotsms: rent %s transitioned but could not be re-read: %s", rental_id, err)
            return replace(before, status=update.status, plan_id=str(plan_id), transition_options=())

    async def history(self, rental_id: str) -> list[Sms]:
        """Every SMS of the rental, oldest first (the API pages newest first, following ``next_before_id``)."""
        messages: dict[str, Sms] = {}  # by id: a page that did not advance repeats SMS already read
        before: str | None = None
        asked: set[str | None] = set()
        for _ in range(HISTORY_PAGES):
            asked.add(before)
            page = await self.api_rent_messages(rental_id, limit=PAGE_SIZE, before_id=before)
            for sms in page.messages:
                messages.setdefault(sms.id, sms)
            cursor = page.next_before_id
            if not page.messages or cursor is None:
                return list(messages.values())[::-1]
            if cursor in asked:  # the same cursor again (or an older one): the next page is one already read
                log.warning("gotsms: history of %s stopped: cursor %s did not move", rental_id, cursor[:64])
                return list(messages.values())[::-1]
            before = cursor
        log.warning("gotsms: history of %s cut at %d pages", rental_id, HISTORY_PAGES)
        return list(messages.values())[::-1]
