"""Long-term numbers as plans the bot can offer, rent and poll like any other.

Decisions where the document is silent:

* A long rental is created without a service (``rental_time`` and ``auto_renew`` only): it is a number for
  any service. It is offered in every service's plan list; the rental keeps the service it was rented from.
* The document gives no price before creation. The offer's price is a ceiling: the last price seen for that
  period (in the list of long rentals or a creation reply) or, before any, the operator's expected price,
  plus the operator's margin. The bot holds it and settles to the reply's ``price``.
* Our rental id of a long rental is ``L<id>``: the API gives short and long rentals ids from what may be one
  space, and the code webhook says nothing of long rentals. Long rentals are polled, never matched by webhook.
* ``end_time`` and ``rented_at`` are dates ("2025-07-06"): the end is read as the end of that day (US
  Eastern), marked as a day (``till_is_day``) so the bot can place it at the moment of renting plus whole periods;
  a start with no time as unknown.
* Messages have no id: an SMS's id is a digest of the rental, its time, sender and text.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal

from ..codes import extract_code
from ..models import BillingType, Offer, Rental, RentalStatus, Service, Sms
from .replies import PROVIDER, LongRental, LongRentalMessage

PLAN_PREFIX = "long:"
RENTAL_PREFIX = "L"


@dataclass(frozen=True, slots=True)
class Period:
    code: str  # the API's rental_time
    minutes: int
    label: str  # the provider's wording, for logs and old screens


PERIODS = {p.code: p for p in (
    Period("1w", 7 * 1440, "1 Week"), Period("2w", 14 * 1440, "2 Weeks"),
    Period("1m", 43200, "1 Month"), Period("1y", 525600, "1 Year"),
)}


def is_long_plan(plan_id: str | None) -> bool:
    return bool(plan_id) and plan_id.startswith(PLAN_PREFIX)


def is_long_rental(rental_id: str) -> bool:
    return rental_id.startswith(RENTAL_PREFIX)


def period_of(plan_id: str) -> Period | None:
    return PERIODS.get(plan_id.removeprefix(PLAN_PREFIX)) if is_long_plan(plan_id) else None


def period_from_text(text: str) -> Period | None:
    """The period a listed long rental names ("1 Week", "2 weeks", "1 month", "1 Year")."""
    words = text.strip().lower().rstrip("s").split()
    if len(words) != 2 or not words[0].isdigit():
        return None
    code = f"{words[0]}{words[1][:1]}"
    return PERIODS.get(code)


def long_id(rental_id: str) -> str:
    """The API's id of our ``L<id>``."""
    return rental_id.removeprefix(RENTAL_PREFIX)


def ceiling(expected: Decimal, margin_percent: Decimal) -> Decimal:
    """The price to hold for a period expected to cost ``expected``: plus the margin, rounded up to a cent."""
    return (expected * (100 + margin_percent) / 100).quantize(Decimal("0.01"), rounding=ROUND_CEILING)


def offers(service: Service, prices: dict[str, Decimal]) -> list[Offer]:
    """One long-term offer per period with a ceiling known; ``prices`` maps period codes to ceilings."""
    return [
        Offer(provider=PROVIDER, id=PLAN_PREFIX + period.code, service_id=service.id, service_name=service.name,
              price=prices[period.code], billing=BillingType.DURATION, duration_minutes=period.minutes,
              duration_label=period.label, country="USA", price_upto=True)
        for period in PERIODS.values() if prices.get(period.code)
    ]


def _end_of_day(moment: datetime | None) -> datetime | None:
    if moment is None or moment.time() != time(0):
        return moment
    return moment + timedelta(days=1) - timedelta(seconds=1)


def as_rental(long_rental: LongRental) -> Rental:
    period = period_from_text(long_rental.period)
    started = long_rental.rented_at
    return Rental(
        provider=PROVIDER, id=RENTAL_PREFIX + long_rental.id, phone=long_rental.number, service_name="",
        status=long_rental.status, price=long_rental.price,
        active_from=started if started is not None and started.time() != time(0) else None,
        active_till=_end_of_day(long_rental.end_time), auto_renew=long_rental.auto_renew,
        till_is_day=long_rental.end_time is not None and long_rental.end_time.time() == time(0),
        plan_id=PLAN_PREFIX + period.code if period else None,
    )


def gone(rental_id: str) -> Rental:
    """A long rental the provider no longer lists (it lists active ones only): ended."""
    return Rental(provider=PROVIDER, id=rental_id, phone="", service_name="", status=RentalStatus.EXPIRED)


def as_sms(rental_id: str, message: LongRentalMessage) -> Sms:
    when = message.received_at.isoformat() if message.received_at else ""
    digest = hashlib.sha256(f"{when}\x00{message.sender or ''}\x00{message.message}".encode()).hexdigest()[:20]
    return Sms(provider=PROVIDER, id=f"{rental_id}:{digest}", rental_id=rental_id, body=message.message,
               code=extract_code(message.message), received_at=message.received_at, sender=message.sender,
               phone=message.number or None)
