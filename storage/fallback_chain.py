"""The fallback chain's rows (bot/services/fallback_chain.py): each chat's last choice (on per service), the chains,
their attempts."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from .db import Database, first_row
from .models import RentalRecord, db_time, parse_ts, utcnow

OPEN = ("running", "stopping")


@dataclass(frozen=True, slots=True)
class FallbackPrefs:
    enabled: bool = False  # for the service asked about
    budget_percent: int = 200  # of the first attempt's price
    window_minutes: int = 0  # 0: each activation's own wait
    other_countries: bool = False


@dataclass(frozen=True, slots=True)
class ChainRecord:
    id: int
    chat_id: int
    user_id: int
    user_name: str
    service_key: str
    service_name: str
    first_offer: dict
    country: str
    other_countries: bool
    window_minutes: int
    budget: int
    status: str
    reason: str
    tried: frozenset[tuple[str, str]]
    untried: dict[str, int]  # once out of plans: why those left over were not tried, {reason: how many}
    card_chat_id: int | None
    card_message_id: int | None
    request_key: str
    created_at: datetime

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> ChainRecord:
        return cls(id=row["id"], chat_id=row["chat_id"], user_id=row["user_id"], user_name=row["user_name"],
                   service_key=row["service_key"], service_name=row["service_name"],
                   first_offer=json.loads(row["first_offer"]), country=row["country"],
                   other_countries=bool(row["other_countries"]), window_minutes=row["window_minutes"],
                   budget=row["budget"], status=row["status"], reason=row["reason"],
                   tried=frozenset(tuple(p) for p in json.loads(row["tried"])), untried=json.loads(row["untried"]),
                   card_chat_id=row["card_chat_id"],
                   card_message_id=row["card_message_id"], request_key=row["request_key"],
                   created_at=parse_ts(row["created_at"]))


class ChainRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the chat's last choice ----------------------------------------------------------

    async def prefs(self, chat_id: int, service_key: str) -> FallbackPrefs:
        """The chat's last choice, on when it was switched on for this service."""
        row = await self.db.fetchone("SELECT * FROM fallback_prefs WHERE chat_id = ?", (chat_id,))
        on = await self.db.fetchone("SELECT 1 FROM fallback_services WHERE chat_id = ? AND service_key = ?",
                                    (chat_id, service_key))
        if row is None:
            return FallbackPrefs(enabled=on is not None)
        return FallbackPrefs(on is not None, row["budget_percent"], row["window_minutes"], bool(row["other_countries"]))

    async def set_prefs(self, chat_id: int, service_key: str, prefs: FallbackPrefs) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO fallback_prefs (chat_id, budget_percent, window_minutes, other_countries)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(chat_id) DO UPDATE SET budget_percent = excluded.budget_percent,"
                " window_minutes = excluded.window_minutes, other_countries = excluded.other_countries",
                (chat_id, prefs.budget_percent, prefs.window_minutes, int(prefs.other_countries)))
            if prefs.enabled:
                await conn.execute("INSERT OR IGNORE INTO fallback_services (chat_id, service_key) VALUES (?, ?)",
                                   (chat_id, service_key))
            else:
                await conn.execute("DELETE FROM fallback_services WHERE chat_id = ? AND service_key = ?",
                                   (chat_id, service_key))

    # -- chains ----------------------------------------------------------------------------

    async def create(self, *, chat_id: int, user_id: int, user_name: str, service_key: str, service_name: str,
                     first_offer: dict, country: str, other_countries: bool, window_minutes: int, budget: int,
                     request_key: str) -> ChainRecord | None:
        """A new running chain; None when this tap (``request_key``) started one already."""
        now = db_time(utcnow())
        async with self.db.transaction() as conn:
            row = await first_row(
                conn,
                "INSERT INTO fallback_chains (chat_id, user_id, user_name, service_key, service_name, first_offer,"
                " country, other_countries, window_minutes, budget, request_key, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(request_key) DO NOTHING RETURNING *",
                (chat_id, user_id, user_name, service_key, service_name, json.dumps(first_offer), country,
                 int(other_countries), window_minutes, budget, request_key, now, now))
        return ChainRecord.from_row(row) if row is not None else None

    async def get(self, chain_id: int) -> ChainRecord | None:
        row = await self.db.fetchone("SELECT * FROM fallback_chains WHERE id = ?", (chain_id,))
        return ChainRecord.from_row(row) if row else None

    async def by_key(self, request_key: str) -> ChainRecord | None:
        row = await self.db.fetchone("SELECT * FROM fallback_chains WHERE request_key = ?", (request_key,))
        return ChainRecord.from_row(row) if row else None

    async def open(self) -> list[ChainRecord]:
        rows = await self.db.fetchall(
            "SELECT * FROM fallback_chains WHERE status IN ('running', 'stopping') ORDER BY id")
        return [ChainRecord.from_row(r) for r in rows]

    async def set_status(self, chain_id: int, status: str, reason: str = "",
                         only_from: tuple[str, ...] = OPEN, untried: dict[str, int] | None = None) -> bool:
        """Moves an open chain on; False when it had left ``only_from`` already (decided by another path).
        ``untried``: why the plans left over were not tried, when it ran out of them."""
        marks = ", ".join("?" for _ in only_from)
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE fallback_chains SET status = ?, reason = ?, untried = COALESCE(?, untried), updated_at = ?"
                f" WHERE id = ? AND status IN ({marks})",
                (status, reason, json.dumps(untried) if untried is not None else None, db_time(utcnow()), chain_id,
                 *only_from))
            return cur.rowcount == 1

    async def add_tried(self, chain: ChainRecord, provider: str, offer_id: str) -> None:
        tried = sorted(chain.tried | {(provider, offer_id)})
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE fallback_chains SET tried = ?, updated_at = ? WHERE id = ?",
                               (json.dumps(tried), db_time(utcnow()), chain.id))

    async def set_card(self, chain_id: int, chat_id: int, message_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE fallback_chains SET card_chat_id = ?, card_message_id = ? WHERE id = ?",
                               (chat_id, message_id, chain_id))

    # -- attempts ----------------------------------------------------------------------------

    async def attempts(self, chain_id: int) -> list[RentalRecord]:
        rows = await self.db.fetchall(
            "SELECT r.* FROM chain_attempts a JOIN rentals r ON r.id = a.rental_id WHERE a.chain_id = ?"
            " ORDER BY a.attempt", (chain_id,))
        return [RentalRecord.from_row(r) for r in rows]

    async def with_code(self, chain_id: int) -> int | None:
        """The first attempt (its rental id) that received an SMS."""
        row = await self.db.fetchone(
            "SELECT a.rental_id FROM chain_attempts a WHERE a.chain_id = ?"
            " AND EXISTS (SELECT 1 FROM sms s WHERE s.rental_id = a.rental_id) ORDER BY a.attempt LIMIT 1",
            (chain_id,))
        return row[0] if row else None

    async def chain_of(self, rental_id: int) -> int | None:
        row = await self.db.fetchone("SELECT chain_id FROM chain_attempts WHERE rental_id = ?", (rental_id,))
        return row[0] if row else None

    @staticmethod
    async def quiet_in(conn: aiosqlite.Connection, rental_id: int) -> bool:
        """In the caller's transaction: the rental is a chain's attempt with no SMS (its own notices are the card's)."""
        row = await first_row(
            conn, "SELECT 1 FROM chain_attempts a WHERE a.rental_id = ?"
            " AND NOT EXISTS (SELECT 1 FROM sms s WHERE s.rental_id = a.rental_id)", (rental_id,))
        return row is not None

    async def spent(self, chain: ChainRecord) -> int:
        async with self.db.reading() as conn:
            return await self.spent_in(conn, chain.id, chain.chat_id)

    @staticmethod
    async def spent_in(conn: aiosqlite.Connection, chain_id: int, chat_id: int) -> int:
        """Charged minus refunded for the chain's rentals, from the ledger (in the caller's transaction)."""
        row = await first_row(
            conn,
            "SELECT COALESCE(-SUM(l.amount), 0) FROM chain_attempts a JOIN ledger l"
            " ON l.chat_id = ? AND l.reference = 'rental:' || a.rental_id WHERE a.chain_id = ?",
            (chat_id, chain_id))
        return row[0]

    @staticmethod
    async def status_in(conn: aiosqlite.Connection, chain_id: int) -> str | None:
        row = await first_row(conn, "SELECT status FROM fallback_chains WHERE id = ?", (chain_id,))
        return row[0] if row else None

    @staticmethod
    async def add_attempt(conn: aiosqlite.Connection, chain_id: int, rental_id: int) -> int:
        """In the charging transaction: the rental becomes the chain's next attempt; its number."""
        row = await first_row(
            conn,
            "INSERT INTO chain_attempts (chain_id, attempt, rental_id) SELECT ?, COALESCE(MAX(attempt), 0) + 1, ?"
            " FROM chain_attempts WHERE chain_id = ? RETURNING attempt", (chain_id, rental_id, chain_id))
        return row[0]
