"""Who invited whom, and the inviter's share of a friend's payment: written in the payment's own transaction.

A user's inviter is recorded at their first /start in private (``invites``: one row per user, inserted once, never
updated), so it is set once and never changed. The reward is a ledger row of kind 'referral' on the inviter's
private chat, keyed ``referral:<payment's ledger key>``: a payment credited once rewards once."""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import aiosqlite

from . import ledger, notes
from .db import Database, first_row
from .models import LedgerEntry


@dataclass(frozen=True, slots=True)
class InviteSummary:
    invited: int  # users whose first /start came through the link
    earned: int  # minor units the invitations brought (the inviter's 'referral' rows)


def reward_key(payment_key: str) -> str:
    return f"referral:{payment_key}"


def share(amount: int, percent: Decimal) -> int:
    """``percent`` of ``amount`` minor units, rounded down to the cent."""
    return math.floor(Decimal(amount) * percent / 100)


async def reward(conn: aiosqlite.Connection, payer_id: int, amount: int, payment_key: str,
                 percent: Decimal) -> LedgerEntry | None:
    """A payment of ``amount`` by ``payer_id`` was credited under ``payment_key`` in this transaction: the payer's
    inviter gets ``percent`` of it on their private balance. None when there is nobody to reward (no inviter,
    percent 0, a share under a cent) or this payment rewarded already."""
    if percent <= 0 or amount <= 0:
        return None
    row = await first_row(conn, "SELECT inviter_id FROM invites WHERE user_id = ?", (payer_id,))
    inviter = row["inviter_id"] if row else None
    if inviter is None or inviter == payer_id:
        return None
    if (part := share(amount, percent)) <= 0:
        return None
    if await first_row(conn, "SELECT 1 FROM chats WHERE id = ? AND kind = 'private'", (inviter,)) is None:
        return None  # recorded only for inviters with a private chat; kept safe if one ever went missing
    key = reward_key(payment_key)
    note = notes.make("referral", payment=amount, percent=f"{percent.normalize():f}")
    return await ledger.post(conn, inviter, part, "referral", key, idempotency_key=key, actor_id=payer_id, note=note)


class ReferralRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def started(self, user_id: int) -> bool:
        return await self.db.fetchone("SELECT 1 FROM invites WHERE user_id = ?", (user_id,)) is not None

    async def record_start(self, user_id: int, inviter_id: int | None) -> int | None:
        """The user's /start in private. Only the first one is recorded, with its inviter if the inviter is another
        user the bot knows in private (none otherwise); later ones change nothing. Returns the inviter recorded
        now (None when none was, or this was not the first start)."""
        if inviter_id == user_id:
            inviter_id = None  # no self-referral: recorded as a start without an inviter
        async with self.db.transaction() as conn:
            if inviter_id is not None and await first_row(
                    conn, "SELECT 1 FROM chats WHERE id = ? AND kind = 'private'", (inviter_id,)) is None:
                inviter_id = None
            row = await first_row(conn, "INSERT INTO invites (user_id, inviter_id) VALUES (?, ?)"
                                        " ON CONFLICT(user_id) DO NOTHING RETURNING inviter_id", (user_id, inviter_id))
        return row["inviter_id"] if row else None

    async def inviter_of(self, user_id: int) -> int | None:
        row = await self.db.fetchone("SELECT inviter_id FROM invites WHERE user_id = ?", (user_id,))
        return row["inviter_id"] if row else None

    async def summary(self, user_id: int) -> InviteSummary:
        invited = await self.db.fetchone("SELECT COUNT(*) FROM invites WHERE inviter_id = ?", (user_id,))
        earned = await self.db.fetchone("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE chat_id = ?"
                                        " AND kind = 'referral'", (user_id,))
        return InviteSummary(invited[0], earned[0])
