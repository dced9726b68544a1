"""What a number's card shows, decided once by the domain: its last codes, the actions its provider and state allow,
today's price to rent it again, its forward target. The screens (handlers/views.py) only format it, so the card a
tap shows, the one a code refreshes and the one posted in a number's topic are drawn from the same facts."""
from __future__ import annotations

from dataclasses import dataclass

from providers import Capability, Provider
from storage import RentalRecord, SmsRepo, StoredSms
from storage.forwarding import ForwardRepo, ForwardTarget

from .rentals import RentalService

CODES_ON_CARD = 3
CLOSED = ("finished", "expired", "cancelled")


@dataclass(frozen=True, slots=True)
class NumberCard:
    rental: RentalRecord
    codes: list[StoredSms]  # the last few, newest first
    actions: frozenset[Capability]
    provider_title: str
    kept: bool  # a long-term number: renewed in place, ended without a refund
    can_renew_closed: bool  # ended, and its provider can still renew it
    renew_price: int | None  # today's price to rent it again (None: the plan is not on sale now)
    refund_until_sms: bool  # the provider refunds only until the first SMS (said on the card)
    refunded: bool  # a cancel gives the money back (False: ended early, nothing back)
    has_hidden: bool  # some of its code messages were deleted from the group
    forward: ForwardTarget | None  # where its codes also go
    can_forward: bool  # the 📤 Forward codes button


@dataclass(frozen=True, slots=True)
class SetCard:
    """One number shared by several services: each rental (the first one first) with its last codes."""
    members: list[tuple[RentalRecord, list[StoredSms]]]
    cancellable: bool
    provider_title: str
    has_hidden: bool


class NumberCards:
    def __init__(self, rentals: RentalService, sms: SmsRepo, forwards: ForwardRepo,
                 providers: dict[str, Provider]) -> None:
        self.rentals, self.sms, self.forwards, self.providers = rentals, sms, forwards, providers

    async def of(self, rental: RentalRecord, in_group: bool) -> NumberCard | SetCard:
        """The card of ``rental`` as it is now (the set's card for a number shared by several services);
        ``in_group``: whether deleted code messages matter (a group's, shown privately on request)."""
        provider = self.providers.get(rental.provider)
        title = provider.title if provider else rental.provider
        if rental.set_id:
            return await self._set_card(rental.set_id, title, in_group)
        codes = await self.sms.for_rental(rental.id, limit=CODES_ON_CARD)
        kept = provider is not None and provider.renews_in_place(rental.offer_id)
        can_renew_closed = (provider is not None and Capability.RENEW in provider.capabilities_for(rental.offer_id)
                            and not kept  # ended at the provider: there is nothing left to renew
                            and rental.status in CLOSED and bool(rental.provider_rental_id))
        actions = self.rentals.actions(rental, has_sms=bool(codes))
        renew_price = None
        if Capability.RENEW in actions or can_renew_closed:  # the button says what it will charge
            quote = await self.rentals.renewal_quote(rental)
            renew_price = quote[0] if quote else None
        forward = await self.forwards.target(rental.id)
        return NumberCard(
            rental=rental, codes=codes, actions=frozenset(actions), provider_title=title, kept=kept,
            can_renew_closed=can_renew_closed, renew_price=renew_price,
            refund_until_sms=provider is not None and provider.refund_only_without_sms,
            refunded=provider is None or provider.cancel_refunds(rental.offer_id),
            has_hidden=in_group and bool(await self.sms.hidden_for_rental(rental.id, limit=1)),
            forward=forward, can_forward=rental.is_open or forward is not None)

    async def _set_card(self, set_id: int, title: str, in_group: bool) -> SetCard:
        members = []
        cancellable = has_hidden = False
        for member in await self.rentals.rentals.in_set(set_id):
            codes = await self.sms.for_rental(member.id, limit=CODES_ON_CARD)
            cancellable |= Capability.CANCEL in self.rentals.actions(member, has_sms=bool(codes))
            has_hidden |= in_group and bool(await self.sms.hidden_for_rental(member.id, limit=1))
            members.append((member, codes))
        return SetCard(members=members, cancellable=cancellable, provider_title=title, has_hidden=has_hidden)
