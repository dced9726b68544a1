"""Telegram updates already taken: Telegram sends an update again when it believes the last delivery failed (a
webhook answered late or not at all, a restart before polling confirmed it); each update_id is handled once.

The window is 24 hours, Telegram's own: it keeps an undelivered update no longer, and after a week without
updates it may start its ids anew, which an older window would take for repeats."""
from __future__ import annotations

from datetime import datetime, timedelta

from .db import Database
from .models import db_time, utcnow

WINDOW = timedelta(hours=24)
PRUNE_EVERY = 1000  # takes: the window is pruned this often, not at every update


class UpdateLog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._taken = 0

    async def take(self, update_id: int, now: datetime | None = None) -> bool:
        """True the first time this update comes (noted before it is handled: one that dies mid-way is not
        handled again; every spend it made is keyed by the tap anyway); False for a repeat."""
        now = now or utcnow()
        taken = await self.db.write("INSERT INTO handled_updates (update_id, taken_at) VALUES (?, ?)"
                                    " ON CONFLICT (update_id) DO NOTHING RETURNING update_id",
                                    (update_id, db_time(now)))
        self._taken += 1
        if self._taken % PRUNE_EVERY == 0:
            await self.prune(now)
        return bool(taken)

    async def prune(self, now: datetime | None = None) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM handled_updates WHERE taken_at < ?", (db_time((now or utcnow()) - WINDOW),))
