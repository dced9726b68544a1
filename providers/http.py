"""Shared HTTP core: one AsyncClient per provider, status mapping, retries for reads only.

A 5xx reply to a call that spends money is ``OutcomeUnknownError`` (with ``status`` set),
not ``ServerError``: a server may fail after it rented and charged, and a refund on a
guess costs the operator a number nobody uses. A provider whose documents promise that a
5xx means nothing was done opts out with ``spent_5xx_unknown=False``; 502/504 stay
unknown even then, since they come from a gateway that may have lost a good reply.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx

from . import errors

log = logging.getLogger(__name__)

_SECRETS: set[str] = set()  # API keys of the provider clients created in this process
_API_KEY_IN_URL = re.compile(r"(api_key=)[^&\s\"']+")


def register_secret(secret: str) -> None:
    if len(secret) >= 4:  # shorter strings would mangle unrelated text
        _SECRETS.add(secret)


def redact(text: str) -> str:
    """Text with every known API key (and any api_key= URL parameter) masked."""
    text = _API_KEY_IN_URL.sub(r"\1***", text)
    for secret in sorted(_SECRETS, key=len, reverse=True):  # longest first: one secret inside another masks whole
        text = text.replace(secret, "***")
    return text


class _RedactSecrets(logging.Filter):
    """httpx logs every request URL at INFO (some providers put keys in URLs), and retried
    errors are logged with text that comes from the provider."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACT_FILTER = _RedactSecrets()
for _name in ("httpx", __name__, "providers"):
    logging.getLogger(_name).addFilter(_REDACT_FILTER)  # idempotent: the same filter object

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
GATEWAY_STATUSES = frozenset({502, 504})


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@contextmanager
def spent_reply(provider: str, what: str) -> Iterator[None]:
    """Around reading the 2xx reply of a call that spends money: an unreadable reply means
    "probably done", so the caller must reconcile, never refund on a guess or repeat."""
    try:
        yield
    except errors.MalformedReplyError as err:
        raise errors.OutcomeUnknownError(
            f"{what}: reply unreadable ({err.message}); outcome unknown", provider=provider, status=err.status
        ) from err


CallObserver = Callable[[str, str, str, float], None]
# An id in a path: all digits, or 8+ characters with a digit in them ('v1' is not one).
_ID_SEGMENT = re.compile(r"/(?:\d+|(?=[^/]*\d)[^/]{8,})(?=/|$)")
_OUTCOMES: tuple[tuple[type[errors.ProviderError], str], ...] = (
    (errors.OutcomeUnknownError, "unknown"), (errors.RateLimitedError, "rate_limited"),
    (errors.ConnectionFailedError, "unreachable"), (errors.ServerError, "server_error"),
    (errors.AuthenticationError, "auth"), (errors.NotFoundError, "not_found"),
    (errors.NothingAvailableError, "nothing_available"), (errors.InsufficientFundsError, "no_funds"),
    (errors.MalformedReplyError, "malformed"), (errors.ProviderRejectedError, "refused"),
)


def operation_of(method: str, path: str) -> str:
    """'POST /api/rents/123/transition' -> 'POST /api/rents/:id/transition': no ids in what is observed."""
    return f"{method} {_ID_SEGMENT.sub('/:id', path)}"


def outcome_of(err: errors.ProviderError) -> str:
    return next((label for cls, label in _OUTCOMES if isinstance(err, cls)), "error")


class Pacer:
    """At most one call per ``interval`` seconds (GetAText allows 1 rent request/s)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = asyncio.Lock()
        self._next = 0.0

    async def wait(self) -> None:
        """Starts at least ``interval`` apart: for calls the provider does not limit (politeness only)."""
        async with self._lock:
            now = time.monotonic()
            if now < self._next:
                await asyncio.sleep(self._next - now)
            self._next = max(now, self._next) + self.interval

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Around one call the provider limits: it is sent ``interval`` after the previous one ended (its reply or
        its failure), one at a time, in the order asked. Spacing the starts is not enough: a request on a new
        connection arrives tens of milliseconds late, the next one on a warm connection does not, and the
        provider, which counts arrivals, refuses it (a rent refused so is refunded: the user gets no number)."""
        async with self._lock:
            delay = self._next - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                yield
            finally:
                self._next = time.monotonic() + self.interval


