"""Users and groups the operator banned: no renting, no top-ups. Their balances and ledgers are left as they are."""
from __future__ import annotations

from dataclasses import dataclass

from .db import Database


@dataclass(frozen=True, slots=True)
class Ban:
    target: int  # a user (> 0, their private chat too) or a group (< 0)
    reason: str
    told: bool


class BanRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ban(self, target: int, reason: str, banned_by: int) -> bool:
        """True if newly banned; banning again updates the reason (and says it once more)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("SELECT 1 FROM bans WHERE target = ?", (target,))
            existed = await cur.fetchone() is not None
            await conn.execute(
                "INSERT INTO bans (target, reason, banned_by) VALUES (?, ?, ?) ON CONFLICT(target) DO UPDATE"
                " SET reason = excluded.reason, banned_by = excluded.banned_by, told = 0",
                (target, reason[:200], banned_by))
        return not existed

    async def unban(self, target: int) -> bool:
        async with self.db.transaction() as conn:
            cur = await conn.execute("DELETE FROM bans WHERE target = ?", (target,))
            return cur.rowcount == 1

    async def find(self, chat_id: int, user_id: int | None) -> Ban | None:
        """The ban that stops this user in this chat: the chat's own, else the user's."""
        targets = (chat_id,) if user_id is None or user_id == chat_id else (chat_id, user_id)
        marks = ", ".join("?" for _ in targets)
        row = await self.db.fetchone(
            f"SELECT target, reason, told FROM bans WHERE target IN ({marks}) ORDER BY target = ? DESC LIMIT 1",
            (*targets, chat_id))
        return Ban(row["target"], row["reason"], bool(row["told"])) if row else None

    async def mark_told(self, target: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE bans SET told = 1 WHERE target = ?", (target,))
