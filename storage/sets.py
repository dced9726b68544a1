"""Combinations of services a provider refused to put on one number, refused again by it for a while."""
from __future__ import annotations

from datetime import datetime

from .db import Database
from .models import db_time, parse_ts, utcnow

MAX_ROWS = 1000  # bounded: the oldest refusals go first (they have ended long since)


def combination(service_ids: list[str]) -> str:
    """One spelling per combination, whatever order the services were picked in."""
    return ",".join(sorted(set(service_ids)))


class RefusedSets:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def refused_until(self, provider: str, service_ids: list[str]) -> tuple[datetime, str] | None:
        """Until when, and in the provider's words why, this combination is refused; None when it may be asked."""
        row = await self.db.fetchone(
            "SELECT until, reason FROM refused_sets WHERE provider = ? AND combination = ?",
            (provider, combination(service_ids)))
        if row is None:
            return None
        until = parse_ts(row["until"])
        return (until, row["reason"]) if until is not None and until > utcnow() else None

    async def remember(self, provider: str, service_ids: list[str], until: datetime, reason: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO refused_sets (provider, combination, until, reason) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(provider, combination) DO UPDATE SET until = excluded.until, reason = excluded.reason",
                (provider, combination(service_ids), db_time(until), reason[:200]))
            await conn.execute(
                "DELETE FROM refused_sets WHERE rowid NOT IN"
                " (SELECT rowid FROM refused_sets ORDER BY until DESC LIMIT ?)", (MAX_ROWS,))
