"""Alerts a chat set from a plan list: a sold-out plan back in stock, or a service under a price. Fired once."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from .db import Database, first_row
from .models import db_time, parse_ts, utcnow


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    chat_id: int
    service_key: str
    service_name: str
    country: str  # a country key ('' for any)
    kind: str  # 'stock' or 'price'
    provider: str
    offer_id: str
    plan: str  # the plan's name as shown when set (a stock alert)
    below: int
    status: str
    expires_at: datetime
    offer: dict | None  # the offer it fired on
    price: int | None

    @classmethod
    def from_row(cls, row) -> Alert:
        return cls(row["id"], row["chat_id"], row["service_key"], row["service_name"], row["country"], row["kind"],
                   row["provider"], row["offer_id"], row["plan"], row["below"], row["status"],
                   parse_ts(row["expires_at"]), json.loads(row["offer"]) if row["offer"] else None, row["price"])


class AlertRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, chat_id: int, service_key: str, service_name: str, country: str, kind: str, *,
                     provider: str = "", offer_id: str = "", plan: str = "", below: int = 0,
                     hours: int, limit: int) -> Alert | None:
        """A new open alert, or the same one already open (a second tap), or None when the chat has ``limit``."""
        now = utcnow()
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE price_alerts SET status = 'expired' WHERE chat_id = ? AND status = 'open'"
                               " AND expires_at <= ?", (chat_id, db_time(now)))
            same = await first_row(
                conn, "SELECT * FROM price_alerts WHERE chat_id = ? AND status = 'open' AND service_key = ?"
                " AND country = ? AND kind = ? AND provider = ? AND offer_id = ? AND below = ?",
                (chat_id, service_key, country, kind, provider, offer_id, below))
            if same is not None:
                return Alert.from_row(same)
            count = await first_row(conn, "SELECT COUNT(*) FROM price_alerts WHERE chat_id = ? AND status = 'open'",
                                    (chat_id,))
            if count[0] >= limit:
                return None
            async with conn.execute(
                "INSERT INTO price_alerts (chat_id, service_key, service_name, country, kind, provider, offer_id,"
                " plan, below, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (chat_id, service_key, service_name, country, kind, provider, offer_id, plan, below, db_time(now),
                 db_time(now + timedelta(hours=hours))),
            ) as cur:
                return Alert.from_row(await cur.fetchone())

    async def get(self, alert_id: int) -> Alert | None:
        row = await self.db.fetchone("SELECT * FROM price_alerts WHERE id = ?", (alert_id,))
        return Alert.from_row(row) if row else None

    async def open_of(self, chat_id: int) -> list[Alert]:
        rows = await self.db.fetchall(
            "SELECT * FROM price_alerts WHERE chat_id = ? AND status = 'open' AND expires_at > ? ORDER BY id",
            (chat_id, db_time(utcnow())))
        return [Alert.from_row(r) for r in rows]

    async def cancel(self, chat_id: int, alert_id: int) -> bool:
        async with self.db.transaction() as conn:
            done = await conn.execute("UPDATE price_alerts SET status = 'cancelled' WHERE id = ? AND chat_id = ?"
                                      " AND status = 'open'", (alert_id, chat_id))
            return done.rowcount == 1

    async def expire_due(self) -> int:
        async with self.db.transaction() as conn:
            done = await conn.execute("UPDATE price_alerts SET status = 'expired' WHERE status = 'open'"
                                      " AND expires_at <= ?", (db_time(utcnow()),))
            return done.rowcount

    async def due_services(self) -> list[str]:
        """Services with open alerts, the longest waiting first (each service read once a round)."""
        rows = await self.db.fetchall(
            "SELECT service_key, MIN(id) AS first FROM price_alerts WHERE status = 'open' AND expires_at > ?"
            " GROUP BY service_key ORDER BY first", (db_time(utcnow()),))
        return [r["service_key"] for r in rows]

    async def open_for_service(self, service_key: str) -> list[Alert]:
        rows = await self.db.fetchall(
            "SELECT * FROM price_alerts WHERE service_key = ? AND status = 'open' AND expires_at > ? ORDER BY id",
            (service_key, db_time(utcnow())))
        return [Alert.from_row(r) for r in rows]

    async def fire(self, alert_id: int, offer: dict, price: int) -> bool:
        """Open -> fired, once: True for the one call that made it so."""
        async with self.db.transaction() as conn:
            done = await conn.execute(
                "UPDATE price_alerts SET status = 'fired', fired_at = ?, offer = ?, price = ? WHERE id = ?"
                " AND status = 'open'", (db_time(utcnow()), json.dumps(offer), price, alert_id))
            return done.rowcount == 1
