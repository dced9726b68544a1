"""One error tree for every provider. Messages never contain API keys."""
from __future__ import annotations


class ProviderError(Exception):
    """Base for everything a provider call can raise."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status

    def __str__(self) -> str:
        where = f"{self.provider}: " if self.provider else ""
        code = f" (HTTP {self.status})" if self.status else ""
        return f"{where}{self.message}{code}"


class AuthenticationError(ProviderError):
    """The API key was refused (401/403)."""


class InsufficientFundsError(ProviderError):
    """The operator's account at the provider cannot pay for this."""


class NothingAvailableError(ProviderError):
    """No number / stock for what was asked."""


class NoNumberInAreaError(NothingAvailableError):
    """Nothing in the area code asked for (GotSMS ``area_code``); any area may still have numbers."""


class NotFoundError(ProviderError):
    """The rental, plan or resource does not exist (404)."""


class RateLimitedError(ProviderError):
    """429: the provider asks us to slow down."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProviderRejectedError(ProviderError):
    """The provider understood and refused the request (400/409/422), with its own message."""


class CancelTooSoonError(ProviderRejectedError):
    """A cancel refused because the rental is younger than the provider allows (``Provider.min_age_to_cancel``):
    asking later may succeed, unlike other refusals."""


class ServerError(ProviderError):
    """5xx from the provider."""


class ConnectionFailedError(ProviderError):
    """Timeout or network failure on a call that is safe to repeat."""


class OutcomeUnknownError(ProviderError):
    """A call that spends money timed out or lost its connection after being sent.

    The provider may or may not have done it; the caller must reconcile
    (look the rental up in the provider's list) instead of repeating the call.
    """


class MalformedReplyError(ProviderError):
    """The reply was not what the documents describe (HTML, bad JSON, missing fields)."""


class UnsupportedOperationError(ProviderError):
    """The provider has no such action; check ``Provider.capabilities`` first."""
