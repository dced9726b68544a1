"""The only code that changes a balance: always together with its ledger row, in the caller's transaction."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import aiosqlite

from .db import Database, first_row
from .models import LedgerEntry

KINDS = ("topup", "charge", "refund", "adjustment", "transfer", "referral", "promo")


class InsufficientBalanceError(Exception):
    def __init__(self, balance: int, needed: int) -> None:
        super().__init__(f"balance {balance} < needed {needed}")
        self.balance = balance
        self.needed = needed

    @property
    def missing(self) -> int:
        return self.needed - self.balance


async def post(
    conn: aiosqlite.Connection,
    chat_id: int,
    amount: int,
    kind: str,
    reference: str,
    *,
    idempotency_key: str | None = None,
    actor_id: int | None = None,
    note: str = "",
) -> LedgerEntry | None:
    """Apply ``amount`` (minor units, negative = debit) to the chat's balance and write its ledger row.

    Must run inside ``Database.transaction()``. Returns None when ``idempotency_key`` was
    already applied (nothing changes), raises InsufficientBalanceError rather than go below zero.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown ledger kind {kind!r}")
    if not isinstance(amount, int) or amount == 0:
        raise ValueError("amount must be a non-zero integer of minor units")
    if idempotency_key is not None:
        if await first_row(conn, "SELECT 1 FROM ledger WHERE idempotency_key = ?", (idempotency_key,)):
            return None
    row = await first_row(conn, "SELECT balance FROM chats WHERE id = ?", (chat_id,))
    if row is None:
        raise LookupError(f"chat {chat_id} does not exist")
    balance_after = row["balance"] + amount
    if balance_after < 0:
        raise InsufficientBalanceError(row["balance"], -amount)
    await conn.execute("UPDATE chats SET balance = ? WHERE id = ?", (balance_after, chat_id))
    return LedgerEntry.from_row(await first_row(
        conn,
        "INSERT INTO ledger (chat_id, amount, balance_after, kind, reference, idempotency_key, actor_id, note)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (chat_id, amount, balance_after, kind, reference, idempotency_key, actor_id, note),
    ))


async def amount_of(conn: aiosqlite.Connection, idempotency_key: str) -> int:
    """In the caller's transaction: the amount of the row written under ``idempotency_key`` (the caller knows it is
    there)."""
    return (await first_row(conn, "SELECT amount FROM ledger WHERE idempotency_key = ?", (idempotency_key,)))["amount"]


async def round_keys(conn: aiosqlite.Connection, base: str) -> list[str]:
    """In the caller's transaction: ``base`` and its later rounds (``base#2``, ...) written so far, oldest first."""
    rows = await conn.execute_fetchall(
        "SELECT idempotency_key FROM ledger WHERE idempotency_key = ? OR idempotency_key LIKE ? ORDER BY id",
        (base, f"{base}#%"))
    return [r[0] for r in rows]


