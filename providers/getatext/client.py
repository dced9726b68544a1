"""``GetATextClient``: GetAText behind the bot's ``Provider`` interface, composed of the
per-area mixins (each documented call lives in the module of its area).

All GetAText numbers are US numbers, so every offer's country is "USA". A code SMS read
by polling and the same code pushed by webhook get one ``Sms.id`` (see ``webhook``).

``rent`` takes two wishes, a carrier (or keeping the carrier of a number already rented)
and a price cap; ``Rental.price`` is the reply's ``price``, what was charged, which a
carrier may make more than the listed price.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from .. import errors
from ..base import Provider
from ..codes import extract_code
from ..errors import NotFoundError, ProviderError
from ..models import BillingType, Capability, Choice, Offer, Rental, RentChoice, Service, Sms
from .activations import Activations
from .auctions import Auctions
from .handler_api import HandlerApi
from .long_rentals import LongRentals
from .multi_service import MultiServiceRentals
from .replies import CANCEL_WAIT_SECONDS, PROVIDER, _json
from .webhook import _code_sms, parse_webhook

log = logging.getLogger(__package__)  # the provider's one logger, "providers.getatext"

# How long a webhook waits for rental-status to restore a code's leading zeros: the
# sender is waiting for our reply, and the integer's digits are a usable fallback.
WEBHOOK_STATUS_SECONDS = 5.0


class GetATextClient(Activations, MultiServiceRentals, LongRentals, Auctions, HandlerApi, Provider):
    name = PROVIDER
    title = "GetAText"
    capabilities = frozenset({Capability.CANCEL, Capability.FINISH, Capability.RENEW, Capability.WEBHOOK})
    min_age_to_cancel = float(CANCEL_WAIT_SECONDS)
    refund_only_without_sms = True  # an activation that got its code is done, not cancellable
    rent_choices = frozenset({Choice.CARRIER, Choice.MAX_PRICE})
    # The document gives "at&t" as its example and has no endpoint listing carriers: these are the big US
    # carriers a user may pick by name. The provider may know others (or spell them otherwise); none is checked.
    carriers = ("at&t", "verizon", "t-mobile")

    async def list_services(self) -> list[Service]:
        seen: dict[str, Service] = {}
        for info in await self.prices_info():
            seen.setdefault(info.api_name, Service(id=info.api_name, name=info.service_name))
        return list(seen.values())

    async def list_offers(self, service: Service) -> list[Offer]:
        """One short (per-activation) offer per prices-info entry of this service.

        Long rentals are not offered: the document gives no price for them before one
        is created."""
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
            if info.api_name == service.id
        ]

    async def get_balance(self) -> Decimal:
        return await self.balance()

    async def rent(self, offer: Offer, choice: RentChoice | None = None) -> Rental:
        self._check_choice(choice)
        choice = choice or RentChoice()
        # max_price: the user's cap, else the price we showed, so a price rise is refused instead of paid.
        cap = choice.max_price if choice.max_price is not None else offer.price
        carrier = (choice.carrier or "").strip() or None
        reply = await self.rent_a_number(offer.id, max_price=cap, carrier=carrier, keep_carrier=choice.keep_carrier)
        return reply.rental  # its price is the reply's: what was charged

    async def get_rental(self, rental_id: str) -> Rental:
        return (await self.rental_status(rental_id)).rental

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
            try:
                reply = await self.rental_status(rental_id)
            except NotFoundError:
                log.warning("getatext rental %s not found while polling; skipped", rental_id)
                continue
            if reply.code:
                found.append(_code_sms(reply.rental.id, reply.code, phone=reply.rental.phone,
                                       service_name=reply.rental.service_name or None))
        return found

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
        return (await self.cancel_rental(rental_id)).rental

    async def finish(self, rental_id: str) -> Rental:
        return (await self.mark_completed(rental_id)).rental

    async def renew(self, rental_id: str) -> Rental:
        """Re-rents the number; the returned Rental has a new id."""
        return (await self.re_rent(rental_id)).rental
