"""Short-lived cache of provider catalogues and per-chat offer snapshots (what a user saw and picked from)."""
from __future__ import annotations

import json
import time
from typing import Any

from .db import Database


class CatalogueCache:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str) -> Any | None:
        row = await self.db.fetchone(
            "SELECT payload FROM catalogue_cache WHERE key = ? AND expires_at > ?", (key, time.time())
        )
        return json.loads(row["payload"]) if row else None

    async def get_fresh(self, key: str, ttl: float, max_age: float) -> Any | None:
        """The payload only if it was put (with ``ttl``) at most ``max_age`` seconds ago."""
        row = await self.db.fetchone(
            "SELECT payload FROM catalogue_cache WHERE key = ? AND expires_at > ?",
            (key, time.time() + ttl - max_age),
        )
        return json.loads(row["payload"]) if row else None

    async def put(self, key: str, payload: Any, ttl: float) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO catalogue_cache (key, payload, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at",
                (key, json.dumps(payload), time.time() + ttl),
            )

    async def drop(self, key: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM catalogue_cache WHERE key = ?", (key,))

    async def purge(self) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM catalogue_cache WHERE expires_at <= ?", (time.time(),))


class SnapshotRepo:
    """Offers shown to a chat, so a button can name an offer by a short id and the price stays the one shown."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, chat_id: int, service_key: str, service_name: str, offers: list[dict]) -> int:
        async with self.db.transaction() as conn:
            async with conn.execute(
                "INSERT INTO offer_snapshots (chat_id, service_key, service_name, offers, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (chat_id, service_key, service_name, json.dumps(offers), time.time()),
            ) as cur:
                return (await cur.fetchone())[0]

    async def get(self, snapshot_id: int, chat_id: int, max_age: float) -> dict | None:
        row = await self.db.fetchone(
            "SELECT * FROM offer_snapshots WHERE id = ? AND chat_id = ? AND created_at > ?",
            (snapshot_id, chat_id, time.time() - max_age),
        )
        if row is None:
            return None
        return {"service_key": row["service_key"], "service_name": row["service_name"],
                "offers": json.loads(row["offers"])}

    async def purge(self, max_age: float) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM offer_snapshots WHERE created_at <= ?", (time.time() - max_age,))
