"""What GetAText's replies say, as typed values, and the readers of its fields.

Decisions where the document is silent or ambiguous:

* ``ttl`` in prices-info is read as the lifetime of a rental in minutes (the document
  says only "Time To Live for the service information"); offers show it as the duration.
* Timestamps without a zone ("2025-07-06 15:43:37") are taken as US Eastern time: the
  one zoned timestamp in the document ("2025-07-28T12:39:32-04:00") is Eastern, and
  reading Eastern as UTC would make a fresh rental look hours past its end.
* Short-rental ids are integers in the API and strings in our models ("12345").

The readers are pure: the client sends the request and checks the reply's envelope
(``ClientCore._checked``), then hands the fields here.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import MalformedReplyError
from ..models import Rental, RentalStatus
from ..parsing import Reader, to_decimal

log = logging.getLogger(__package__)  # the provider's one logger, "providers.getatext"

PROVIDER = "getatext"
CANCEL_WAIT_SECONDS = 60  # the document: wait 1 minute after renting before cancelling

try:
    SERVER_TZ: tzinfo = ZoneInfo("America/New_York")
except ZoneInfoNotFoundError:  # no tz database in the image: fall back, but say so
    SERVER_TZ = UTC
    log.warning("tz database missing: GetAText timestamps read as UTC instead of US Eastern")


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


# ---------------------------------------------------------------- field readers

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


# ---------------------------------------------------------------- reply readers


def read_price_info(e: Reader) -> PriceInfo:
    return PriceInfo(
        service_name=e.str("service_name"),
        api_name=e.str("api_name"),
        multiple_sms=e.bool("multiple_sms", False),
        price=e.decimal("price"),
        ttl=e.int("ttl"),
        stock=e.int("stock"),
    )


def read_rental(r: Reader, *, status: RentalStatus | None = None, price_key: str = "price",
                started: datetime | None = None) -> Rental:
    return Rental(
        provider=PROVIDER,
        id=str(r.int("id")),
        phone=r.str("number"),
        service_name=r.str("service_name", ""),
        status=status or _status(r.str("status"), r.where),
        price=r.decimal(price_key, None),
        active_from=started,
        active_till=_when(r, "end_time"),
    )


def read_rent_reply(r: Reader) -> RentalReply:
    """A checked reply that rented a number: the API sends no start time, so it is our clock now."""
    rental = read_rental(r, status=RentalStatus.ACTIVE, started=datetime.now(UTC))
    if rental.price is None:
        raise MalformedReplyError("reply.price: missing", provider=PROVIDER)
    return RentalReply(rental, balance=r.decimal("new_balance", None), message=r.str("message", None))


def read_status_reply(r: Reader) -> RentalReply:
    """rental-status and cancel-rental: the rental's state, its cost and the code, if any."""
    return RentalReply(
        read_rental(r, price_key="cost"),
        code=_code_text(r.raw("code", None)),
        balance=r.decimal("balance", None),
        message=r.str("message", None),
    )


def read_long_rental(r: Reader) -> LongRental:
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


def read_long_rental_message(m: Reader) -> LongRentalMessage:
    return LongRentalMessage(
        message=m.str("message"),
        number=m.str("number", ""),
        received_at=_when(m, "rented_at"),
        sender=m.str("sender", None),
    )


def read_auction(a: Reader) -> Auction:
    return Auction(
        id=str(a.int("id")),
        service_name=a.str("service_name"),
        current_bid=a.decimal("current_bid"),
        end_time=_when(a, "end_time"),
        amount=a.int("amount"),
    )
