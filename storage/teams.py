"""Groups as teams: what a member spent of the group's balance, their open numbers, and the requests for a number
that admins approve or decline (one admin's decision wins: a conditional UPDATE on the request row)."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiosqlite

from .db import Database, first_row
from .models import db_time, parse_ts, utcnow

OPEN = ("open", "renting")


def ledger_time(moment: datetime) -> str:
    """The form of ledger.created_at (SQLite's CURRENT_TIMESTAMP, UTC), so a period compares as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


async def member_spent(conn: aiosqlite.Connection, chat_id: int, user_id: int, since: datetime) -> int:
    """Minor units of the group's balance spent on the member's rentals since ``since``: charges less refunds
    (a number cancelled with its money back costs nothing)."""
    row = await first_row(
        conn,
        "SELECT COALESCE(-SUM(l.amount), 0)"
        " FROM ledger l JOIN rentals r ON r.id = CAST(substr(l.reference, 8) AS INTEGER)"
        " WHERE l.chat_id = ? AND l.reference LIKE 'rental:%' AND l.kind IN ('charge', 'refund')"
        " AND l.created_at >= ? AND r.user_id = ?",
        (chat_id, ledger_time(since), user_id))
    return max(0, row[0])


async def member_open(conn: aiosqlite.Connection, chat_id: int, user_id: int) -> int:
    """The member's numbers open now in the group (a number shared by several services counts once)."""
    row = await first_row(
        conn, "SELECT COUNT(*) FROM rentals WHERE chat_id = ? AND user_id = ? AND status IN ('active', 'pending')"
              " AND (set_id IS NULL OR set_id = id)", (chat_id, user_id))
    return row[0]


@dataclass(frozen=True, slots=True)
class SpendRequest:
    id: int
    chat_id: int
    user_id: int
    user_name: str
    offer: dict
    wishes: dict
    price: int  # what the chat would pay, as shown when asked
    status: str
    message_id: int | None
    decided_by: int | None
    decided_name: str
    rental_id: int | None
    created_at: datetime
    expires_at: datetime

    @property
    def service_name(self) -> str:
        return str(self.offer.get("service_name", ""))

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or utcnow())

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> SpendRequest:
        return cls(id=row["id"], chat_id=row["chat_id"], user_id=row["user_id"], user_name=row["user_name"],
                   offer=json.loads(row["offer"]), wishes=json.loads(row["wishes"]), price=row["price"],
                   status=row["status"], message_id=row["message_id"], decided_by=row["decided_by"],
                   decided_name=row["decided_name"], rental_id=row["rental_id"],
                   created_at=parse_ts(row["created_at"]), expires_at=parse_ts(row["expires_at"]))


class RequestRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, chat_id: int, user_id: int, user_name: str, key: str, offer: dict, wishes: dict,
                     price: int, lifetime: timedelta) -> SpendRequest | None:
        """None when this key asked already (the same button tapped twice)."""
        now = utcnow()
        try:
            async with self.db.transaction() as conn:
                row = await first_row(
                    conn, "INSERT INTO spend_requests (chat_id, user_id, user_name, request_key, offer, wishes, price,"
                          " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                    (chat_id, user_id, user_name, key, json.dumps(offer), json.dumps(wishes), price, db_time(now),
                     db_time(now + lifetime)))
        except sqlite3.IntegrityError:
            return None
        return SpendRequest.from_row(row)

    async def get(self, request_id: int) -> SpendRequest | None:
        row = await self.db.fetchone("SELECT * FROM spend_requests WHERE id = ?", (request_id,))
        return SpendRequest.from_row(row) if row else None

    async def set_message(self, request_id: int, message_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE spend_requests SET message_id = ? WHERE id = ?", (message_id, request_id))

    async def _move(self, request_id: int, to: str, *, only_from: tuple[str, ...], **fields) -> bool:
        """The one way a request changes state: only from the states named, so of two taps one moves it."""
        sets = "".join(f", {name} = ?" for name in fields)
        marks = ", ".join("?" for _ in only_from)
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE spend_requests SET status = ?{sets} WHERE id = ? AND status IN ({marks})",
                (to, *fields.values(), request_id, *only_from))
            return cur.rowcount == 1

    async def claim(self, request_id: int, admin_id: int, admin_name: str) -> bool:
        """An admin approves: the request is theirs to rent, if it is still open and not expired."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE spend_requests SET status = 'renting', decided_by = ?, decided_name = ?"
                " WHERE id = ? AND status = 'open' AND expires_at > ?",
                (admin_id, admin_name, request_id, db_time(utcnow())))
            return cur.rowcount == 1

    async def release(self, request_id: int) -> None:
        """The rent did not start (the balance was short): open again, for this or another admin."""
        await self._move(request_id, "open", only_from=("renting",), decided_by=None, decided_name="")

    async def approved(self, request_id: int, rental_id: int) -> None:
        await self._move(request_id, "approved", only_from=("renting",), rental_id=rental_id)

    async def failed(self, request_id: int, rental_id: int | None) -> None:
        await self._move(request_id, "failed", only_from=("renting",), rental_id=rental_id)

    async def decline(self, request_id: int, admin_id: int, admin_name: str) -> bool:
        return await self._move(request_id, "declined", only_from=("open",), decided_by=admin_id,
                                decided_name=admin_name)

    async def expire(self, request_id: int) -> bool:
        async with self.db.transaction() as conn:
            cur = await conn.execute("UPDATE spend_requests SET status = 'expired' WHERE id = ? AND status = 'open'"
                                     " AND expires_at <= ?", (request_id, db_time(utcnow())))
            return cur.rowcount == 1

    async def due(self) -> list[SpendRequest]:
        """Open requests past their time, and approvals cut off before their rent was recorded."""
        rows = await self.db.fetchall("SELECT * FROM spend_requests WHERE status IN ('open', 'renting')"
                                      " AND expires_at <= ?", (db_time(utcnow()),))
        return [SpendRequest.from_row(r) for r in rows]

    async def approvers(self, rental_ids: list[int]) -> dict[int, str]:
        """Who approved each of these rentals (rentals a member asked for), by rental id."""
        if not rental_ids:
            return {}
        marks = ", ".join("?" for _ in rental_ids)
        rows = await self.db.fetchall(
            f"SELECT rental_id, decided_name FROM spend_requests WHERE rental_id IN ({marks}) AND status = 'approved'",
            tuple(rental_ids))
        return {r["rental_id"]: r["decided_name"] for r in rows}
