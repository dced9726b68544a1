"""The one interface the bot uses for every SMS provider."""
from __future__ import annotations

import abc
from collections.abc import Sequence
from decimal import Decimal

from .errors import UnsupportedOperationError
from .models import Capability, Choice, Offer, Rental, RentChoice, Service, SetRent, Sms


class Provider(abc.ABC):
    """What the bot needs from a provider. Optional actions are listed in ``capabilities``;
    calling one that is not there raises ``UnsupportedOperationError``."""

    name: str
    title: str
    capabilities: frozenset[Capability] = frozenset()
    # The wishes ``rent`` honours (see ``RentChoice``); carriers a user may pick by name, where the provider
    # takes a carrier.
    rent_choices: frozenset[Choice] = frozenset()
    carriers: tuple[str, ...] = ()
    # Seconds a rental must be old before the provider accepts a cancel (GetAText: 60).
    min_age_to_cancel: float = 0.0
    # The provider's documented limit on its renting calls, as seconds between two (GetAText: "1 Request per
    # second" on rent, rent-multiple-services and cancel): the client holds each such call until its turn
    # rather than send one the provider refuses. 0: the documents state none (GotSMS).
    rent_interval: float = 0.0
    # Plan-length rules for optional actions (GotSMS: auto-renew only monthly+, transition only from daily).
    auto_renew_min_minutes: int = 0
    # The provider refunds (cancels) a rental only until its first SMS: the card then hides Cancel & refund.
    refund_only_without_sms: bool = False
    transition_max_minutes: int | None = None
    # Several services on one number in one request (GetAText rent-multiple-services), and how long the
    # provider keeps refusing a combination it refused once (GetAText: "cached for 5-15 minutes").
    rents_sets: bool = False
    set_refusal_seconds: float = 0.0

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    # -- rules that differ between one provider's kinds of plan (GetAText: activations, long-term numbers) --

    def capabilities_for(self, plan_id: str) -> frozenset[Capability]:
        """The optional actions a rental of this plan has. Default: ``capabilities``."""
        return self.capabilities

    def choices_for(self, offer: Offer) -> frozenset[Choice]:
        """The wishes ``rent`` honours for this plan. Default: ``rent_choices``."""
        return self.rent_choices

    def cancel_refunds(self, plan_id: str) -> bool:
        """Whether cancelling a rental of this plan gives its price back (then the chat's comes back too)."""
        return True

    def renews_in_place(self, plan_id: str) -> bool:
        """Whether ``renew`` extends the same rental (same id) rather than renting the number again."""
        return False

    def listing_scope(self, plan_id: str) -> str:
        """Rentals of plans with one scope are listed together by ``list_rentals_like``."""
        return ""

    async def list_rentals_like(self, plan_id: str) -> list[Rental]:
        """The provider's active rentals of this plan's kind, to reconcile a rent of it whose outcome is unknown;
        UnsupportedOperationError where it keeps no such list. Default: ``list_active_rentals``."""
        return await self.list_active_rentals()

    @abc.abstractmethod
    async def list_services(self) -> list[Service]: ...

    @abc.abstractmethod
    async def list_offers(self, service: Service) -> list[Offer]:
        """Plans for one service, as returned by ``list_services``."""

    @abc.abstractmethod
    async def get_balance(self) -> Decimal: ...

    @abc.abstractmethod
    async def rent(self, offer: Offer, choice: RentChoice | None = None) -> Rental:
        """Spends money. Never retried; a lost reply raises ``OutcomeUnknownError``. ``choice`` holds only
        wishes listed in ``rent_choices``; ``Rental.price`` is what the provider charged, where it says."""

    @abc.abstractmethod
    async def get_rental(self, rental_id: str) -> Rental: ...

    @abc.abstractmethod
    async def list_active_rentals(self) -> list[Rental]:
        """Used to reconcile a rent whose outcome is unknown. A provider that keeps no such list
        raises UnsupportedOperationError; the bot then waits longer before refunding."""

    @abc.abstractmethod
    async def fetch_new_sms(self, rental_ids: Sequence[str]) -> list[Sms]:
        """New SMS for these active rentals, oldest first (as far as the provider tells arrival
        order), in as few requests as the provider allows.

        Never marks anything as read at the provider: an SMS must survive a crash
        between this reply and our database write. May return SMS already seen;
        callers store them idempotently by ``Sms.id``."""

    async def acknowledge_sms(self) -> list[Sms]:
        """Called only after ``fetch_new_sms``'s results are stored: marks the provider's
        unread SMS as read and returns what it marked (which the caller stores too, since
        an SMS may have arrived in between). Default: the provider keeps no read state."""
        return []

    async def list_set_offers(self) -> list[Offer]:
        """Every plan, of any service, that may share one number with others (``rents_sets``)."""
        raise UnsupportedOperationError("renting several services on one number is not supported", provider=self.name)

    async def rent_set(self, offers: Sequence[Offer], choice: RentChoice | None = None) -> SetRent:
        """Spends money: one number for the services of ``offers`` (from ``list_set_offers``), never charged
        above the sum of their prices. Never retried; a lost reply raises ``OutcomeUnknownError``. Refused as a
        whole (a ProviderError) when one service cannot share the number; a reply may also pay for some
        entries and fail others (``SetRent.failures``)."""
        raise UnsupportedOperationError("renting several services on one number is not supported", provider=self.name)

    async def cancel(self, rental_id: str) -> Rental:
        raise self._unsupported(Capability.CANCEL)

    async def finish(self, rental_id: str) -> Rental:
        raise self._unsupported(Capability.FINISH)

    async def renew(self, rental_id: str) -> Rental:
        raise self._unsupported(Capability.RENEW)

    async def set_auto_renew(self, rental_id: str, enabled: bool) -> bool:
        raise self._unsupported(Capability.AUTO_RENEW)

    async def wake_up(self, rental_id: str) -> str:
        raise self._unsupported(Capability.WAKE_UP)

    async def transition(self, rental_id: str, plan_id: str) -> Rental:
        raise self._unsupported(Capability.TRANSITION)

    async def history(self, rental_id: str) -> list[Sms]:
        """Every SMS of the rental, oldest first."""
        raise self._unsupported(Capability.HISTORY)

    def observe(self, observer) -> None:
        """Be told of every call to the provider: (provider, operation, outcome, seconds). Default: nothing
        to observe (an in-memory provider)."""

    async def aclose(self) -> None:
        """Close the shared HTTP client."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    def _check_choice(self, choice: RentChoice | None, offer: Offer | None = None) -> None:
        """Refuses, before anything is sent, a wish this plan does not take (``choices_for``): silently dropping
        one (a price cap above all) could let the provider charge more than the user agreed to. A ProviderError,
        so the bot refunds at once."""
        takes = self.choices_for(offer) if offer is not None else self.rent_choices
        unlisted = choice.wishes() - takes if choice is not None else frozenset()
        if unlisted:
            raise UnsupportedOperationError(
                f"rent does not take {', '.join(sorted(unlisted))}", provider=self.name)

    def _unsupported(self, capability: Capability) -> UnsupportedOperationError:
        return UnsupportedOperationError(f"{capability} is not supported", provider=self.name)
