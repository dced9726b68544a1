"""No code, no charge: a one-time activation (billed per activation) that gets no SMS is cancelled at the
provider shortly before it ends, and the chat is refunded.

Three outcomes, each decided by the provider, never guessed:
- the provider cancels it (or, asked after an answer was lost, reports it cancelled): refunded, and the chat's
  notice written with the refund (``tell``, given by the jobs; a fallback chain's attempt is told on its card);
- the provider refuses (a code came first, it is no longer active): nothing refunded, never asked again;
- no answer: asked again at the next round; at the end the provider's own status decides.
A duration plan (paid for time) is not an activation: its refund is the card's Cancel & refund, while the
provider allows it."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from providers import RentalStatus
from providers import errors as perr
from storage import RentalRecord
from storage.models import utcnow
from storage.rentals import RentalRepo

from .money_news import RentalTell
from .rentals import RentalService

log = logging.getLogger(__name__)

LEAD = timedelta(seconds=90)  # before an activation's end: room for a few tries of the cancel


@dataclass(frozen=True, slots=True)
class NoCodeRefund:
    rental: RentalRecord  # as it is after the decision (cancelled and refunded)


class NoCodeRefunds:
    def __init__(self, rentals: RentalService, lead: timedelta = LEAD) -> None:
        self.rentals = rentals
        self.lead = lead

    async def run(self, tell: RentalTell | None = None) -> list[NoCodeRefund]:
        """One round: every activation ending within the lead, with no SMS and old enough to cancel."""
        refunded = []
        now = utcnow()
        for rental in await self.rentals.rentals.activations_without_sms(now + self.lead):
            provider = self.rentals.providers.get(rental.provider)
            if provider is None:
                continue
            if (rental.active_from or rental.created_at) + timedelta(seconds=provider.min_age_to_cancel) > now:
                continue  # the provider refuses a cancel this young: the next round asks
            if done := await self.cancel(rental, tell):
                refunded.append(done)
        return refunded

    async def at_end(self, rental: RentalRecord, tell: RentalTell | None = None) -> NoCodeRefund | None:
        """An activation reached its end undecided (every cancel got no answer, or the bot was down): the
        provider's status decides. Cancelled there means refunded here; anything else, no refund."""
        if rental.billing != "sms" or rental.no_code or await self._has_sms(rental):
            return None
        provider = self.rentals.providers.get(rental.provider)
        if provider is None:
            return None
        try:
            fresh = await provider.get_rental(rental.provider_rental_id)
        except perr.ProviderError as err:
            log.warning("rental %d: no-code check at its end failed (%s); it expires without a refund", rental.id,
                        err)
            return None
        if fresh.status is RentalStatus.CANCELLED:
            return await self._refund(rental, tell)
        await self._decide(rental, "refused")
        return None

    async def cancel(self, rental: RentalRecord, tell: RentalTell | None = None) -> NoCodeRefund | None:
        """Cancelled and refunded (the provider said so), or None: refused (``no_code`` 'refused') or no answer.
        Also the fallback chain's way to give up on an attempt."""
        provider = self.rentals.providers[rental.provider]
        try:  # a background call like polling: the client's own pacing, not the card actions' budget
            await provider.cancel(rental.provider_rental_id)
        except perr.CancelTooSoonError:  # the provider's clock says too young: the next round asks again
            return None
        except (perr.ProviderRejectedError, perr.NotFoundError) as err:
            # Refused. It may be our own earlier cancel whose answer was lost: the provider's status says.
            return await self._after_refusal(rental, err, tell)
        except perr.ProviderError as err:  # timeout, 5xx, 429, network: unknown, asked again next round
            log.warning("rental %d: no-code cancel got no answer (%s); asked again", rental.id, err)
            return None
        return await self._refund(rental, tell)

    async def _after_refusal(self, rental: RentalRecord, err: perr.ProviderError,
                             tell: RentalTell | None = None) -> NoCodeRefund | None:
        try:
            fresh = await self.rentals.providers[rental.provider].get_rental(rental.provider_rental_id)
        except perr.ProviderError:
            return None  # undecided: the next round or the end decides
        if fresh.status is RentalStatus.CANCELLED:
            return await self._refund(rental, tell)
        log.info("rental %d: no-code cancel refused by %s (%s); no refund", rental.id, rental.provider, err)
        await self._decide(rental, "refused")
        return None

    async def _refund(self, rental: RentalRecord, tell: RentalTell | None = None) -> NoCodeRefund | None:
        if await self._has_sms(rental):
            # A code was stored while we asked: the chat got what it paid for. (The provider cancelled anyway:
            # the operator is refunded there, so the chat's money stays.)
            await self._decide(rental, "refused")
            return None
        closed = await self.rentals.cancel_and_refund(rental.id, "no code", tell)
        if closed.status != "cancelled":
            return None  # closed meanwhile by another path (the user's Cancel & refund): refunded there
        await self._decide(rental, "refunded")
        log.info("rental %d: no code came; cancelled at %s and %d refunded", rental.id, rental.provider,
                 rental.price_charged)
        return NoCodeRefund(await self.rentals.rentals.get(rental.id))

    async def _decide(self, rental: RentalRecord, outcome: str) -> None:
        async with self.rentals.db.transaction() as conn:
            await RentalRepo.update(conn, rental.id, no_code=outcome)

    async def _has_sms(self, rental: RentalRecord) -> bool:
        return await self.rentals.sms.received_any(rental.id)
