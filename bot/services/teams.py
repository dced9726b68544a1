"""Groups as teams: members renting within a limit per day or week and a cap on open numbers, and requests for a
number that an admin approves (rented as the member, from the group's balance) or declines.

Rules:
- Admins are never bounded; a member's limit and cap are checked inside the charging transaction
  (``MemberBudget.check``), so two taps at once cannot both pass.
- A day or a week is a calendar one in the group's time zone (a week starts on Monday).
- An approval rents at today's price; if that is above the price the admin last saw, nothing is charged and the
  admin is asked again at the new price. An approved request is the admin's decision: the member's limit and cap
  do not refuse it (its cost still counts as the member's spending).
- One decision per request: a conditional UPDATE moves it from 'open', and the rent's idempotency key is derived
  from the request id, so two admins tapping Approve at once rent once.
- A declined or expired request costs nothing; expiry is checked at the tap and by a job that marks the message.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from providers import Offer
from storage import Chat, Database, LedgerEntry, RentalRecord
from storage.models import utcnow
from storage.teams import RequestRepo, SpendRequest, member_open, member_spent

from . import errors
from .catalogue import Catalogue, service_key
from .choosing import Wishes
from .localize import _zone
from .offers import offer_from_dict, offer_to_dict
from .pricing import format_money
from .rentals import RentalService, RentRequest

PERIODS = ("day", "week")
PERIOD_KEYS = {"day": "period-day", "week": "period-week"}  # "$5.00 a day"
SINCE_KEYS = {"day": "since-day", "week": "since-week"}  # "your spending today"
RENTING_GRACE = timedelta(minutes=10)


class OverLimit(errors.UserFacingError):
    key = "error-over-limit"


class OverCap(errors.UserFacingError):
    key = "error-over-cap"


class BoundedMembersRentOnly(errors.UserFacingError):
    """Renewing, switching plans or a set: members within a limit rent single numbers, or ask."""

    key = "error-bounded-rent-only"


class AlreadyAsked(errors.UserFacingError):
    key = "error-request-twice"


def period_start(chat: Chat, now: datetime | None = None) -> datetime:
    """The start of the chat's current day or week (Monday), in its time zone."""
    local = (now or utcnow()).astimezone(_zone(chat.time_zone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if chat.limit_period == "week":
        start -= timedelta(days=start.weekday())
    return start


@dataclass(frozen=True, slots=True)
class MemberBudget:
    """What a member who is not an admin may still spend: checked in the transaction that charges."""

    limit: int  # minor units per period; 0: none
    since: datetime
    cap: int  # open numbers; 0: none
    period: str

    @classmethod
    def of(cls, chat: Chat) -> MemberBudget | None:
        if not chat.members_bounded:
            return None
        return cls(chat.member_limit, period_start(chat), chat.member_cap, chat.limit_period)

    async def check(self, conn: aiosqlite.Connection, chat_id: int, user_id: int, price: int) -> None:
        """Inside the charging transaction, after the new rental's row is written and before its charge."""
        if self.cap and await member_open(conn, chat_id, user_id) > self.cap:
            raise OverCap(cap=self.cap)
        if self.limit:
            spent = await member_spent(conn, chat_id, user_id, self.since)
            if spent + price > self.limit:
                raise OverLimit(limit=format_money(self.limit), spent=format_money(spent),
                                left=format_money(max(0, self.limit - spent)),
                                period=errors.TextKey(PERIOD_KEYS[self.period]))


@dataclass(frozen=True, slots=True)
class Decision:
    """What an admin's Approve did: ``outcome`` approved / price (asked again at ``price``) / closed / expired."""

    outcome: str
    request: SpendRequest
    rental: RentalRecord | None = None
    price: int = 0


class Teams:
    def __init__(self, db: Database, rentals: RentalService, catalogue: Catalogue, request_minutes: int) -> None:
        self.db = db
        self.rentals = rentals
        self.catalogue = catalogue
        self.requests = RequestRepo(db)
        self.lifetime = timedelta(minutes=request_minutes)

    async def who_spent(self, entries: list[LedgerEntry]) -> dict[int, tuple[str, str]]:
        """Per ledger row of a rental: (who rented, who approved, "" when nobody had to)."""
        rental_ids = {e.id: int(e.reference.split(":", 1)[1]) for e in entries
                      if e.reference.startswith("rental:") and e.reference.split(":", 1)[1].isdigit()}
        if not rental_ids:
            return {}
        wanted = sorted(set(rental_ids.values()))
        renters = await self.rentals.rentals.renter_names(wanted)
        approvers = await self.requests.approvers(wanted)
        return {entry_id: (renters.get(rental_id, ""), approvers.get(rental_id, ""))
                for entry_id, rental_id in rental_ids.items() if renters.get(rental_id)}

    async def spent(self, chat: Chat, user_id: int) -> int:
        async with self.db.reading() as conn:
            return await member_spent(conn, chat.id, user_id, period_start(chat))

    async def ask(self, chat: Chat, user_id: int, user_name: str, snap: int, index: int, wishes: Wishes,
                  nonce: str) -> SpendRequest:
        offer, price = await self.rentals.offer_in_snapshot(chat.id, snap, index)
        found = await self.requests.create(chat.id, user_id, user_name, f"{chat.id}:{user_id}:{snap}:{index}:{nonce}",
                                           offer_to_dict(offer), dataclasses.asdict(wishes), wishes.cap or price,
                                           self.lifetime)
        if found is None:
            raise AlreadyAsked()
        return found

    async def request_in(self, chat_id: int, request_id: int) -> SpendRequest:
        found = await self.requests.get(request_id)
        if found is None or found.chat_id != chat_id:
            raise errors.StaleButton()
        return found

    async def quote(self, found: SpendRequest) -> tuple[Offer, int]:
        """The plan as sold now and what the chat pays for it now (a price cap wished: the cap)."""
        asked = offer_from_dict(found.offer)
        service = await self.catalogue.service(service_key(asked.service_name))
        if service is not None:
            offers, _ = await self.catalogue.offers(service)
            for priced in offers:
                now = priced.offer
                if (now.provider, now.id, now.country) == (asked.provider, asked.id, asked.country):
                    return now, int(found.wishes.get("cap") or 0) or priced.price
        raise errors.NothingAvailable()

    async def approve(self, chat: Chat, request_id: int, admin_id: int, admin_name: str, agreed: int) -> Decision:
        """``agreed``: the price on the button the admin tapped (0: the request's own)."""
        found = await self.request_in(chat.id, request_id)
        if found.status != "open":
            return Decision("closed", found)
        if found.expired():
            await self.requests.expire(found.id)
            return Decision("expired", await self.requests.get(found.id))
        offer, price = await self.quote(found)
        if price > (agreed or found.price):
            return Decision("price", found, price=price)  # nothing charged: the admin is asked again
        if not await self.requests.claim(found.id, admin_id, admin_name):
            fresh = await self.requests.get(found.id)
            return Decision("expired" if fresh.status == "expired" or fresh.expired() else "closed", fresh)
        key = f"request:{found.id}"
        wishes = Wishes(**{k: v for k, v in found.wishes.items() if k in ("area", "carrier", "cap", "renew")})
        try:
            rental = await self.rentals.rent(RentRequest.for_offer(chat.id, found.user_id, found.user_name, offer,
                                                                   key, wishes))
        except errors.AlreadyRequested:
            rental = await self.rentals.rentals.get_by_request_key(key)
        except errors.UserFacingError:
            made = await self.rentals.rentals.get_by_request_key(key)
            if made is None:
                await self.requests.release(found.id)  # nothing started (the balance was short): ask again later
            else:
                await self.requests.failed(found.id, made.id)  # the provider refused; the charge came back
            raise
        if rental is not None:
            await self.requests.approved(found.id, rental.id)
        return Decision("approved", await self.requests.get(found.id), rental)

    async def decline(self, chat: Chat, request_id: int, admin_id: int, admin_name: str) -> Decision:
        found = await self.request_in(chat.id, request_id)
        if found.status == "open" and found.expired():
            await self.requests.expire(found.id)
            return Decision("expired", await self.requests.get(found.id))
        if not await self.requests.decline(found.id, admin_id, admin_name):
            return Decision("closed", await self.requests.get(found.id))
        return Decision("declined", await self.requests.get(found.id))

    async def expire_due(self) -> list[SpendRequest]:
        """Requests past their time: open ones expire (nothing was charged); an approval cut off before its rent
        was recorded is settled from the rentals (rented: approved; not: expired). Returns the expired ones."""
        expired = []
        for found in await self.requests.due():
            if found.status == "open":
                if await self.requests.expire(found.id):
                    expired.append(await self.requests.get(found.id))
                continue
            if found.expires_at + RENTING_GRACE > utcnow():
                continue  # its rent may still be under way
            made = await self.rentals.rentals.get_by_request_key(f"request:{found.id}")
            if made is not None:
                await self.requests.approved(found.id, made.id)
            elif await self.requests._move(found.id, "expired", only_from=("renting",)):
                expired.append(await self.requests.get(found.id))
        return expired