async def keys_written(conn: aiosqlite.Connection, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` have a row: what they key was done (a reservation given back, a refund kept)."""
    keys = tuple(keys)
    marks = ", ".join("?" for _ in keys)
    rows = await conn.execute_fetchall(f"SELECT idempotency_key FROM ledger WHERE idempotency_key IN ({marks})", keys)
    return {r[0] for r in rows}


async def transferred_out(conn: aiosqlite.Connection, chat_id: int, since: str) -> int:
    """What the chat moved out by transfers since ``since`` (SQLite's "YYYY-MM-DD HH:MM:SS", as created_at is):
    the daily limit counts it from the ledger itself."""
    row = await first_row(
        conn, "SELECT COALESCE(-SUM(amount), 0) FROM ledger WHERE chat_id = ? AND kind = 'transfer' AND amount < 0"
        " AND created_at >= ?", (chat_id, since))
    return int(row[0])


@dataclass(frozen=True, slots=True)
class ExportRow:
    """A ledger row as the operator's CSV shows it: with who rented (a rental's row) and who approved it."""

    id: int
    created_at: str  # as stored (UTC)
    kind: str
    amount: int
    balance_after: int
    reference: str
    actor_id: int | None
    note: str
    user_name: str | None  # who rented, a rental's row
    decided_by: int | None  # the admin who approved a member's request
    decided_name: str | None


# A row about a rental (reference "rental:<id>") joined to its rental, by the rentals' key.
_RENTAL_OF_ROW = ("LEFT JOIN rentals r ON l.reference LIKE 'rental:%'"
                  " AND r.id = CAST(substr(l.reference, 8) AS INTEGER)")


class LedgerRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def recent(self, chat_id: int, limit: int = 10) -> list[LedgerEntry]:
        return (await self.page(chat_id, 0, limit))[0]

    async def page(self, chat_id: int, offset: int, limit: int) -> tuple[list[LedgerEntry], int]:
        """The chat's history, newest first, a page of it with the number each rental's row is about; and how many
        rows there are in all."""
        rows = await self.db.fetchall(
            f"SELECT l.*, r.phone AS phone FROM ledger l {_RENTAL_OF_ROW}"
            " WHERE l.chat_id = ? ORDER BY l.id DESC LIMIT ? OFFSET ?", (chat_id, limit, offset))
        total = await self.db.fetchone("SELECT COUNT(*) FROM ledger WHERE chat_id = ?", (chat_id,))
        return [LedgerEntry.from_row(r) for r in rows], total[0]

    async def totals_mismatch(self) -> list[tuple[int, int, int]]:
        """Chats whose balance differs from the sum of their ledger: (chat, balance, ledger sum). Should be empty."""
        rows = await self.db.fetchall(
            "SELECT c.id, c.balance, COALESCE(SUM(l.amount), 0) AS total FROM chats c"
            " LEFT JOIN ledger l ON l.chat_id = c.id GROUP BY c.id HAVING c.balance <> total"
        )
        return [(r["id"], r["balance"], r["total"]) for r in rows]

    async def by_key(self, idempotency_key: str) -> LedgerEntry | None:
        """The row written under ``idempotency_key`` (a payment by its charge), if any."""
        row = await self.db.fetchone("SELECT * FROM ledger WHERE idempotency_key = ?", (idempotency_key,))
        return LedgerEntry.from_row(row) if row else None

    async def actor_of(self, idempotency_key: str) -> int | None:
        """Who made the row written under ``idempotency_key`` (a payment's payer); None without such a row."""
        row = await self.db.fetchone("SELECT actor_id FROM ledger WHERE idempotency_key = ?", (idempotency_key,))
        return row["actor_id"] if row else None

    async def keys_written(self, keys: Iterable[str]) -> set[str]:
        """Outside a transaction: which of ``keys`` have a row."""
        async with self.db.reading() as conn:
            return await keys_written(conn, keys)

    async def transferred_out(self, chat_id: int, since: str) -> int:
        """Outside a transaction: what the chat moved out by transfers since ``since``."""
        async with self.db.reading() as conn:
            return await transferred_out(conn, chat_id, since)

    async def totals_by_kind(self) -> dict[str, int]:
        """The sum of all rows per kind (topup, charge, ...): the metrics' money gauges."""
        rows = await self.db.fetchall("SELECT kind, COALESCE(SUM(amount), 0) FROM ledger GROUP BY kind")
        return {r[0]: r[1] for r in rows}

    async def export_rows(self, chat_id: int, limit: int) -> list[ExportRow]:
        """The chat's rows, oldest first, each rental's with who rented it and the admin who approved it, if one
        had to: a group's accounts say who spent, and on whose word."""
        rows = await self.db.fetchall(
            "SELECT l.id, l.created_at, l.kind, l.amount, l.balance_after, l.reference, l.actor_id, l.note,"
            f" r.user_name, q.decided_by, q.decided_name FROM ledger l {_RENTAL_OF_ROW}"
            " LEFT JOIN spend_requests q ON q.rental_id = r.id AND q.status = 'approved'"
            " WHERE l.chat_id = ? ORDER BY l.id LIMIT ?", (chat_id, limit))
        return [ExportRow(**dict(r)) for r in rows]
