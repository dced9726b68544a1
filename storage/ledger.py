"""The only code that changes a balance: always together with its ledger row, in the caller's transaction."""
from __future__ import annotations

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
