"""Received SMS, which double as the delivery outbox (delivered_at IS NULL = still to send)."""
from __future__ import annotations

from .db import Database
from .models import StoredSms, utcnow


class SmsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(
        self, *, provider: str, provider_message_id: str, rental_id: int, body: str, code: str | None,
        sender: str | None = None, received_at=None, delivered: bool = False,
    ) -> bool:
        """True when the SMS is new; a repeat of a known provider message id changes nothing."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO sms (provider, provider_message_id, rental_id, body, code, sender, received_at,"
                " delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(provider, provider_message_id) DO NOTHING",
                (provider, provider_message_id, rental_id, body, code, sender,
                 received_at.isoformat() if received_at else None, utcnow().isoformat() if delivered else None),
            )
            return cur.rowcount == 1

    async def undelivered(self, limit: int = 500) -> list[StoredSms]:
        rows = await self.db.fetchall(
            "SELECT * FROM sms WHERE delivered_at IS NULL ORDER BY id LIMIT ?", (limit,)
        )
        return [StoredSms.from_row(r) for r in rows]

    async def mark_delivered(self, sms_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE sms SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL", (utcnow().isoformat(), sms_id)
            )

    async def count_attempt(self, sms_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE sms SET delivery_attempts = delivery_attempts + 1 WHERE id = ?", (sms_id,))

    async def for_rental(self, rental_id: int, limit: int = 5) -> list[StoredSms]:
        rows = await self.db.fetchall(
            "SELECT * FROM sms WHERE rental_id = ? ORDER BY id DESC LIMIT ?", (rental_id, limit)
        )
        return [StoredSms.from_row(r) for r in rows]

    async def delivered_count(self) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) FROM sms WHERE delivered_at IS NOT NULL")
        return row[0]
