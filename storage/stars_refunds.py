"""Stars refunds: pending -> done | refused, each transition one transaction.

pending: the chat's balance was debited and Telegram's refund is asked for (again, until it answers).
done: Telegram refunded the stars. refused: Telegram said no; the debit was given back. Asking again
after a refusal opens a new round (a new debit)."""
from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from . import ledger, notes
from .db import Database


@dataclass(frozen=True, slots=True)
class StarsRefund:
    charge_id: str
    chat_id: int
    payer_id: int
    amount: int
    state: str
    attempts: int
    last_error: str

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> StarsRefund:
        return cls(charge_id=row["charge_id"], chat_id=row["chat_id"], payer_id=row["payer_id"],
                   amount=row["amount"], state=row["state"], attempts=row["attempts"], last_error=row["last_error"])


class StarsRefundRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, charge_id: str) -> StarsRefund | None:
        row = await self.db.fetchone("SELECT * FROM stars_refunds WHERE charge_id = ?", (charge_id,))
        return StarsRefund.from_row(row) if row else None

    async def pending(self) -> list[StarsRefund]:
        rows = await self.db.fetchall("SELECT * FROM stars_refunds WHERE state = 'pending' ORDER BY created_at")
        return [StarsRefund.from_row(r) for r in rows]

    async def open(self, charge_id: str, chat_id: int, payer_id: int, amount: int, admin_id: int) -> StarsRefund:
        """none | refused -> pending, debiting the chat; pending and done are returned as they are.

        Raises InsufficientBalanceError when the balance no longer holds the payment."""
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT * FROM stars_refunds WHERE charge_id = ?", (charge_id,)) as cur:
                row = await cur.fetchone()
            current = StarsRefund.from_row(row) if row else None
            if current is not None and current.state != "refused":
                return current
            round_ = await _rounds(conn, charge_id)
            await ledger.post(conn, chat_id, -amount, "adjustment", f"stars-refund:{charge_id}",
                              idempotency_key=f"stars-refund:{charge_id}:{round_ + 1}", actor_id=admin_id,
                              note=notes.make("stars-refund-requested"))
            async with conn.execute(
                "INSERT INTO stars_refunds (charge_id, chat_id, payer_id, amount, state) VALUES (?, ?, ?, ?, 'pending')"
                " ON CONFLICT(charge_id) DO UPDATE SET state = 'pending', attempts = 0, last_error = '',"
                " updated_at = CURRENT_TIMESTAMP RETURNING *",
                (charge_id, chat_id, payer_id, amount),
            ) as cur:
                return StarsRefund.from_row(await cur.fetchone())

    async def done(self, charge_id: str) -> None:
        """pending -> done: Telegram returned the stars."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE stars_refunds SET state = 'done', updated_at = CURRENT_TIMESTAMP"
                               " WHERE charge_id = ? AND state = 'pending'", (charge_id,))

    async def refused(self, charge_id: str, reason: str) -> bool:
        """pending -> refused: the debit goes back to the chat. False if it was not pending."""
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT * FROM stars_refunds WHERE charge_id = ? AND state = 'pending'",
                                    (charge_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                return False
            refund = StarsRefund.from_row(row)
            round_ = await _rounds(conn, charge_id)
            await ledger.post(conn, refund.chat_id, refund.amount, "adjustment", f"stars-refund:{charge_id}",
                              idempotency_key=f"stars-refund-undo:{charge_id}:{round_}",
                              note=notes.make("stars-refund-refused"))
            await conn.execute("UPDATE stars_refunds SET state = 'refused', last_error = ?,"
                               " updated_at = CURRENT_TIMESTAMP WHERE charge_id = ?", (reason[:200], charge_id))
            return True

    async def attempt_failed(self, charge_id: str, error: str) -> None:
        """Telegram did not answer: still pending, asked again later."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE stars_refunds SET attempts = attempts + 1, last_error = ?,"
                               " updated_at = CURRENT_TIMESTAMP WHERE charge_id = ? AND state = 'pending'",
                               (error[:200], charge_id))


async def _rounds(conn: aiosqlite.Connection, charge_id: str) -> int:
    """How many refund debits this charge has had (each round of asking has its own ledger keys)."""
    async with conn.execute("SELECT COUNT(*) FROM ledger WHERE idempotency_key LIKE ? ESCAPE '\\'",
                            (_like(f"stars-refund:{charge_id}:") + "%",)) as cur:
        return (await cur.fetchone())[0]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
