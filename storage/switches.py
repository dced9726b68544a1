"""Plan switches (a daily rent moved to a longer plan): pending -> done | refunded, one function per transition.

The charge and the pending row are written together; the provider's answer (or the reconciler, when the
answer was lost) moves the row to a final state in the same transaction as the rental or the refund."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import aiosqlite

from . import ledger
from .db import Database
from .models import RentalRecord, db_time, parse_ts
from .rentals import RentalRepo


@dataclass(frozen=True, slots=True)
class PlanSwitch:
    id: int
    rental_id: int
    chat_id: int
    user_id: int
    offer_id: str
    duration_label: str
    duration_minutes: int | None
    price: int
    provider_cost: str
    state: str
    active_till_before: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> PlanSwitch:
        return cls(id=row["id"], rental_id=row["rental_id"], chat_id=row["chat_id"], user_id=row["user_id"],
                   offer_id=row["offer_id"], duration_label=row["duration_label"],
                   duration_minutes=row["duration_minutes"], price=row["price"], provider_cost=row["provider_cost"],
                   state=row["state"], active_till_before=parse_ts(row["active_till_before"]),
                   created_at=parse_ts(row["created_at"]))


class PlanSwitchRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def open_charged(conn: aiosqlite.Connection, rental: RentalRecord, *, user_id: int, offer_id: str,
                           duration_label: str, duration_minutes: int | None, price: int, provider_cost: str,
                           request_key: str, note: str) -> PlanSwitch:
        """pending: the row and the charge in the caller's transaction (UNIQUE request_key: one tap, one charge)."""
        async with conn.execute(
            "INSERT INTO plan_switches (rental_id, chat_id, user_id, offer_id, duration_label, duration_minutes,"
            " price, provider_cost, request_key, state, active_till_before)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) RETURNING *",
            (rental.id, rental.chat_id, user_id, offer_id, duration_label, duration_minutes, price, provider_cost,
             request_key, db_time(rental.active_till)),
        ) as cur:
            switch = PlanSwitch.from_row(await cur.fetchone())
        if price > 0:
            await ledger.post(conn, rental.chat_id, -price, "charge", f"rental:{rental.id}",
                              idempotency_key=f"switch:{switch.id}", actor_id=user_id, note=note)
        return switch

    async def complete(self, switch_id: int, active_till: datetime | None) -> RentalRecord | None:
        """pending -> done: the rental now carries the new plan, its period price and end. None if already final."""
        async with self.db.transaction() as conn:
            switch = await self._pending(conn, switch_id)
            if switch is None:
                return None
            rental = await RentalRepo.lock(conn, switch.rental_id)
            await conn.execute("UPDATE plan_switches SET state = 'done', updated_at = CURRENT_TIMESTAMP"
                               " WHERE id = ?", (switch_id,))
            return await RentalRepo.update(
                conn, rental.id, offer_id=switch.offer_id, duration_label=switch.duration_label,
                duration_minutes=switch.duration_minutes, price_charged=rental.price_charged + switch.price,
                period_price=switch.price,
                provider_cost=str(Decimal(rental.provider_cost) + Decimal(switch.provider_cost)),
                active_till=active_till or rental.active_till, renew_warned_at=None,
            )

    async def refund(self, switch_id: int, note: str,
                     tell: Callable[[aiosqlite.Connection, PlanSwitch, str], Awaitable[object]] | None = None,
                     ) -> PlanSwitch | None:
        """pending -> refunded: the charge comes back. None if already final. ``tell(conn, switch, ledger key)``
        writes the chat's notice of it in the same transaction."""
        async with self.db.transaction() as conn:
            switch = await self._pending(conn, switch_id)
            if switch is None:
                return None
            key = f"switch-refund:{switch.id}"
            if switch.price > 0:
                await ledger.post(conn, switch.chat_id, switch.price, "refund", f"rental:{switch.rental_id}",
                                  idempotency_key=key, note=note[:200])
            await conn.execute("UPDATE plan_switches SET state = 'refunded', updated_at = CURRENT_TIMESTAMP"
                               " WHERE id = ?", (switch_id,))
            if tell is not None:
                await tell(conn, switch, key)
            return switch

    async def get_by_request_key(self, key: str) -> PlanSwitch | None:
        row = await self.db.fetchone("SELECT * FROM plan_switches WHERE request_key = ?", (key,))
        return PlanSwitch.from_row(row) if row else None

    async def pending(self) -> list[PlanSwitch]:
        rows = await self.db.fetchall("SELECT * FROM plan_switches WHERE state = 'pending' ORDER BY id")
        return [PlanSwitch.from_row(r) for r in rows]

    async def pending_for(self, rental_id: int) -> PlanSwitch | None:
        row = await self.db.fetchone(
            "SELECT * FROM plan_switches WHERE rental_id = ? AND state = 'pending' ORDER BY id LIMIT 1", (rental_id,))
        return PlanSwitch.from_row(row) if row else None

    @staticmethod
    async def _pending(conn: aiosqlite.Connection, switch_id: int) -> PlanSwitch | None:
        async with conn.execute("SELECT * FROM plan_switches WHERE id = ? AND state = 'pending'",
                                (switch_id,)) as cur:
            row = await cur.fetchone()
        return PlanSwitch.from_row(row) if row else None

