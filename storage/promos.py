"""The operator's promo codes: each redeemed at most once per chat and once per user, never more often in all than
its uses allow. A redemption is one transaction: the use counted by a conditional UPDATE (so concurrent redeems
never pass the limit), the redemption row, and the ledger row of kind 'promo' (key ``promo:<code>:<chat>``)."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from . import ledger, notes
from .db import Database, first_row
from .models import LedgerEntry, db_time, utcnow


class Outcome(enum.Enum):
    REDEEMED = "redeemed"
    UNKNOWN = "unknown"  # no such code
    DISABLED = "disabled"  # the operator turned it off
    EXPIRED = "expired"
    USED_UP = "used-up"  # every use taken
    ALREADY_CHAT = "already-chat"  # this chat redeemed it before
    ALREADY_USER = "already-user"  # this user redeemed it before (here or in another chat)


@dataclass(frozen=True, slots=True)
class PromoCode:
    code: str
    amount: int
    max_uses: int
    uses: int
    expires_at: datetime | None
    disabled: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> PromoCode:
        return cls(code=row["code"], amount=row["amount"], max_uses=row["max_uses"], uses=row["uses"],
                   expires_at=datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None,
                   disabled=bool(row["disabled"]), created_at=datetime.fromisoformat(row["created_at"]))

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class Redemption:
    outcome: Outcome
    promo: PromoCode | None = None
    entry: LedgerEntry | None = None  # the ledger row, when REDEEMED


def ledger_key(code: str, chat_id: int) -> str:
    return f"promo:{code}:{chat_id}"


class PromoRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, code: str, amount: int, max_uses: int, expires_at: datetime | None,
                     admin_id: int) -> PromoCode | None:
        """A new code; None when the code exists already (it is kept as it was)."""
        async with self.db.transaction() as conn:
            row = await first_row(
                conn, "INSERT INTO promo_codes (code, amount, max_uses, expires_at, created_by, created_at)"
                      " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(code) DO NOTHING RETURNING *",
                (code, amount, max_uses, db_time(expires_at), admin_id, db_time(utcnow())))
        return PromoCode.from_row(row) if row else None

    async def get(self, code: str) -> PromoCode | None:
        row = await self.db.fetchone("SELECT * FROM promo_codes WHERE code = ?", (code,))
        return PromoCode.from_row(row) if row else None

    async def listed(self, limit: int = 50) -> list[PromoCode]:
        rows = await self.db.fetchall("SELECT * FROM promo_codes ORDER BY created_at DESC, code LIMIT ?", (limit,))
        return [PromoCode.from_row(r) for r in rows]

    async def disable(self, code: str) -> bool:
        """No more redemptions of it (those made stay). False for an unknown code."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("UPDATE promo_codes SET disabled = 1 WHERE code = ?", (code,))
            return cur.rowcount == 1

    async def redeem(self, code: str, chat_id: int, user_id: int) -> Redemption:
        now = utcnow()
        async with self.db.transaction() as conn:
            row = await first_row(conn, "SELECT * FROM promo_codes WHERE code = ?", (code,))
            if row is None:
                return Redemption(Outcome.UNKNOWN)
            promo = PromoCode.from_row(row)
            if await first_row(conn, "SELECT 1 FROM promo_redemptions WHERE code = ? AND chat_id = ?", (code, chat_id)):
                return Redemption(Outcome.ALREADY_CHAT, promo)
            if await first_row(conn, "SELECT 1 FROM promo_redemptions WHERE code = ? AND user_id = ?", (code, user_id)):
                return Redemption(Outcome.ALREADY_USER, promo)
            if promo.disabled:
                return Redemption(Outcome.DISABLED, promo)
            if promo.expired(now):
                return Redemption(Outcome.EXPIRED, promo)
            # The use is taken only while one is left: never more redemptions than max_uses, whatever runs at once.
            cur = await conn.execute(
                "UPDATE promo_codes SET uses = uses + 1 WHERE code = ? AND uses < max_uses AND disabled = 0"
                " AND (expires_at IS NULL OR expires_at > ?)", (code, db_time(now)))
            if cur.rowcount != 1:
                return Redemption(Outcome.USED_UP, promo)
            await conn.execute("INSERT INTO promo_redemptions (code, chat_id, user_id, created_at) VALUES (?, ?, ?, ?)",
                               (code, chat_id, user_id, db_time(now)))
            key = ledger_key(code, chat_id)
            entry = await ledger.post(conn, chat_id, promo.amount, "promo", key, idempotency_key=key,
                                      actor_id=user_id, note=notes.make("promo", code=code))
            if entry is None:  # cannot happen while the redemption row guards it; never credit twice
                raise RuntimeError(f"promo {code} credited to chat {chat_id} before without a redemption row")
            return Redemption(Outcome.REDEEMED, promo, entry)
