"""Typed rows returned by the repositories."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def db_time(moment: datetime | None) -> str | None:
    """The one stored form of a moment: UTC, fixed width, so SQL compares stored times as text correctly.

    Providers report in their own zones (GetAText: US Eastern); '17:26-05:00' and '22:16+00:00' compare
    wrongly as text. Same form as SQLite's strftime('%Y-%m-%dT%H:%M:%f+00:00'), which migration 4 used."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Chat:
    id: int
    kind: str
    title: str
    language: str
    balance: int
    members_can_rent: bool
    active: bool
    time_zone: str = "UTC"  # an IANA name the chat chose in Settings
    # Groups as teams (members_can_rent on): what each member who is not an admin may spend.
    member_limit: int = 0  # minor units per limit_period; 0: no limit
    limit_period: str = "day"  # 'day' or 'week', in the chat's time zone
    member_cap: int = 0  # open numbers per member; 0: no cap
    members_top_up: bool = True
    # Codes that hide themselves (groups): pushed under a spoiler; deleted from the chat N minutes after delivery.
    code_spoiler: bool = False
    code_delete_minutes: int = 0  # 0: never deleted
    # A forum group: each number gets its own topic (storage/topics.py), when the bot may manage topics.
    topic_per_number: bool = False

    @property
    def spoils_codes(self) -> bool:
        """Codes are shown under a spoiler here (a group setting)."""
        return self.is_group and self.code_spoiler

    @property
    def is_group(self) -> bool:
        return self.kind in ("group", "supergroup")

    @property
    def members_bounded(self) -> bool:
        """Members rent, within a limit or a cap: their spend is checked inside its transaction."""
        return self.members_can_rent and bool(self.member_limit or self.member_cap)

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Chat:
        return cls(
            id=row["id"], kind=row["kind"], title=row["title"], language=row["language"], balance=row["balance"],
            members_can_rent=bool(row["members_can_rent"]), active=bool(row["active"]),
            time_zone=row["time_zone"], member_limit=row["member_limit"], limit_period=row["limit_period"],
            member_cap=row["member_cap"], members_top_up=bool(row["members_top_up"]),
            code_spoiler=bool(row["code_spoiler"]), code_delete_minutes=row["code_delete_minutes"],
            topic_per_number=bool(row["topic_per_number"]) if "topic_per_number" in row.keys() else False,
        )


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    chat_id: int
    amount: int
    balance_after: int
    kind: str
    reference: str
    note: str
    created_at: datetime
    phone: str | None = None  # the number a rental's row is about (joined when read for a person)

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> LedgerEntry:
        return cls(
            id=row["id"], chat_id=row["chat_id"], amount=row["amount"], balance_after=row["balance_after"],
            kind=row["kind"], reference=row["reference"], note=row["note"], created_at=parse_ts(row["created_at"]),
            phone=row["phone"] if "phone" in row.keys() else None,
        )


@dataclass(frozen=True, slots=True)
class RentalRecord:
    id: int
    chat_id: int
    user_id: int
    user_name: str
    provider: str
    provider_rental_id: str | None
    offer_id: str
    service_name: str
    billing: str
    duration_label: str
    country: str
    phone: str | None
    price_charged: int
    provider_cost: str
    status: str
    active_from: datetime | None
    active_till: datetime | None
    auto_renew: bool
    failure: str
    created_at: datetime
    duration_minutes: int | None = None
    period_price: int | None = None  # one period of the current plan; None on rows written before it existed
    no_code: str | None = None  # activations: 'refunded' or 'refused' once "no code, no charge" decided
    area_code: str | None = None  # asked for at renting (GotSMS)
    carrier: str | None = None  # asked for at renting (GetAText); "keep": the carrier of a number already rented
    price_held: int | None = None  # a price cap held until the provider said its price
    renewal_id: int | None = None  # a renewal in place asked, its outcome not known yet (storage/in_place_renewals.py)
    set_id: int | None = None  # one number for several services: the id of the set's first rental
    topic_id: int | None = None  # its topic's message_thread_id in a forum group (storage/topics.py)
    topic_state: str | None = None  # 'open', 'lost', 'moved', 'closed' (migration: a topic per number)

    @property
    def renewal_price(self) -> int:
        """What renewing one more period costs the chat."""
        return self.price_charged if self.period_price is None else self.period_price

    @property
    def card_id(self) -> int:
        """The rental whose card shows this one: the set's first for a number shared by several services."""
        return self.set_id or self.id

    @property
    def is_open(self) -> bool:
        return self.status in ("active", "pending")

    @property
    def renewing(self) -> bool:
        """A renewal in place was charged and its outcome is not known yet: one at a time."""
        return self.renewal_id is not None

    @property
    def topic_thread(self) -> int | None:
        """The topic its codes go to now (None: the chat's main thread)."""
        return self.topic_id if self.topic_state == "open" else None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> RentalRecord:
        return cls(
            id=row["id"], chat_id=row["chat_id"], user_id=row["user_id"], user_name=row["user_name"],
            provider=row["provider"], provider_rental_id=row["provider_rental_id"], offer_id=row["offer_id"],
            service_name=row["service_name"], billing=row["billing"], duration_label=row["duration_label"],
            country=row["country"], phone=row["phone"], price_charged=row["price_charged"],
            provider_cost=row["provider_cost"], status=row["status"], active_from=parse_ts(row["active_from"]),
            active_till=parse_ts(row["active_till"]), auto_renew=bool(row["auto_renew"]), failure=row["failure"],
            created_at=parse_ts(row["created_at"]), duration_minutes=row["duration_minutes"],
            period_price=row["period_price"], no_code=row["no_code"], area_code=row["area_code"],
            carrier=row["carrier"], price_held=row["price_held"],
            renewal_id=row["renewal_id"], set_id=row["set_id"], topic_id=row["topic_id"],
            topic_state=row["topic_state"],
        )


@dataclass(frozen=True, slots=True)
class StoredSms:
    id: int
    provider: str
    provider_message_id: str
    rental_id: int
    body: str
    code: str | None
    sender: str | None
    received_at: datetime | None
    delivered_at: datetime | None
    stored_at: datetime | None = None
    delivery_attempts: int = 0
    delivery: str = "pending"  # pending, sending, held, delivered, undeliverable (storage/sms.py)
    hidden_at: datetime | None = None  # its message was deleted from the group (or Telegram refused to)
    telegram_message_id: int | None = None  # the pushed message, once Telegram accepted it

    @property
    def hidden(self) -> bool:
        return self.hidden_at is not None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> StoredSms:
        return cls(
            id=row["id"], provider=row["provider"], provider_message_id=row["provider_message_id"],
            rental_id=row["rental_id"], body=row["body"], code=row["code"], sender=row["sender"],
            received_at=parse_ts(row["received_at"]), delivered_at=parse_ts(row["delivered_at"]),
            stored_at=parse_ts(row["stored_at"]), delivery_attempts=row["delivery_attempts"], delivery=row["delivery"],
            hidden_at=parse_ts(row["hidden_at"]), telegram_message_id=row["telegram_message_id"],
        )
