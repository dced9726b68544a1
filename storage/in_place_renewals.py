"""A renewal in place of a long-term number (one more period of the same rental), one transition per method:

    (none) --asked--> asked --made--> made        (settled to what the provider charged)
                      asked --refunded--> refunded (the provider refused, or its end never moved: the hold back)

While a renewal is asked its rental points at it (rentals.renewal_id): one at a time per rental. The money moves
(the hold's charge, its settling or refund) are the caller's, in the same transaction (bot/services/rentals.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from .db import Database, WrongStateError, first_row
from .models import db_time, parse_ts, utcnow


@dataclass(frozen=True, slots=True)
class InPlaceRenewal:
    id: int
    rental_id: int
    request_key: str
    hold: int  # charged when asked: a ceiling, settled to the provider's price
    till_before: datetime | None  # the rental's end when asked: made once the provider's end moves past it
    state: str
    asked_at: datetime

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> InPlaceRenewal:
        return cls(id=row["id"], rental_id=row["rental_id"], request_key=row["request_key"], hold=row["hold"],
                   till_before=parse_ts(row["till_before"]), state=row["state"], asked_at=parse_ts(row["asked_at"]))


class InPlaceRenewalRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def ask(conn: aiosqlite.Connection, rental_id: int, request_key: str, hold: int,
                  till_before: datetime | None) -> InPlaceRenewal:
        """In the charging transaction: the renewal asked, its rental pointing at it. An active rental with no
        renewal asked only; else WrongStateError. ``request_key`` is UNIQUE: a second tap fails here."""
        renewal = InPlaceRenewal.from_row(await first_row(
            conn, "INSERT INTO in_place_renewals (rental_id, request_key, hold, till_before, asked_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING *",
            (rental_id, request_key, hold, db_time(till_before), db_time(utcnow()))))
        cur = await conn.execute(
            "UPDATE rentals SET renewal_id = ?, updated_at = CURRENT_TIMESTAMP"
            " WHERE id = ? AND renewal_id IS NULL AND status = 'active'", (renewal.id, rental_id))
        if cur.rowcount != 1:
            raise WrongStateError("rental", rental_id, "renewing", ("active, not renewing",))
        return renewal

    @staticmethod
    async def asked_of(conn: aiosqlite.Connection, rental_id: int) -> InPlaceRenewal | None:
        """In the caller's transaction: the rental's renewal still asked, if any."""
        row = await first_row(conn, "SELECT * FROM in_place_renewals WHERE rental_id = ? AND state = 'asked'",
                              (rental_id,))
        return InPlaceRenewal.from_row(row) if row else None

    @staticmethod
    async def made(conn: aiosqlite.Connection, renewal: InPlaceRenewal, paid: int) -> None:
        await _decide(conn, renewal, "made", paid)

    @staticmethod
    async def refunded(conn: aiosqlite.Connection, renewal: InPlaceRenewal) -> None:
        await _decide(conn, renewal, "refunded", None)

    async def undecided(self) -> list[InPlaceRenewal]:
        """Renewals asked whose outcome is not known yet, oldest first: the reconciler's."""
        rows = await self.db.fetchall("SELECT * FROM in_place_renewals WHERE state = 'asked' ORDER BY id")
        return [InPlaceRenewal.from_row(r) for r in rows]


async def _decide(conn: aiosqlite.Connection, renewal: InPlaceRenewal, to: str, paid: int | None) -> None:
    cur = await conn.execute(
        "UPDATE in_place_renewals SET state = ?, paid = ?, decided_at = ? WHERE id = ? AND state = 'asked'",
        (to, paid, db_time(utcnow()), renewal.id))
    if cur.rowcount != 1:
        raise WrongStateError("in-place renewal", renewal.id, to, ("asked",))
    await conn.execute("UPDATE rentals SET renewal_id = NULL, updated_at = CURRENT_TIMESTAMP"
                       " WHERE id = ? AND renewal_id = ?", (renewal.rental_id, renewal.id))
