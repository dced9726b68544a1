"""Each plan's delivery record (issue 17), kept incrementally: one row per plan (provider x service x country)
per day, updated when a rental ends or gets its first code, never computed from the SMS table on a screen.

A rental counts once, on the day it started: at its first code (a rental that received one, with the seconds
to that code in a bounded histogram) or when it ends without one. Rentals that never had a number (failed) and
those cancelled because the provider charged above the quote say nothing of the plan and are not counted.
Keys are the names rentals carry (the catalogue's service name, the provider's country), as offers carry them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiosqlite

from .db import Database, first_row
from .models import RentalRecord, utcnow

# Upper edges (seconds) of the time-to-first-code histogram; the last bucket is everything above.
EDGES = (5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 75, 90, 120, 150, 180, 240, 300, 420, 600, 900, 1200, 1800,
         3600)
ENDED = ("finished", "cancelled", "expired")
NOT_COUNTED_FAILURE = "charged above the quote"


def _day(moment: datetime) -> int:
    return int(moment.timestamp() // 86400)


def _bucket(seconds: float) -> int:
    return next((i for i, edge in enumerate(EDGES) if seconds <= edge), len(EDGES))


@dataclass(frozen=True, slots=True)
class PlanRecord:
    provider: str
    service: str
    country: str
    rentals: int
    delivered: int
    median_seconds: int | None  # the median's histogram bucket's upper edge; None without a code

    @property
    def share(self) -> float:
        return self.delivered / self.rentals if self.rentals else 0.0


def _counted(rental: RentalRecord) -> bool:
    return bool(rental.phone) and rental.status != "failed" and rental.failure != NOT_COUNTED_FAILURE


async def _add(conn: aiosqlite.Connection, rental: RentalRecord, rentals: int, delivered: int,
               seconds: float | None) -> None:
    key = (rental.provider, rental.service_name, rental.country or "",
           _day(rental.active_from or rental.created_at))
    row = await first_row(conn, "SELECT hist FROM plan_outcomes WHERE provider = ? AND service = ? AND country = ?"
                          " AND day = ?", key)
    hist = json.loads(row[0]) if row else [0] * (len(EDGES) + 1)
    if seconds is not None:
        hist[_bucket(max(seconds, 0.0))] += 1
    await conn.execute(
        "INSERT INTO plan_outcomes (provider, service, country, day, rentals, delivered, hist)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(service, country, provider, day) DO UPDATE SET"
        " rentals = rentals + excluded.rentals, delivered = delivered + excluded.delivered, hist = excluded.hist",
        (*key, rentals, delivered, json.dumps(hist)))


async def first_code(conn: aiosqlite.Connection, rental_id: int, received_at: datetime | None) -> None:
    """In the caller's transaction: an SMS with a code was stored for this rental."""
    mark = await first_row(conn, "SELECT delivered FROM outcome_marks WHERE rental_id = ?", (rental_id,))
    if mark is not None and mark[0]:
        return  # its first code was counted
    row = await first_row(conn, "SELECT * FROM rentals WHERE id = ?", (rental_id,))
    if row is None:
        return
    rental = RentalRecord.from_row(row)
    if not rental.phone or rental.status == "failed":
        return
    start = rental.active_from or rental.created_at
    at = received_at or utcnow()
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    seconds = (at - start).total_seconds()
    if mark is None:
        await conn.execute("INSERT INTO outcome_marks (rental_id, delivered) VALUES (?, 1)", (rental_id,))
        await _add(conn, rental, 1, 1, seconds)
    else:  # counted when it ended without a code; the code came after
        await conn.execute("UPDATE outcome_marks SET delivered = 1 WHERE rental_id = ?", (rental_id,))
        await _add(conn, rental, 0, 1, seconds)


async def ended(conn: aiosqlite.Connection, rental: RentalRecord) -> None:
    """In the caller's transaction: the rental left 'active' (``rental`` as it is now)."""
    if rental.status not in ENDED or not _counted(rental):
        return
    cur = await conn.execute("INSERT INTO outcome_marks (rental_id, delivered) VALUES (?, 0)"
                             " ON CONFLICT(rental_id) DO NOTHING", (rental.id,))
    if cur.rowcount == 1:
        await _add(conn, rental, 1, 0, None)


def _median(hist: list[int]) -> int | None:
    total = sum(hist)
    if not total:
        return None
    seen = 0
    for i, count in enumerate(hist):
        seen += count
        if seen * 2 >= total:
            return EDGES[i] if i < len(EDGES) else EDGES[-1] * 2
    return None


class OutcomeRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def records(self, *, service: str | None = None, provider: str | None = None,
                      days: int = 30) -> list[PlanRecord]:
        """Per plan over the last ``days`` days (a rolling window of day rows: at most ``days`` rows a plan)."""
        since = _day(utcnow() - timedelta(days=days - 1))
        where, params = ["day >= ?"], [since]
        if service is not None:
            where.append("service = ?")
            params.append(service)
        if provider is not None:
            where.append("provider = ?")
            params.append(provider)
        rows = await self.db.fetchall(
            "SELECT provider, service, country, rentals, delivered, hist FROM plan_outcomes WHERE "
            + " AND ".join(where), tuple(params))
        merged: dict[tuple[str, str, str], list] = {}
        for row in rows:
            entry = merged.setdefault((row[0], row[1], row[2]), [0, 0, [0] * (len(EDGES) + 1)])
            entry[0] += row[3]
            entry[1] += row[4]
            for i, count in enumerate(json.loads(row[5])):
                entry[2][i] += count
        return [PlanRecord(p, s, c, n, d, _median(h)) for (p, s, c), (n, d, h) in merged.items()]

    async def hidden(self) -> set[tuple[str, str, str]]:
        return {(r[0], r[1], r[2]) for r in await self.db.fetchall(
            "SELECT provider, service, country FROM hidden_plans")}

    async def set_hidden(self, provider: str, service: str, country: str, hidden: bool, by: int) -> None:
        async with self.db.transaction() as conn:
            if hidden:
                await conn.execute("INSERT INTO hidden_plans (provider, service, country, hidden_by, hidden_at)"
                                   " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                   (provider, service, country, by, utcnow().isoformat()))
            else:
                await conn.execute("DELETE FROM hidden_plans WHERE provider = ? AND service = ? AND country = ?",
                                   (provider, service, country))


__all__ = ["EDGES", "OutcomeRepo", "PlanRecord", "ended", "first_code"]
