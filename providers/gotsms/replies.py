"""What GotSMS's replies say, as typed values: services, plans, rents, SMS, the public
pricelist and a number's online state, each read from one JSON object.

Decisions where the document is silent or ambiguous:

* Rent statuses: ``active``, ``finished`` (documented), plus ``expired``, ``refunded``,
  ``cancelled``/``canceled``; anything else is a malformed reply. Number statuses
  (``/numbers/{id}/status``) are passed through as text: the document lists no values.
* ``transition_options`` has no item schema: strings are kept, objects give their ``id``.

The readers are pure: the client sends the request and checks ``success``, then hands
the objects here.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..codes import extract_code
from ..errors import MalformedReplyError
from ..models import BillingType, NumberStatus, Offer, Rental, RentalStatus, Service, Sms
from ..parsing import Reader

PROVIDER = "gotsms"

_RENT_STATUSES = {
    "active": RentalStatus.ACTIVE,
    "finished": RentalStatus.FINISHED,
    "expired": RentalStatus.EXPIRED,
    "refunded": RentalStatus.CANCELLED,
    "cancelled": RentalStatus.CANCELLED,
    "canceled": RentalStatus.CANCELLED,
}
_BILLING_TYPES = {"duration": BillingType.DURATION, "sms": BillingType.SMS}


# ---------------------------------------------------------------- typed results


@dataclass(frozen=True, slots=True)
class PricelistEntry:
    """One plan of the public pricelist (no ids: it is for showing prices, not renting)."""

    service_name: str
    period: int
    period_type: str
    period_type_label: str
    duration_label: str
    price: Decimal
    renew_price: Decimal | None
    country: str
    billing: BillingType


@dataclass(frozen=True, slots=True)
class RentUpdate:
    """What refund and transition replies say: the rent's id and new status."""

    id: str
    status: RentalStatus
    message: str


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of a rent's messages, newest first; pass ``next_before_id`` for older ones."""

    messages: tuple[Sms, ...]
    next_before_id: str | None
    count: int


# ---------------------------------------------------------------- readers


def _enum(value: str, table: dict, r: Reader, key: str):
    found = table.get(value.strip().lower())
    if found is None:
        raise MalformedReplyError(f"{r.where}.{key}: unknown value {value[:30]!r}", provider=PROVIDER)
    return found


def read_service(r: Reader) -> Service:
    return Service(id=r.str("id"), name=r.str("name"))


def read_offer(r: Reader) -> Offer:
    service, country = r.obj("service"), r.obj("country")
    return Offer(
        provider=PROVIDER,
        id=r.str("id"),
        service_id=service.str("id"),
        service_name=service.str("name"),
        price=r.decimal("price"),
        billing=_enum(r.str("billing_type"), _BILLING_TYPES, r, "billing_type"),
        duration_minutes=r.int("duration_in_minutes", None),
        duration_label=r.str("duration_translation"),
        country=country.str("name"),
        renew_price=r.decimal("renew_price", None),
    )


def read_rental(r: Reader) -> Rental:
    plan_id = None
    if r.has("plan"):
        plan = r.obj("plan")
        plan_id = plan.str("id")
        if plan.has("billing_type"):
            _enum(plan.str("billing_type"), _BILLING_TYPES, plan, "billing_type")
    options = []
    for i, item in enumerate(r.list("transition_options", [])):
        if isinstance(item, dict):
            options.append(Reader(item, provider=PROVIDER, where=f"{r.where}.transition_options[{i}]").str("id"))
        elif isinstance(item, (str, int)) and not isinstance(item, bool):
            options.append(str(item))
        else:
            raise MalformedReplyError(f"{r.where}.transition_options[{i}]: unexpected item", provider=PROVIDER)
    return Rental(
        provider=PROVIDER,
        id=r.str("id"),
        phone=r.str("phone"),
        service_name=r.obj("service").str("name"),
        status=_enum(r.str("status"), _RENT_STATUSES, r, "status"),
        price=r.decimal("price"),
        active_from=r.datetime("active_from", None),
        active_till=r.datetime("active_till", None),
        auto_renew=r.bool("is_included_for_next_renewal", False),
        can_wake_up=r.bool("can_wake_up", False),
        plan_id=plan_id,
        transition_options=tuple(options),
    )


def read_sms(r: Reader, rental_id: str | None = None) -> Sms:
    body = r.str("body")
    code = r.raw("code", None)
    if code is not None and (isinstance(code, bool) or not isinstance(code, (str, int))):
        raise MalformedReplyError(f"{r.where}.code: expected a string", provider=PROVIDER)
    provided = str(code).strip() if code is not None else ""
    return Sms(
        provider=PROVIDER,
        id=r.str("id"),
        rental_id=rental_id if rental_id is not None else r.str("rent_id"),
        body=body,
        code=extract_code(body, provided or None),
        received_at=r.datetime("received_at", None),
        sender=r.str("from", None),
        phone=r.str("phone", None) or r.str("to", None),
    )


def read_update(r: Reader) -> RentUpdate:
    data = r.obj("data")
    return RentUpdate(
        id=data.str("id"),
        status=_enum(data.str("status"), _RENT_STATUSES, data, "status"),
        message=r.str("message", ""),
    )


def read_pricelist(r: Reader) -> list[PricelistEntry]:
    """The pricelist's service groups, flattened: a plan without a service name takes its group's."""
    entries = []
    for group in r.objects("data"):
        group_name = group.str("name")
        for p in group.objects("plans"):
            entries.append(PricelistEntry(
                service_name=p.str("service_name", None) or group_name,
                period=p.int("period"),
                period_type=p.str("period_type"),
                period_type_label=p.str("period_type_label", ""),
                duration_label=p.str("duration_translation"),
                price=p.decimal("price"),
                renew_price=p.decimal("renew_price", None),
                country=p.str("country"),
                billing=_enum(p.str("billing_type"), _BILLING_TYPES, p, "billing_type"),
            ))
    return entries


def read_number_status(d: Reader) -> NumberStatus:
    return NumberStatus(
        rental_id=d.str("rent_id"),
        status=d.str("status"),
        active_till=d.datetime("active_till", None),
        wake_till=d.datetime("wake_till", None),
        online_till=d.datetime("online_till", None),
        wakeup_seconds_left=max(0, d.int("wakeup_time_left_seconds", 0)),
        online_seconds_left=max(0, d.int("online_time_left_seconds", 0)),
        can_wake_up=d.bool("can_wake_up", False),
    )
