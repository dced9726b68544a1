"""Typed results every provider returns. Money is Decimal in the provider's currency."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal


class Capability(enum.StrEnum):
    """Optional actions; the bot shows a button only when the provider has it."""

    CANCEL = "cancel"  # cancel/refund a rental
    FINISH = "finish"  # mark a rental completed
    RENEW = "renew"  # renew / re-rent the same number
    AUTO_RENEW = "auto_renew"  # toggle auto-renewal
    WAKE_UP = "wake_up"  # wake a sleeping number (GotSMS)
    TRANSITION = "transition"  # daily -> monthly plan (GotSMS)
    HISTORY = "history"  # full SMS history of a rental
    WEBHOOK = "webhook"  # pushes codes to us


class Choice(enum.StrEnum):
    """Optional wishes a provider takes when renting; the confirm screen offers only those it lists."""

    AREA_CODE = "area_code"  # GotSMS: a preferred area code
    CARRIER = "carrier"  # GetAText: a preferred carrier, or keep the carrier of a number already rented
    MAX_PRICE = "max_price"  # GetAText: the most the provider may charge for the number
    AUTO_RENEW = "auto_renew"  # GetAText long-term numbers: auto-renewal chosen before paying


class BillingType(enum.StrEnum):
    DURATION = "duration"  # pay for time, any number of SMS
    SMS = "sms"  # pay per activation / per SMS


class RentalStatus(enum.StrEnum):
    PENDING = "pending"  # outcome unknown, being reconciled
    ACTIVE = "active"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Offer:
    """A plan one provider sells for one service."""

    provider: str
    id: str  # what the provider needs to rent it (plan id, service code)
    service_id: str
    service_name: str
    price: Decimal
    billing: BillingType
    duration_minutes: int | None
    duration_label: str
    country: str
    renew_price: Decimal | None = None
    stock: int | None = None
    currency: str = "USD"
    # The provider says its price only in the renting reply (GetAText long-term numbers): ``price`` is then
    # the most it is expected to charge, held on the chat's ledger and settled to the actual price.
    price_upto: bool = False


@dataclass(frozen=True, slots=True)
class RentChoice:
    """What the user chose for one rent; None = no wish. ``max_price`` is in the provider's currency."""

    area_code: str | None = None
    carrier: str | None = None
    keep_carrier: bool | None = None
    max_price: Decimal | None = None
    auto_renew: bool | None = None

    def wishes(self) -> frozenset[Choice]:
        """The choices this asks for. A blank text is no wish; so is ``keep_carrier`` False (not keeping a
        carrier is what a provider without carriers does anyway)."""
        asked = set()
        if (self.area_code or "").strip():
            asked.add(Choice.AREA_CODE)
        if (self.carrier or "").strip() or self.keep_carrier:
            asked.add(Choice.CARRIER)
        if self.max_price is not None:
            asked.add(Choice.MAX_PRICE)
        if self.auto_renew:  # off is what every rent is by default
            asked.add(Choice.AUTO_RENEW)
        return frozenset(asked)


@dataclass(frozen=True, slots=True)
class Rental:
    provider: str
    id: str
    phone: str
    service_name: str
    status: RentalStatus
    price: Decimal | None = None
    active_from: datetime | None = None
    active_till: datetime | None = None
    # The provider says only the day its period ends (GetAText's long rentals): ``active_till`` is that day's last
    # second in the provider's zone, the latest the end can be; the bot finds the moment (bot/services/rentals.py).
    till_is_day: bool = False
    auto_renew: bool = False
    can_wake_up: bool = False
    plan_id: str | None = None
    transition_options: tuple = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class SetRent:
    """One number rented for several services in one request: a rental per service that was paid for, the
    provider's words for each entry that was not, and the total it charged (where it says)."""

    rentals: tuple[Rental, ...]
    failures: tuple[str, ...] = ()
    total_cost: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Sms:
    provider: str
    id: str  # unique per provider
    rental_id: str
    body: str
    code: str | None
    received_at: datetime | None = None
    sender: str | None = None
    phone: str | None = None
    service_name: str | None = None


@dataclass(frozen=True, slots=True)
class NumberStatus:
    rental_id: str
    status: str
    active_till: datetime | None
    wake_till: datetime | None
    online_till: datetime | None
    wakeup_seconds_left: int
    online_seconds_left: int
    can_wake_up: bool


def to_minor_units(amount: Decimal, *, exponent: int = 2) -> int:
    """Exact conversion, rounding a fraction of a minor unit up (never undercharge)."""
    scaled = (amount * (Decimal(10) ** exponent)).to_integral_value(rounding=ROUND_CEILING)
    return int(scaled)


def from_minor_units(amount: int, *, exponent: int = 2) -> Decimal:
    return Decimal(amount).scaleb(-exponent)
