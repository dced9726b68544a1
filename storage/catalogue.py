"""Short-lived cache of provider catalogues and per-chat offer snapshots (what a user saw and picked from)."""
from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any

from .db import Database

MEMO_SECONDS = 5.0  # what this process read is kept so long: a drop by another process shows within it
MEMO_ENTRIES = 256  # keys kept in memory at most (the oldest read goes first)


class CatalogueCache:
    """In the database, so every process and a restart share it; in front of it, what this process read in the
    last few seconds (bounded), so a screen that lists services twice reads and parses them once."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._memo: OrderedDict[str, tuple[float, float, Any]] = OrderedDict()  # key: (read at, expires at, payload)
        self._changes = 0  # puts, drops and forgets: a read that met one on its way is not kept

    async def get(self, key: str) -> Any | None:
        return await self._read(key, time.time())

    async def get_fresh(self, key: str, ttl: float, max_age: float) -> Any | None:
        """The payload only if it was put (with ``ttl``) at most ``max_age`` seconds ago."""
        return await self._read(key, time.time() + ttl - max_age)

    async def _read(self, key: str, expiring_after: float) -> Any | None:
        now = time.time()
        memo = self._memo.get(key)
        if memo is not None and now - memo[0] < MEMO_SECONDS:
            return memo[2] if memo[1] > expiring_after else None
        changes = self._changes
        row = await self.db.fetchone("SELECT payload, expires_at FROM catalogue_cache WHERE key = ? AND expires_at > ?",
                                     (key, now))
        if row is None:
            self._memo.pop(key, None)  # gone there: what this process kept of it is gone too
            return None
        payload = json.loads(row["payload"])
        if changes == self._changes:  # else a drop (a plan sold out) came after this read: it is not kept
            self._remember(key, now, row["expires_at"], payload)
        return payload if row["expires_at"] > expiring_after else None

    def _remember(self, key: str, now: float, expires_at: float, payload: Any) -> None:
        self._memo[key] = (now, expires_at, payload)
        self._memo.move_to_end(key)
        while len(self._memo) > MEMO_ENTRIES:
            self._memo.popitem(last=False)

    async def put(self, key: str, payload: Any, ttl: float) -> None:
        text, now = json.dumps(payload), time.time()
        await self.db.write(
            "INSERT INTO catalogue_cache (key, payload, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at",
            (key, text, now + ttl))
        self._changes += 1
        self._remember(key, now, now + ttl, json.loads(text))  # as a read gives it back

    async def drop(self, key: str) -> None:
        self._changes += 1
        self._memo.pop(key, None)
        await self.db.write("DELETE FROM catalogue_cache WHERE key = ?", (key,))

    def forget(self) -> None:
        """What this process read is read again: a change made elsewhere (another process, a test aging the
        cache) counts from the next read, not after MEMO_SECONDS."""
        self._changes += 1
        self._memo.clear()

    async def purge(self) -> None:
        now = time.time()
        for key in [k for k, (_, expires_at, _) in self._memo.items() if expires_at <= now]:
            del self._memo[key]
        await self.db.write("DELETE FROM catalogue_cache WHERE expires_at <= ?", (now,))


class SnapshotRepo:
    """Offers shown to a chat, so a button can name an offer by a short id and the price stays the one shown."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, chat_id: int, service_key: str, service_name: str, offers: list[dict]) -> int:
        [row] = await self.db.write(
            "INSERT INTO offer_snapshots (chat_id, service_key, service_name, offers, created_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING id",
            (chat_id, service_key, service_name, json.dumps(offers), time.time()))
        return row[0]

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