class HttpCore:
    """Sends requests for one provider and turns every failure into a ``ProviderError``.

    ``classify`` lets a provider map its own error bodies (e.g. "insufficient funds")
    onto the error tree; it gets (status, message) and returns an exception class or None.
    """

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        headers: dict[str, str],
        timeout: float = 15.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        classify: Callable[[int, str], type[errors.ProviderError] | None] | None = None,
        secret: str = "",
        spent_5xx_unknown: bool = True,
    ) -> None:
        register_secret(secret)
        self.provider = provider
        self.observers: list[CallObserver] = []
        self.spent_5xx_unknown = spent_5xx_unknown
        self.max_retries = max_retries
        self.backoff = backoff
        self._classify = classify
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Accept": "application/json", **headers},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def add_observer(self, observer: CallObserver) -> None:
        """Told of every call when it ends: (provider, operation, outcome, seconds). For metrics."""
        self.observers.append(observer)

    async def request(self, method: str, path: str, **kwargs) -> Any:
        """See ``_request``; every error leaves with known secrets masked."""
        start, outcome = time.perf_counter(), "ok"
        try:
            return await self._request(method, path, **kwargs)
        except errors.ProviderError as err:
            outcome = outcome_of(err)
            err.message = redact(err.message)
            err.args = (err.message,)
            raise
        except BaseException:
            outcome = "error"
            raise
        finally:
            for observer in self.observers:
                observer(self.provider, operation_of(method, path), outcome, time.perf_counter() - start)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        spends_money: bool = False,
        expect_json: bool = True,
    ) -> Any:
        """Returns parsed JSON (or text when ``expect_json`` is False).

        Reads are retried on 429/5xx/connection errors with capped, jittered backoff.
        A call that spends money is sent exactly once; a lost reply, or a 5xx (see the
        module docstring), becomes OutcomeUnknownError.
        """
        params = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        attempts = 1 if spends_money else 1 + self.max_retries
        for attempt in range(attempts):
            try:
                response = await self.client.request(method, path, params=params or None, json=json_body)
            except httpx.TimeoutException as err:
                exc: errors.ProviderError = self._transport_error("timed out", spends_money, err)
            except httpx.TransportError as err:
                exc = self._transport_error(f"connection failed ({type(err).__name__})", spends_money, err)
            else:
                if response.status_code < 400:
                    return self._parse(response) if expect_json else response.text
                if spends_money and self._outcome_unknown(response.status_code):
                    raise self._unknown_status_error(response)
                exc = self._status_error(response)
                if response.status_code not in RETRY_STATUSES:
                    raise exc
            retryable = isinstance(exc, (errors.ConnectionFailedError, errors.ServerError, errors.RateLimitedError))
            if attempt + 1 >= attempts or not retryable:
                raise exc
            delay = self._delay(attempt, getattr(exc, "retry_after", None))
            log.warning("%s %s %s failed (%s); retry %d in %.1fs", self.provider, method, path, exc, attempt + 1, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _outcome_unknown(self, status: int) -> bool:
        """Whether this error status, answering a call that spends money, leaves it undecided."""
        if status in GATEWAY_STATUSES:
            return True  # a gateway lost the reply: the provider may have rented and charged
        return self.spent_5xx_unknown and status >= 500

    def _unknown_status_error(self, response: httpx.Response) -> errors.OutcomeUnknownError:
        status = response.status_code
        said = error_message(response)
        what = "gateway error" if status in GATEWAY_STATUSES else "server error"
        return errors.OutcomeUnknownError(
            f"{what} {status}{f' ({said})' if said else ''}; outcome unknown", provider=self.provider, status=status)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, 30.0)
        return min(self.backoff * (2**attempt), 8.0) * (0.75 + random.random() / 2)

    def _transport_error(self, what: str, spends_money: bool, err: Exception) -> errors.ProviderError:
        if spends_money:
            return errors.OutcomeUnknownError(f"request {what}; outcome unknown", provider=self.provider)
        return errors.ConnectionFailedError(f"request {what}", provider=self.provider)

    def _parse(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            kind = "HTML page" if "<html" in response.text[:200].lower() else "invalid JSON"
            raise errors.MalformedReplyError(
                f"expected JSON, got {kind}", provider=self.provider, status=response.status_code
            ) from None

    def _status_error(self, response: httpx.Response) -> errors.ProviderError:
        status = response.status_code
        message = error_message(response)
        kw = {"provider": self.provider, "status": status}
        custom = self._classify(status, message) if self._classify else None
        if custom is not None:
            return custom(message, **kw)
        if status in (401, 403):
            return errors.AuthenticationError(message or "API key refused", **kw)
        if status == 402:
            return errors.InsufficientFundsError(message or "insufficient funds at the provider", **kw)
        if status == 404:
            return errors.NotFoundError(message or "not found", **kw)
        if status == 429:
            return errors.RateLimitedError(
                message or "rate limited", retry_after=parse_retry_after(response.headers.get("Retry-After")), **kw
            )
        if status >= 500:
            return errors.ServerError(message or "provider server error", **kw)
        return errors.ProviderRejectedError(message or "request rejected", **kw)


def error_message(response: httpx.Response) -> str:
    """The provider's own short message from an error body, if it has one."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    if isinstance(body, dict):
        for key in ("message", "errors", "error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value and value != "null":
                return value[:300]
            if isinstance(value, dict) and isinstance(value.get("name"), str):  # {"code": 400, "name": "..."}
                return value["name"][:300]
            if isinstance(value, dict) and value:
                first = next(iter(value.values()))
                if isinstance(first, list) and first:
                    first = first[0]
                return str(first)[:300]
    return ""


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class HttpClientBase:
    """What every provider client built on one HttpCore (``self._http``) does the same way: close it, watch it."""

    _http: HttpCore

    async def aclose(self) -> None:
        await self._http.aclose()

    def observe(self, observer) -> None:
        self._http.add_observer(observer)
