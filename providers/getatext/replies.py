"""GetAText (https://getatext.com) client.

Follows getatext-docs.seed.txt. Decisions where the document is silent or ambiguous:

* All GetAText numbers are US numbers, so every offer's country is "USA".
* ``ttl`` in prices-info is read as the lifetime of a rental in minutes (the document
  says only "Time To Live for the service information"); offers show it as the duration.
* Timestamps without a zone ("2025-07-06 15:43:37") are taken as US Eastern time: the
  one zoned timestamp in the document ("2025-07-28T12:39:32-04:00") is Eastern, and
  reading Eastern as UTC would make a fresh rental look hours past its end.
* Short-rental ids are integers in the API and strings in our models ("12345").
* A 2xx reply whose ``status`` is not "success" (on endpoints where ``status`` means the
  request's outcome) or whose ``errors`` is not null is an error. ``"errors": "null"``
  (a string) counts as null. On rental-status and cancel-rental ``status`` is the
  rental's state, so only ``errors`` is checked there.
* Any 5xx to a call that spends money (rent-a-number, re-rent, rent-multiple-services,
  long-rentals create/renew, bid, handler_api getNumber) is ``OutcomeUnknownError``: the
  document names only 400/401/403 as error statuses and never says a 5xx rented nothing.
  handler_api's ``ERROR_SQL`` (its server error, in a 200 text reply) on getNumber likewise.
* A code SMS is keyed ``"{rental_id}:{code without leading zeros}"``: the webhook's
  JSON-integer ``code`` has lost them, rental-status's string has not, and both paths must
  build one key. ``webhook_sms`` restores the zeros from rental-status when it reports the
  same number, and keeps the integer's digits when that read fails.
* Rent, rent-multiple-services, cancel-rental and re-rent share one ``Pacer``
  (1 request/s); so do the handler_api.php equivalents (getNumber, setStatus).
* The API key travels in the ``Auth`` header, except on handler_api.php which wants it
  as the ``api_key`` query parameter. Error messages are scrubbed of the key, and a
  filter on the ``httpx`` logger masks ``api_key=`` in the request URLs it logs.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from .. import errors
from ..base import Provider
from ..codes import extract_code
from ..errors import MalformedReplyError, NotFoundError, ProviderError, ProviderRejectedError
from ..http import HttpCore, Pacer, redact, spent_reply
from ..models import BillingType, Capability, Offer, Rental, RentalStatus, Service, Sms
from ..parsing import Reader, to_decimal

log = logging.getLogger(__package__)

PROVIDER = "getatext"
WEBHOOK_SOURCE_IP = "104.198.170.54"  # the document: webhook requests come from this address
CANCEL_WAIT_SECONDS = 60  # the document: wait 1 minute after renting before cancelling
RENTAL_TIMES = frozenset({"1w", "2w", "1m", "1y"})
LONG_RENTAL_ACTIONS = frozenset({"renew", "cancel", "auto_renew"})
# SMS-Activate setStatus codes: 1 number ready, 3 request another code, 6 complete, 8 cancel.
HANDLER_STATUSES = frozenset({1, 3, 6, 8})
# How long a webhook waits for rental-status to restore a code's leading zeros: the
# sender is waiting for our reply, and the integer's digits are a usable fallback.
WEBHOOK_STATUS_SECONDS = 5.0

try:
    SERVER_TZ: tzinfo = ZoneInfo("America/New_York")
except ZoneInfoNotFoundError:  # no tz database in the image: fall back, but say so
    SERVER_TZ = UTC
    log.warning("tz database missing: GetAText timestamps read as UTC instead of US Eastern")


class CancelTooSoonError(ProviderRejectedError):
    """GetAText refused a cancel because the rental is younger than one minute."""


# ---------------------------------------------------------------- typed results


@dataclass(frozen=True, slots=True)
class PriceInfo:
    service_name: str
    api_name: str
    multiple_sms: bool
    price: Decimal
    ttl: int  # minutes a rental lasts (our reading of "ttl")
    stock: int


@dataclass(frozen=True, slots=True)
class RentalReply:
    """A short rental plus what the reply said besides (code, balance, message)."""

    rental: Rental
    code: str | None = None
    balance: Decimal | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class MultiRentResult:
    rentals: tuple[Rental, ...]
    failures: tuple[str, ...]  # messages of entries the reply marked as failed
    new_balance: Decimal | None
    total_cost: Decimal | None


@dataclass(frozen=True, slots=True)
class LongRental:
    id: str
    number: str
    rented_at: datetime | None
    end_time: datetime | None
    price: Decimal
    status: RentalStatus
    period: str
    auto_renew: bool


@dataclass(frozen=True, slots=True)
class LongRentalMessage:
    message: str
    number: str
    received_at: datetime | None  # the document calls it "rented_at"
    sender: str | None


@dataclass(frozen=True, slots=True)
class Auction:
    id: str
    service_name: str
    current_bid: Decimal
    end_time: datetime | None
    amount: int  # the document: "starting amount or reserve price"; reads like a quantity


@dataclass(frozen=True, slots=True)
class BidResult:
    message: str
    new_current_bid: Decimal


@dataclass(frozen=True, slots=True)
class HandlerCode:
    """handler_api.php getCode: the rental's state and the code, if one arrived."""

    status: RentalStatus
    code: str | None


