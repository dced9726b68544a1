"""Figures for the operator panel."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from storage import Database
from storage.models import utcnow


@dataclass(frozen=True, slots=True)
class Stats:
    chats: int
    active_chats: int
    active_rentals: int
    codes_delivered: int
    revenue: int  # minor units charged minus refunded, in the period
    provider_cost: Decimal  # what those rentals cost at the providers
    topups: int


async def collect(db: Database, days: int) -> Stats:
    since = (utcnow() - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
    chats = await db.fetchone("SELECT COUNT(*), COALESCE(SUM(active), 0) FROM chats")
    active = await db.fetchone("SELECT COUNT(*) FROM rentals WHERE status = 'active'")
    delivered = await db.fetchone("SELECT COUNT(*) FROM sms WHERE delivered_at IS NOT NULL")
    money = await db.fetchone(
        "SELECT COALESCE(SUM(CASE WHEN kind IN ('charge', 'refund') THEN -amount END), 0),"
        " COALESCE(SUM(CASE WHEN kind = 'topup' THEN amount END), 0) FROM ledger WHERE created_at >= ?", (since,))
    costs = await db.fetchall(
        "SELECT provider_cost FROM rentals WHERE status IN ('active', 'finished', 'expired') AND created_at >= ?",
        (since,))
    return Stats(chats=chats[0], active_chats=chats[1], active_rentals=active[0], codes_delivered=delivered[0],
                 revenue=money[0], provider_cost=sum((Decimal(r[0]) for r in costs), Decimal(0)), topups=money[1])
