"""The operator's figures: counts and money across chats, rentals, SMS and the ledger, for the panel and the
revenue export. Times are SQLite's "YYYY-MM-DD HH:MM:SS" (UTC), as created_at is stored."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .db import Database, sql_list
from .sms import SmsRepo

# Rentals the providers were paid for: those not cancelled (refunded there) or failed.
KEPT = ("active", "finished", "expired")
_KEPT_SQL = sql_list(KEPT)


@dataclass(frozen=True, slots=True)
class Stats:
    chats: int
    active_chats: int
    active_rentals: int
    codes_delivered: int
    revenue: int  # minor units charged minus refunded, in the period
    provider_cost: Decimal  # what those rentals cost at the providers
    topups: int


@dataclass(frozen=True, slots=True)
class RentalDay:
    """One UTC day's rentals: how many were made (failed ones not counted), what the kept ones cost."""

    rentals: int
    provider_cost: Decimal


class StatsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def totals(self, since: str) -> Stats:
        """The panel's figures: chats, open rentals and codes now; revenue, cost and top-ups since ``since``."""
        chats = await self.db.fetchone("SELECT COUNT(*), COALESCE(SUM(active), 0) FROM chats")
        active = await self.db.fetchone("SELECT COUNT(*) FROM rentals WHERE status = 'active'")
        delivered = await SmsRepo(self.db).delivered_count()
        money = await self.db.fetchone(
            "SELECT COALESCE(SUM(CASE WHEN kind IN ('charge', 'refund') THEN -amount END), 0),"
            " COALESCE(SUM(CASE WHEN kind = 'topup' THEN amount END), 0) FROM ledger WHERE created_at >= ?", (since,))
        costs = await self.db.fetchall(
            f"SELECT provider_cost FROM rentals WHERE status IN {_KEPT_SQL} AND created_at >= ?", (since,))
        return Stats(chats=chats[0], active_chats=chats[1], active_rentals=active[0], codes_delivered=delivered,
                     revenue=money[0], provider_cost=sum((Decimal(r[0]) for r in costs), Decimal(0)),
                     topups=money[1])

    async def money_by_day(self, since: str) -> dict[str, dict[str, int]]:
        """Per UTC day ("YYYY-MM-DD") since ``since``: the ledger's sum per kind of row."""
        rows = await self.db.fetchall(
            "SELECT substr(created_at, 1, 10) AS day, kind, SUM(amount) AS total FROM ledger WHERE created_at >= ?"
            " GROUP BY day, kind", (since,))
        days: dict[str, dict[str, int]] = {}
        for row in rows:
            days.setdefault(row["day"], {})[row["kind"]] = row["total"]
        return days

    async def rentals_by_day(self, since: str) -> dict[str, RentalDay]:
        """Per UTC day ("YYYY-MM-DD") since ``since`` with any rental row: rentals made and the kept ones' cost."""
        rows = await self.db.fetchall(
            "SELECT substr(created_at, 1, 10) AS day, provider_cost, status FROM rentals WHERE created_at >= ?",
            (since,))
        made: dict[str, int] = {}
        cost: dict[str, Decimal] = {}
        for row in rows:
            made[row["day"]] = made.get(row["day"], 0) + (row["status"] != "failed")
            if row["status"] in KEPT:
                cost[row["day"]] = cost.get(row["day"], Decimal(0)) + Decimal(row["provider_cost"] or 0)
        return {day: RentalDay(n, cost.get(day, Decimal(0))) for day, n in made.items()}