# ---------------------------------------------------------------- helpers

_STATUSES = {
    "active": RentalStatus.ACTIVE,
    "success": RentalStatus.ACTIVE,  # rent replies report the request, which made it active
    "cancelled": RentalStatus.CANCELLED,
    "canceled": RentalStatus.CANCELLED,
    "completed": RentalStatus.FINISHED,
    "expired": RentalStatus.EXPIRED,
}


def cancel_available_at(rental: Rental) -> datetime | None:
    """When GetAText will accept a cancel, if we know when the rental started."""
    if rental.active_from is None:
        return None
    return rental.active_from + timedelta(seconds=CANCEL_WAIT_SECONDS)


def classify_message(message: str) -> type[ProviderError] | None:
    """Maps GetAText's error wording onto the error tree."""
    text = message.lower()
    if "wait" in text and ("minute" in text or "cancel" in text):
        return CancelTooSoonError
    if re.search(r"insufficient (funds|balance)|not enough (funds|balance|money)|balance.{0,20}too low|low balance", text):
        return errors.InsufficientFundsError
    if re.search(r"not found|does not exist|no such", text):
        return errors.NotFoundError
    if re.search(r"no numbers?\b|not available|unavailable|out of stock|no stock|sold out", text):
        return errors.NothingAvailableError
    return None


def _classify(status: int, message: str) -> type[ProviderError] | None:
    # 401, 429 and 5xx keep their generic meaning whatever the body says.
    if status == 401 or status == 429 or status >= 500 or not message:
        return None
    return classify_message(message)


def _error_text(value: Any) -> str:
    """``errors`` may be null, "null", a string, a list or a {field: [messages]} object."""
    if value is None or value == "null" or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, dict):
        value = next(iter(value.values()))
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value)[:300]


def _status(value: str, where: str) -> RentalStatus:
    status = _STATUSES.get(value.strip().lower())
    if status is None:
        raise MalformedReplyError(f"{where}.status: unknown status {value[:30]!r}", provider=PROVIDER)
    return status


def _when(r: Reader, key: str) -> datetime | None:
    """Optional timestamp; naive ones are in the server's zone (see module docstring)."""
    value = r.raw(key, None)
    if value is None:
        return None
    parsed = None
    if isinstance(value, str):
        for text in (value.strip(), value.strip().replace(" ", "T", 1)):
            try:
                parsed = datetime.fromisoformat(text)
                break
            except ValueError:
                continue
    if parsed is None:
        raise MalformedReplyError(f"{r.where}.{key}: unreadable date {str(value)[:30]!r}", provider=PROVIDER)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SERVER_TZ)


