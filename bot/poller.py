"""Fetching SMS from providers into the outbox. Plain async functions; the scheduler only decides when."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

from providers import Capability, Provider, Sms
from providers.base import Provider as BaseProvider
from storage import JobState, RentalRecord, RentalRepo, SmsRepo
from storage.models import utcnow

log = logging.getLogger(__name__)


def _arrival(sms: Sms) -> datetime:
    return sms.received_at or _EPOCH


_EPOCH = datetime.min.replace(tzinfo=UTC)
LATE_SMS_WINDOW = timedelta(minutes=15)


async def _adopt_nothing(sms: Sms) -> RentalRecord | None:
    return None


class SmsPoller:
    """One provider's SMS into storage, never losing one to a crash.

    fetch_new_sms() marks nothing read. Only after its results are stored do we ask the provider to
    mark them read (acknowledge_sms), and store what that reply returns too. A flag in job_state spans
    the acknowledgement: if the process dies inside it, the next start re-reads each active rental's
    history, so an SMS marked read but not stored is still found."""

    def __init__(self, provider: Provider, rentals: RentalRepo, sms: SmsRepo, state: JobState,
                 on_new: Callable[[], None] = lambda: None,
                 adopt: Callable[[Sms], Awaitable[RentalRecord | None]] = _adopt_nothing,
                 counted: Callable[[str, int], None] = lambda provider, new: None) -> None:
        self.provider = provider
        self.rentals = rentals
        self.sms = sms
        self.state = state
        self.on_new = on_new
        self.adopt = adopt  # links an SMS for an unknown rental to a pending one whose rent reply was lost
        self.counted = counted  # (provider, how many new SMS were stored): for metrics
        self._ack_key = f"ack-in-flight:{provider.name}"
        self._acknowledges = type(provider).acknowledge_sms is not BaseProvider.acknowledge_sms

    async def recover(self) -> int:
        if await self.state.get(self._ack_key) is None:
            return 0
        log.warning("%s: last acknowledgement was interrupted; re-reading rental histories", self.provider.name)
        new = 0
        for rental in await self.rentals.open_by_provider(self.provider.name):
            if Capability.HISTORY in self.provider.capabilities_for(rental.offer_id):
                new += await self.store(await self.provider.history(rental.provider_rental_id))
        await self.state.set(self._ack_key, None)
        if new:
            self.on_new()
        return new

    async def tick(self) -> int:
        """One poll: returns how many SMS were new."""
        # A number closed a moment ago may still get its code: fetched for a while, and posted saying so.
        active = await self.rentals.active_provider_ids(self.provider.name, utcnow() - LATE_SMS_WINDOW)
        if not active:
            return 0
        fetched = await self.provider.fetch_new_sms(active)
        new = await self.store(fetched)
        if fetched and self._acknowledges:
            await self.state.set(self._ack_key, "1")
            new += await self.store(await self.provider.acknowledge_sms())
            await self.state.set(self._ack_key, None)
        if new:
            self.on_new()
        return new

    async def store(self, items: Iterable[Sms]) -> int:
        """Store in arrival order: the outbox sends by storage order, so chats see codes as they came."""
        new = 0
        for sms in sorted(items, key=_arrival):  # stable: same-second SMS keep the provider's (oldest-first) order
            rental = await self.rentals.find_by_provider_id(self.provider.name, sms.rental_id)
            if rental is None:
                rental = await self.adopt(sms)
            if rental is None:
                await self.sms.store_orphan(provider=self.provider.name, provider_message_id=sms.id,
                                            provider_rental_id=sms.rental_id, body=sms.body, code=sms.code,
                                            sender=sms.sender, received_at=sms.received_at)
                continue
            new += await self.sms.store(provider=self.provider.name, provider_message_id=sms.id,
                                        rental_id=rental.id, body=sms.body, code=sms.code, sender=sms.sender,
                                        received_at=sms.received_at)
        if new:
            self.counted(self.provider.name, new)
        return new
