from __future__ import annotations

from datetime import UTC, datetime

import aiosqlite

from . import outcomes
from .db import Database, WrongStateError, first_row
from .models import RentalRecord, db_time

# A rental's life (rentals.status, CHECKed by the schema); each move is one guarded UPDATE (RentalRepo.move):
#
#     pending --activated--> active --> cancelled | finished | expired
#     pending --> failed | cancelled        (refunded: the provider refused, or never rented it)
#     active --> failed                     (refunded: a set whose other services failed)
#
# Its sub-processes keep their own state: a renewal in place (storage/in_place_renewals.py, renewal_id while asked), a
# plan switch (storage/switches.py), "no code, no charge" (no_code), its topic (storage/topics.py).
OPEN_STATUSES = ("active", "pending")
CLOSED_STATUSES = ("cancelled", "finished", "expired", "failed")
MOVES: dict[str, tuple[str, ...]] = {  # to: the states it may be reached from
    "active": ("pending",),
    "cancelled": OPEN_STATUSES, "failed": OPEN_STATUSES, "finished": ("active",), "expired": ("active",),
}
# A number shared by several services is listed once, by its set's first rental.
SHOWN_ALONE = "(set_id IS NULL OR set_id = id)"


class RentalRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def insert_pending(conn: aiosqlite.Connection, **fields) -> RentalRecord:
        """Inside the charging transaction. ``request_key`` is UNIQUE: a second tap fails here."""
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        rental = RentalRecord.from_row(await first_row(
            conn, f"INSERT INTO rentals ({columns}, status) VALUES ({marks}, 'pending') RETURNING *",
            tuple(fields.values())))
        await conn.execute(
            "INSERT INTO service_popularity (name, rentals) VALUES (lower(?), 1)"
            " ON CONFLICT(name) DO UPDATE SET rentals = rentals + 1", (rental.service_name,))
        return rental

    @staticmethod
    async def update(conn: aiosqlite.Connection, rental_id: int, **fields) -> RentalRecord:
        """In the caller's transaction: facts of the rental (its number, period, price). Its status moves only by
        ``move``; its renewal only by storage/in_place_renewals.py."""
        if "status" in fields or "renewal_id" in fields:
            raise ValueError("a rental's status and renewal move by their transitions, not by update()")
        return await _write(conn, rental_id, "", (), fields)

    @staticmethod
    async def move(conn: aiosqlite.Connection, rental_id: int, to: str, **fields) -> RentalRecord:
        """In the caller's transaction: the rental's status to ``to`` (with ``fields`` in the same UPDATE), only
        from a state ``MOVES`` allows; from any other, WrongStateError and nothing is written."""
        frm = MOVES[to]
        marks = ", ".join("?" for _ in frm)
        moved = await _write(conn, rental_id, f" AND status IN ({marks})", frm, {"status": to, **fields})
        if moved is None:
            raise WrongStateError("rental", rental_id, to, frm)
        await outcomes.ended(conn, moved)  # the plan's delivery record, in the same transaction
        return moved

    @staticmethod
    async def lock(conn: aiosqlite.Connection, rental_id: int) -> RentalRecord | None:
        row = await first_row(conn, "SELECT * FROM rentals WHERE id = ?", (rental_id,))
        return RentalRecord.from_row(row) if row else None

    @staticmethod
    async def id_by_request_key(conn: aiosqlite.Connection, key: str) -> int:
        """In the caller's transaction: the id of the rental just written under ``key`` (it is there)."""
        return (await first_row(conn, "SELECT id FROM rentals WHERE request_key = ?", (key,)))[0]

    async def get(self, rental_id: int) -> RentalRecord | None:
        row = await self.db.fetchone("SELECT * FROM rentals WHERE id = ?", (rental_id,))
        return RentalRecord.from_row(row) if row else None

    async def get_by_request_key(self, key: str) -> RentalRecord | None:
        row = await self.db.fetchone("SELECT * FROM rentals WHERE request_key = ?", (key,))
        return RentalRecord.from_row(row) if row else None

    async def find_by_provider_id(self, provider: str, provider_rental_id: str) -> RentalRecord | None:
        row = await self.db.fetchone(
            "SELECT * FROM rentals WHERE provider = ? AND provider_rental_id = ?", (provider, provider_rental_id)
        )
        return RentalRecord.from_row(row) if row else None

    async def for_chat(self, chat_id: int, *, offset: int = 0, limit: int = 6) -> tuple[list[RentalRecord], int]:
        """Open rentals first (newest first), then the rest; with the total count."""
        rows = await self.db.fetchall(
            f"SELECT * FROM rentals WHERE chat_id = ? AND status <> 'failed' AND {SHOWN_ALONE}"
            " ORDER BY status NOT IN ('active', 'pending'), id DESC LIMIT ? OFFSET ?",
            (chat_id, limit, offset),
        )
        total = await self.db.fetchone(
            f"SELECT COUNT(*) FROM rentals WHERE chat_id = ? AND status <> 'failed' AND {SHOWN_ALONE}", (chat_id,)
        )
        return [RentalRecord.from_row(r) for r in rows], total[0]

    async def in_set(self, set_id: int) -> list[RentalRecord]:
        """The rentals of one number shared by several services, the first one first."""
        rows = await self.db.fetchall("SELECT * FROM rentals WHERE set_id = ? ORDER BY id", (set_id,))
        return [RentalRecord.from_row(r) for r in rows]

    async def set_names(self, set_ids: list[int]) -> dict[int, list[str]]:
        """Per set, its services' names (in renting order)."""
        if not set_ids:
            return {}
        marks = ", ".join("?" for _ in set_ids)
        rows = await self.db.fetchall(
            f"SELECT set_id, service_name FROM rentals WHERE set_id IN ({marks}) ORDER BY id", tuple(set_ids))
        names: dict[int, list[str]] = {}
        for row in rows:
            names.setdefault(row["set_id"], []).append(row["service_name"])
        return names

    async def active_provider_ids(self, provider: str, closed_since: datetime | None = None) -> list[str]:
        """Just the provider's ids of our active rentals (and of those closed since ``closed_since``, whose late
        SMS are still fetched): what a poll tick needs, cheap at 10,000 rentals."""
        rows = await self.db.fetchall(
            "SELECT provider_rental_id FROM rentals WHERE provider = ? AND status = 'active'"
            " AND provider_rental_id IS NOT NULL", (provider,))
        ids = [r[0] for r in rows]
        if closed_since is not None:
            rows = await self.db.fetchall(
                "SELECT provider_rental_id FROM rentals WHERE provider = ? AND status IN ('cancelled', 'finished',"
                " 'expired') AND provider_rental_id IS NOT NULL AND updated_at >= ?",
                (provider, closed_since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")))
            ids += [r[0] for r in rows]
        return ids

    async def open_by_provider(self, provider: str) -> list[RentalRecord]:
        rows = await self.db.fetchall(
            "SELECT * FROM rentals WHERE provider = ? AND status = 'active' AND provider_rental_id IS NOT NULL",
            (provider,),
        )
        return [RentalRecord.from_row(r) for r in rows]

    async def with_status(self, status: str) -> list[RentalRecord]:
        rows = await self.db.fetchall("SELECT * FROM rentals WHERE status = ? ORDER BY id", (status,))
        return [RentalRecord.from_row(r) for r in rows]

    async def expired(self, now: datetime) -> list[RentalRecord]:
        rows = await self.db.fetchall(
            "SELECT * FROM rentals WHERE status = 'active' AND active_till IS NOT NULL"
            " AND julianday(active_till) <= julianday(?)",
            (db_time(now),),
        )
        return [RentalRecord.from_row(r) for r in rows]

    async def activations_without_sms(self, ending_before: datetime) -> list[RentalRecord]:
        """Active one-time activations that end before ``ending_before``, have no SMS, and nothing decided yet."""
        rows = await self.db.fetchall(
            "SELECT * FROM rentals r WHERE status = 'active' AND billing = 'sms' AND no_code IS NULL"
            " AND active_till IS NOT NULL AND julianday(active_till) <= julianday(?)"
            " AND provider_rental_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sms WHERE sms.rental_id = r.id)"
            " ORDER BY active_till", (db_time(ending_before),))
        return [RentalRecord.from_row(r) for r in rows]

    async def awaiting_first_code_in_groups(self, rented_since: datetime) -> dict[int, int]:
        """Per group: its active numbers rented since ``rented_since`` that have had no SMS yet (codes on their
        way: the outbound path keeps places of the group's minute for them)."""
        rows = await self.db.fetchall(
            "SELECT chat_id, COUNT(*) AS n FROM rentals r WHERE chat_id < 0 AND status = 'active'"
            " AND julianday(created_at) >= julianday(?)"
            " AND NOT EXISTS (SELECT 1 FROM sms WHERE sms.rental_id = r.id) GROUP BY chat_id",
            (db_time(rented_since),))
        return {r["chat_id"]: r["n"] for r in rows}

    async def countries_used(self, chat_id: int, service_name: str, limit: int = 200) -> dict[str, int]:
        """Rentals of a service per country (as the provider spelled it) in this chat's latest rentals."""
        rows = await self.db.fetchall(
            "SELECT country, COUNT(*) AS n FROM (SELECT country, service_name FROM rentals WHERE chat_id = ?"
            " ORDER BY id DESC LIMIT ?) WHERE lower(service_name) = lower(?) GROUP BY country",
            (chat_id, limit, service_name))
        return {r["country"]: r["n"] for r in rows}

    async def renewing_before(self, till: datetime) -> list[tuple[RentalRecord, bool]]:
        """Active auto-renewing rentals whose period ends by ``till``, each with whether its chat was warned of a
        short balance already."""
        rows = await self.db.fetchall(
            "SELECT r.* FROM rentals r JOIN chats c ON c.id = r.chat_id WHERE r.status = 'active'"
            " AND r.auto_renew = 1 AND r.active_till IS NOT NULL AND julianday(r.active_till) <= julianday(?)",
            (db_time(till),))
        return [(RentalRecord.from_row(r), r["renew_warned_at"] is not None) for r in rows]

    async def active_per_provider(self) -> dict[str, int]:
        """Active rentals per provider (providers with none are absent): the metrics' gauge."""
        rows = await self.db.fetchall(
            "SELECT provider, COUNT(*) FROM rentals WHERE status = 'active' GROUP BY provider")
        return {r[0]: r[1] for r in rows}

    async def renter_names(self, rental_ids: list[int]) -> dict[int, str]:
        """Who rented each of these rentals (the name at the time), by rental id: a group's ledger says who spent."""
        if not rental_ids:
            return {}
        marks = ", ".join("?" for _ in rental_ids)
        rows = await self.db.fetchall(f"SELECT id, user_name FROM rentals WHERE id IN ({marks})", tuple(rental_ids))
        return {r["id"]: r["user_name"] for r in rows}

    async def popularity(self) -> dict[str, int]:
        """Rentals per service (lower-cased name): a summary kept on insert, one row per service, not a scan."""
        rows = await self.db.fetchall("SELECT name, rentals FROM service_popularity")
        return {r["name"]: r["rentals"] for r in rows}


async def _write(conn: aiosqlite.Connection, rental_id: int, guard: str, guard_params: tuple,
                 fields: dict) -> RentalRecord | None:
    sets = ", ".join(f"{name} = ?" for name in fields)
    row = await first_row(
        conn, f"UPDATE rentals SET {sets}, updated_at = CURRENT_TIMESTAMP WHERE id = ?{guard} RETURNING *",
        (*[_db_value(v) for v in fields.values()], rental_id, *guard_params))
    return RentalRecord.from_row(row) if row else None


def _db_value(value):
    if isinstance(value, datetime):
        return db_time(value)
    if isinstance(value, bool):
        return int(value)
    return value