def _code_text(value: Any) -> str | None:
    """A code field as text; null, "null" and blanks (the API's habits) mean no code."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    return text if text and text.lower() not in ("null", "none") else None


def _int_id(value: str | int, what: str = "id") -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"GetAText {what} must be an integer, got {value!r}") from None


def _money(value: Decimal | float | str) -> float:
    """The document types prices in requests as JSON floats."""
    if not isinstance(value, Decimal):
        value = to_decimal(value, fail=lambda why: ValueError(f"amount: {why}"))
    if not value.is_finite():
        raise ValueError("amount: expected a finite number")
    return float(value)


def _json(payload: bytes | str | dict, where: str) -> Any:
    if isinstance(payload, dict):
        return payload
    try:
        return json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError):
        raise MalformedReplyError(f"{where}: invalid JSON", provider=PROVIDER) from None




def sms_id(rental_id: str, code: str) -> str:
    """The de-duplication key of a code SMS; the API gives SMS no id of their own.

    Leading zeros of an all-digit code are dropped: the webhook sends ``code`` as a JSON
    integer (012345 arrives as 12345) while rental-status sends the string "012345", and
    both must name the same SMS or the chat gets it twice."""
    key = (code.lstrip("0") or "0") if code.isdigit() else code
    return f"{rental_id}:{key}"


def _code_sms(rental_id: str, code: str, **extra: Any) -> Sms:
    """An SMS that is only a code (GetAText never sends the text): the body is the code."""
    return Sms(provider=PROVIDER, id=sms_id(rental_id, code), rental_id=rental_id, body=code,
               code=extract_code(code, code), **extra)


def parse_webhook(payload: bytes | str | dict) -> Sms:
    """The documented code notification (POSTed from ``WEBHOOK_SOURCE_IP``) as an ``Sms``.

    ``id`` is taken as the rental id (the document calls it "unique identifier for the
    event", but its example equals the rental's). ``code`` is an integer in the
    document, which has already lost any leading zero (``GetATextClient.webhook_sms``
    recovers them); strings are accepted too and kept as sent. ``status`` and ``cost``
    are not needed and not checked.
    """
    r = Reader(_json(payload, "webhook"), provider=PROVIDER, where="webhook")
    rental_id = str(r.int("id"))
    text = _code_text(r.raw("code"))
    if text is None:
        raise MalformedReplyError("webhook.code: expected a code", provider=PROVIDER)
    return _code_sms(rental_id, text, received_at=_when(r, "received_at"), phone=r.str("number", None),
                     service_name=r.str("service_name", None))


# ---------------------------------------------------------------- client


class GetATextClient(Provider):
    name = PROVIDER
    title = "GetAText"
    capabilities = frozenset({Capability.CANCEL, Capability.FINISH, Capability.RENEW, Capability.WEBHOOK})
    min_age_to_cancel = float(CANCEL_WAIT_SECONDS)

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://getatext.com",
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 2,
        backoff: float = 0.5,
        rent_interval: float = 1.0,
        poll_interval: float = 0.2,
    ) -> None:
        self._key = api_key  # handler_api.php takes it as a query parameter
        self._http = HttpCore(
            provider=self.name,
            base_url=base_url,
            headers={"Auth": api_key},
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            transport=transport,
            classify=_classify,
            secret=api_key,
            spent_5xx_unknown=True,  # the document does not promise a 5xx rented nothing
        )
        self._rent_pacer = Pacer(rent_interval)  # the document's 1 request/s endpoints
        self._poll_pacer = Pacer(poll_interval)  # reads are not limited; stay polite anyway

    async def aclose(self) -> None:
        await self._http.aclose()

    def observe(self, observer) -> None:
        self._http.add_observer(observer)

    # ------------------------------------------------------------ plumbing

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        spends_money: bool = False,
        paced: bool = False,
        expect_json: bool = True,
    ) -> Any:
        if paced:
            await self._rent_pacer.wait()
        try:
            return await self._http.request(
                method, path, params=params, json_body=json_body, spends_money=spends_money, expect_json=expect_json
            )
        except ProviderError as err:
            err.message = redact(err.message)
            err.args = (err.message,)
            raise

    def _error(self, message: str, status: int | None = None) -> ProviderError:
        message = redact(message)
        cls = classify_message(message) or ProviderRejectedError
        return cls(message, provider=self.name, status=status)

    def _checked(self, data: Any, *, request_status: bool = True, where: str = "reply") -> Reader:
        """A 2xx reply that still reports a failure becomes an error."""
        r = Reader(data, provider=self.name, where=where)
        problem = _error_text(data.get("errors"))
        if not problem and request_status:
            status = data.get("status")
            if status is not None and str(status).strip().lower() != "success":
                problem = _error_text(data.get("message")) or f"request status {str(status)[:30]!r}"
        if problem:
            raise self._error(problem)
        return r

    def _rental(self, r: Reader, *, status: RentalStatus | None = None, price_key: str = "price",
                started: datetime | None = None) -> Rental:
        return Rental(
            provider=self.name,
            id=str(r.int("id")),
            phone=r.str("number"),
            service_name=r.str("service_name", ""),
            status=status or _status(r.str("status"), r.where),
            price=r.decimal(price_key, None),
            active_from=started,
            active_till=_when(r, "end_time"),
        )

    def _rent_reply(self, data: Any) -> RentalReply:
        r = self._checked(data)
        rental = self._rental(r, status=RentalStatus.ACTIVE, started=datetime.now(UTC))
        if rental.price is None:
            raise MalformedReplyError("reply.price: missing", provider=self.name)
        return RentalReply(rental, balance=r.decimal("new_balance", None), message=r.str("message", None))

    def _status_reply(self, data: Any) -> RentalReply:
        r = self._checked(data, request_status=False)
        return RentalReply(
            self._rental(r, price_key="cost"),
            code=_code_text(r.raw("code", None)),
            balance=r.decimal("balance", None),
            message=r.str("message", None),
        )

    def _long_rental(self, r: Reader) -> LongRental:
        return LongRental(
            id=str(r.int("id")),
            number=r.str("number"),
            rented_at=_when(r, "rented_at"),
            end_time=_when(r, "end_time"),
            price=r.decimal("price"),
            status=_status(r.str("status"), r.where),
            period=r.str("period", ""),
            auto_renew=r.bool("auto_renew", False),
        )

    # ------------------------------------------------------------ documented operations

    async def prices_info(self) -> list[PriceInfo]:
        """GET /api/v1/prices-info.

        The document's example is a single object. We accept a JSON list of such objects,
        a single object, or an object wrapping the list under "data", "services" or
        "prices" (with an optional status/errors envelope, which is checked).
        """
        data = await self._request("GET", "/api/v1/prices-info")
        items: Any
        if isinstance(data, list):
            items = data
        else:
            r = self._checked(data)
            key = next((k for k in ("data", "services", "prices") if k in r.data), None)
            items = r.list(key) if key else [data]
        result = []
        for i, item in enumerate(items):
            e = Reader(item, provider=self.name, where=f"prices-info[{i}]")
            result.append(PriceInfo(
                service_name=e.str("service_name"),
                api_name=e.str("api_name"),
                multiple_sms=e.bool("multiple_sms", False),
                price=e.decimal("price"),
                ttl=e.int("ttl"),
                stock=e.int("stock"),
            ))
        return result

    async def balance(self) -> Decimal:
        """GET /api/v1/balance."""
        return self._checked(await self._request("GET", "/api/v1/balance")).decimal("balance")

    async def rent_a_number(
        self,
        service: str,
        max_price: Decimal | float | str | None = None,
        carrier: str | None = None,
        keep_carrier: bool | None = None,
    ) -> RentalReply:
        """POST /api/v1/rent-a-number. Spends money: sent once, paced to 1/s.

        ``rental.active_from`` is our clock when the reply arrived (the API sends no start
        time); ``cancel_available_at`` uses it."""
        body = {"service": service}
        if max_price is not None:
            body["max_price"] = _money(max_price)
        if carrier is not None:
            body["carrier"] = carrier
        if keep_carrier is not None:
            body["keep_carrier"] = keep_carrier
        with spent_reply(self.name, "rent-a-number"):
            data = await self._request("POST", "/api/v1/rent-a-number", json_body=body, spends_money=True, paced=True)
            return self._rent_reply(data)

    async def rent_multiple_services(
        self,
        services: Sequence[str] | str,
        max_price: Decimal | float | str | None = None,
        carrier: str | None = None,
        keep_carrier: bool | None = None,
    ) -> MultiRentResult:
        """POST /api/v1/rent-multiple-services: several services on one number. Spends money."""
        body: dict[str, Any] = {"services": services if isinstance(services, str) else ",".join(services)}
        if max_price is not None:
            body["max_price"] = _money(max_price)
        if carrier is not None:
            body["carrier"] = carrier
        if keep_carrier is not None:
            body["keep_carrier"] = keep_carrier
        with spent_reply(self.name, "rent-multiple-services"):
            data = await self._request(
                "POST", "/api/v1/rent-multiple-services", json_body=body, spends_money=True, paced=True
            )
            r = self._checked(data)
            started = datetime.now(UTC)
            rentals, failures = [], []
            # Money may have been spent on some entries even if others failed: keep both.
            for item in r.objects("rentals"):
                problem = _error_text(item.data.get("errors"))
                status = _STATUSES.get(str(item.data.get("status", "success")).lower())
                if problem or status is not RentalStatus.ACTIVE:
                    failures.append(redact(problem or item.str("message", "rental failed")))
                    continue
                rentals.append(self._rental(item, status=RentalStatus.ACTIVE, started=started))
            return MultiRentResult(
                tuple(rentals), tuple(failures), r.decimal("new_balance", None), r.decimal("total_cost", None)
            )

    async def rental_status(self, rental_id: str | int) -> RentalReply:
        """POST /api/v1/rental-status. ``code`` is set once a code arrived."""
        data = await self._request("POST", "/api/v1/rental-status", json_body={"id": _int_id(rental_id)})
        return self._status_reply(data)

    async def cancel_rental(self, rental_id: str | int) -> RentalReply:
        """POST /api/v1/cancel-rental. Refused within ``CANCEL_WAIT_SECONDS`` of renting
        (raises ``CancelTooSoonError``, a ``ProviderRejectedError`` with GetAText's message)."""
        data = await self._request(
            "POST", "/api/v1/cancel-rental", json_body={"id": _int_id(rental_id)}, paced=True
        )
        return self._status_reply(data)

    async def mark_completed(self, rental_id: str | int) -> RentalReply:
        """POST /api/v1/rental-status/{id}/completed."""
        data = await self._request("POST", f"/api/v1/rental-status/{_int_id(rental_id)}/completed")
        r = self._checked(data)
        inner = r.obj("rental")
        status = _status(inner.str("status"), inner.where) if inner.has("status") else RentalStatus.FINISHED
        return RentalReply(
            self._rental(inner, status=status),
            balance=inner.decimal("new_balance", None),
            message=r.str("message", None),
        )

    async def re_rent(self, rental_id: str | int) -> RentalReply:
        """POST /api/v1/re-rent: the same number again, under a NEW rental id. Spends money."""
        with spent_reply(self.name, "re-rent"):
            data = await self._request(
                "POST", "/api/v1/re-rent", json_body={"rental_id": _int_id(rental_id)}, spends_money=True, paced=True
            )
            return self._rent_reply(data)

    async def create_long_rental(self, rental_time: str, auto_renew: bool) -> LongRental:
        """POST /api/v1/long-rentals; ``rental_time`` in 1w/2w/1m/1y. Spends money."""
        if rental_time not in RENTAL_TIMES:
            raise ValueError(f"rental_time must be one of {sorted(RENTAL_TIMES)}, got {rental_time!r}")
        body = {"auto_renew": bool(auto_renew), "rental_time": rental_time}
        with spent_reply(self.name, "long rental"):
            data = await self._request("POST", "/api/v1/long-rentals", json_body=body, spends_money=True)
            return self._long_rental(self._checked(data).obj("long_rental"))

    async def list_long_rentals(self) -> list[LongRental]:
        """GET /api/v1/long-rentals."""
        r = self._checked(await self._request("GET", "/api/v1/long-rentals"))
        return [self._long_rental(item) for item in r.objects("long_rentals")]

    async def update_long_rental(self, rental_id: str | int, action: str, auto_renew: bool | None = None) -> LongRental:
        """POST /api/v1/long-rentals/{id}/update; action renew (spends money), cancel or
        auto_renew (which needs ``auto_renew``)."""
        if action not in LONG_RENTAL_ACTIONS:
            raise ValueError(f"action must be one of {sorted(LONG_RENTAL_ACTIONS)}, got {action!r}")
        if action == "auto_renew" and auto_renew is None:
            raise ValueError("action 'auto_renew' needs auto_renew=True or False")
        body: dict[str, Any] = {"action": action}
        if auto_renew is not None:
            body["auto_renew"] = bool(auto_renew)
        spends = action == "renew"
        with spent_reply(self.name, "long rental renewal") if spends else nullcontext():
            data = await self._request(
                "POST", f"/api/v1/long-rentals/{_int_id(rental_id)}/update", json_body=body, spends_money=spends,
            )
            return self._long_rental(self._checked(data).obj("long_rental"))

    async def long_rental_messages(self, rental_id: str | int) -> list[LongRentalMessage]:
        """GET /api/v1/long-rentals/{id}/messages."""
        r = self._checked(await self._request("GET", f"/api/v1/long-rentals/{_int_id(rental_id)}/messages"))
        return [
            LongRentalMessage(
                message=m.str("message"),
                number=m.str("number", ""),
                received_at=_when(m, "rented_at"),
                sender=m.str("sender", None),
            )
            for m in r.objects("messages")
        ]

    async def list_auctions(self) -> list[Auction]:
        """GET /api/v1/auctions."""
        r = self._checked(await self._request("GET", "/api/v1/auctions"))
        return [
            Auction(
                id=str(a.int("id")),
                service_name=a.str("service_name"),
                current_bid=a.decimal("current_bid"),
                end_time=_when(a, "end_time"),
                amount=a.int("amount"),
            )
            for a in r.objects("auctions")
        ]

    async def bid(self, auction_id: str | int, bid_amount: Decimal | float | str) -> BidResult:
        """POST /api/v1/auctions/{id}/bid. Spends money (bid x quantity is reserved)."""
        amount = _money(bid_amount)
        if amount <= 0:
            raise ValueError("bid_amount must be positive")
        with spent_reply(self.name, "bid"):
            data = await self._request(
                "POST", f"/api/v1/auctions/{_int_id(auction_id, 'auction id')}/bid",
                json_body={"bid_amount": amount}, spends_money=True,
            )
            r = self._checked(data)
            return BidResult(message=r.str("message", ""), new_current_bid=r.decimal("new_current_bid"))

    # ------------------------------------------------------------ handler_api.php (SMS-Activate style)
    #
    # The document lists the actions but not their replies; they follow the SMS-Activate
    # protocol: plain text such as ACCESS_NUMBER:id:number, STATUS_OK:code,
    # STATUS_WAIT_CODE, ACCESS_CANCEL, or an error word (NO_NUMBERS, NO_BALANCE, BAD_KEY).

    _HANDLER_ERRORS: dict[str, type[ProviderError]] = {
        "BAD_KEY": errors.AuthenticationError,
        "NO_BALANCE": errors.InsufficientFundsError,
        "NO_NUMBERS": errors.NothingAvailableError,
        "NO_ACTIVATION": errors.NotFoundError,
        "WRONG_ACTIVATION_ID": errors.NotFoundError,
        "EARLY_CANCEL_DENIED": CancelTooSoonError,
        "ERROR_SQL": errors.ServerError,
        "BAD_ACTION": ProviderRejectedError,
        "BAD_SERVICE": ProviderRejectedError,
        "BAD_STATUS": ProviderRejectedError,
        "WRONG_MAX_PRICE": ProviderRejectedError,
        "BANNED": ProviderRejectedError,
    }

    async def _handler(self, params: dict[str, Any], *, spends_money: bool = False, paced: bool = False
                       ) -> tuple[str, str]:
        """Sends one handler_api.php action; returns (WORD, rest after the first colon)."""
        text = await self._request(
            "GET", "/stubs/handler_api.php", params={"api_key": self._key, **params},
            spends_money=spends_money, paced=paced, expect_json=False,
        )
        text = text.strip()
        if text.startswith("{"):  # some SMS-Activate clones answer errors in JSON
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = None
            if isinstance(data, dict):
                self._checked(data, where="handler_api")
        if "<html" in text[:300].lower() or text[:20].lower().startswith("<!doctype"):
            raise MalformedReplyError("handler_api: expected a text reply, got HTML page", provider=self.name)
        word, _, rest = text.partition(":")
        cls = self._HANDLER_ERRORS.get(word)
        if cls is errors.ServerError and spends_money and self._http.spent_5xx_unknown:
            # ERROR_SQL is the handler's 500: it may come after the number was taken.
            raise errors.OutcomeUnknownError(f"{redact(text[:100])}; outcome unknown", provider=self.name)
        if cls is not None:
            raise cls(redact(text[:100]), provider=self.name)
        return word, rest

    def _unexpected(self, word: str, rest: str) -> MalformedReplyError:
        reply = f"{word}:{rest}" if rest else word
        return MalformedReplyError(f"handler_api: unexpected reply {redact(reply[:60])!r}", provider=self.name)

    async def handler_get_number(self, service: str) -> Rental:
        """handler_api.php?action=getNumber -> ``ACCESS_NUMBER:id:number``. Spends money."""
        word, rest = await self._handler({"action": "getNumber", "service": service}, spends_money=True, paced=True)
        rental_id, _, number = rest.partition(":")
        if word != "ACCESS_NUMBER" or not rental_id.strip().isdigit() or not number.strip():
            raise self._unexpected(word, rest)
        return Rental(
            provider=self.name, id=rental_id.strip(), phone=number.strip(), service_name=service,
            status=RentalStatus.ACTIVE, active_from=datetime.now(UTC),
        )

    async def handler_get_code(self, rental_id: str | int) -> HandlerCode:
        """handler_api.php?action=getCode -> STATUS_WAIT_CODE / STATUS_OK:code / STATUS_CANCEL."""
        word, rest = await self._handler({"action": "getCode", "id": _int_id(rental_id)})
        code = rest.strip() or None
        if word in ("STATUS_OK", "STATUS_WAIT_RETRY") and code:
            return HandlerCode(RentalStatus.ACTIVE, code)
        if word in ("STATUS_WAIT_CODE", "STATUS_WAIT_RESEND"):
            return HandlerCode(RentalStatus.ACTIVE, None)
        if word == "STATUS_CANCEL":
            return HandlerCode(RentalStatus.CANCELLED, None)
        raise self._unexpected(word, rest)

    _SET_STATUS_REPLIES = {
        "ACCESS_READY": RentalStatus.ACTIVE,
        "ACCESS_RETRY_GET": RentalStatus.ACTIVE,
        "ACCESS_ACTIVATION": RentalStatus.FINISHED,
        "ACCESS_CANCEL": RentalStatus.CANCELLED,
    }

    async def handler_set_status(self, rental_id: str | int, status: int = 8) -> RentalStatus:
        """handler_api.php?action=setStatus; 8 cancels (-> ACCESS_CANCEL). Paced like cancel.

        Accepts the SMS-Activate codes 1, 3, 6, 8; the document names only 8."""
        if status not in HANDLER_STATUSES:
            raise ValueError(f"status must be one of {sorted(HANDLER_STATUSES)}, got {status!r}")
        word, rest = await self._handler(
            {"action": "setStatus", "id": _int_id(rental_id), "status": status}, paced=True
        )
        if word not in self._SET_STATUS_REPLIES:
            raise self._unexpected(word, rest)
        return self._SET_STATUS_REPLIES[word]

    # ------------------------------------------------------------ Provider interface

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

    async def rent(self, offer: Offer) -> Rental:
        # max_price = the price we showed, so a price rise is refused instead of paid.
        return (await self.rent_a_number(offer.id, max_price=offer.price)).rental

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


__all__ = [
    "CANCEL_WAIT_SECONDS", "WEBHOOK_SOURCE_IP", "Auction", "BidResult", "CancelTooSoonError", "GetATextClient",
    "HandlerCode", "LongRental", "LongRentalMessage", "MultiRentResult", "PriceInfo", "RentalReply",
    "cancel_available_at", "classify_message", "parse_webhook", "sms_id",
]
