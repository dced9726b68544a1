"""Failures the user is told about. ``key`` names the text in the locale files; ``params`` fill it."""
from __future__ import annotations


class TextKey(str):
    """A parameter that names a text in the locale files, so the reader gets it in the chat's language."""


class UserFacingError(Exception):
    key = "error-generic"

    def __init__(self, **params) -> None:
        super().__init__(self.key)
        self.params = params


class NotAllowed(UserFacingError):
    key = "error-not-allowed"


class StaleButton(UserFacingError):
    """Forged, foreign or outdated callback data."""

    key = "error-stale"


class OfferExpired(UserFacingError):
    key = "error-offer-expired"


class NotEnoughBalance(UserFacingError):
    key = "error-balance"


class ProviderUnavailable(UserFacingError):
    key = "error-provider-down"


class ProviderBusy(UserFacingError):
    """The provider itself answered that it is rate limiting us (its 429), not the bot's own pacing."""

    key = "error-provider-busy"


class RentQueueFull(UserFacingError):
    """The provider takes renting calls one at a time at its documented pace, and so many wait that this tap
    would wait longer than a person does: refused before anything is charged."""

    key = "error-rent-queue"


class NothingAvailable(UserFacingError):
    key = "error-no-numbers"


class ProviderRefused(UserFacingError):
    key = "error-provider-refused"


class TooEarlyToCancel(UserFacingError):
    key = "error-cancel-too-early"


class AlreadyRequested(UserFacingError):
    key = "error-already-requested"


class ActionUnavailable(UserFacingError):
    key = "error-action-unavailable"


class UnknownChat(UserFacingError):
    key = "error-unknown-chat"


class BadArguments(UserFacingError):
    key = "error-bad-arguments"


class RenewPriceChanged(UserFacingError):
    """Renting again: today's price is not the one the button showed; nothing was charged."""

    key = "error-renew-price-changed"


class QuoteRose(UserFacingError):
    """Renting: the plan costs more now than the confirm screen said; nothing was charged. ``snap`` names a
    snapshot holding the plan at its new price (``new``), for a Rent button at that price."""

    key = "error-quote-rose"


class AutoRenewNeedsBalance(UserFacingError):
    key = "error-auto-renew-balance"


class RefundEndedBySms(UserFacingError):
    """The provider refunds only until a number's first SMS, and one came."""

    key = "error-refund-after-sms"


class BadAreaCode(UserFacingError):
    """A typed area code that numbers of the plan's country cannot start with."""

    key = "error-bad-area-code"


class NoNumberInArea(UserFacingError):
    """The provider has no number in the area asked for; the charge came back."""

    key = "error-no-number-in-area"


class SetRefused(UserFacingError):
    """The provider refused to put these services on one number; it refuses the same set for a while."""

    key = "error-set-refused"
