"""Broadcasts: the operator's message, its audience taken when confirmed, and each chat's delivery of it.

A chat's row is marked ``sending`` in its own transaction before the HTTP call and ``sent`` after it (as the SMS
outbox is), so a process killed mid-broadcast leaves at most one row in doubt; that row is never sent again."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from .db import Database
from .models import db_time, parse_ts, utcnow

AUDIENCES = ("all", "private", "groups")
KINDS = {"all": ("private", "group", "supergroup"), "private": ("private",), "groups": ("group", "supergroup")}
INTERRUPTED = "interrupted: the bot stopped while sending it, so it may have arrived"


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    created_by: int
    chat_id: int  # the operator's chat: the preview and the progress message are there
    language: str
    text: str  # HTML, as sent (the caption when there is a photo)
    photo: str  # a Telegram file id, or ""
    button_text: str
    button_url: str
    audience: str  # "" while a draft
    status: str
    progress_message_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Broadcast:
        return cls(id=row["id"], created_by=row["created_by"], chat_id=row["chat_id"], language=row["language"],
                   text=row["text"], photo=row["photo"], button_text=row["button_text"],
                   button_url=row["button_url"], audience=row["audience"], status=row["status"],
                   progress_message_id=row["progress_message_id"], created_at=parse_ts(row["created_at"]),
                   started_at=parse_ts(row["started_at"]), finished_at=parse_ts(row["finished_at"]))


@dataclass(frozen=True, slots=True)
class Recipient:
    """One chat still to get a broadcast, with what sending needs to know of it now."""

    id: int  # the broadcast_chats row
    chat_id: int
    is_group: bool
    active: bool
    attempts: int


@dataclass(frozen=True, slots=True)
class Counts:
    total: int = 0
    pending: int = 0
    sent: int = 0
    failed: int = 0
    blocked: int = 0


class BroadcastRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, created_by: int, chat_id: int, language: str, text: str, photo: str = "",
                     button_text: str = "", button_url: str = "") -> Broadcast:
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "INSERT INTO broadcasts (created_by, chat_id, language, text, photo, button_text, button_url, status,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'draft', ?) RETURNING *",
                (created_by, chat_id, language, text, photo, button_text, button_url, db_time(utcnow())))
            return Broadcast.from_row(list(rows)[0])

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = await self.db.fetchone("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
        return Broadcast.from_row(row) if row else None

    async def audience_sizes(self) -> dict[str, int]:
        """Active chats per audience, as a confirm would take them now."""
        rows = await self.db.fetchall("SELECT kind, COUNT(*) AS n FROM chats WHERE active = 1 GROUP BY kind")
        by_kind = {row["kind"]: row["n"] for row in rows}
        return {audience: sum(by_kind.get(kind, 0) for kind in kinds) for audience, kinds in KINDS.items()}

    async def start(self, broadcast_id: int, audience: str, progress_message_id: int | None) -> int | None:
        """Draft -> sending: its audience, the active chats of that kind now, written in the same transaction.
        The number of chats; None when it was not a draft any more (a second tap, a cancel)."""
        kinds = KINDS[audience]
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE broadcasts SET status = 'sending', audience = ?, progress_message_id = ?, started_at = ?"
                " WHERE id = ? AND status = 'draft'", (audience, progress_message_id, db_time(utcnow()), broadcast_id))
            if cur.rowcount != 1:
                return None
            cur = await conn.execute(
                "INSERT INTO broadcast_chats (broadcast_id, chat_id) SELECT ?, id FROM chats WHERE active = 1"
                f" AND kind IN ({', '.join('?' * len(kinds))}) ORDER BY id", (broadcast_id, *kinds))
            return cur.rowcount

    async def set_progress_message(self, broadcast_id: int, message_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE broadcasts SET progress_message_id = ? WHERE id = ?", (message_id, broadcast_id))

    async def cancel(self, broadcast_id: int) -> bool:
        """A draft dropped or a broadcast stopped: chats not reached yet stay unsent. False if it had ended."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE broadcasts SET status = 'cancelled', finished_at = ? WHERE id = ?"
                " AND status IN ('draft', 'sending')", (db_time(utcnow()), broadcast_id))
            return cur.rowcount == 1

    async def finish(self, broadcast_id: int) -> bool:
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE broadcasts SET status = 'done', finished_at = ? WHERE id = ? AND status = 'sending'",
                (db_time(utcnow()), broadcast_id))
            return cur.rowcount == 1

    async def sending(self) -> list[Broadcast]:
        """Confirmed and not finished, oldest first: what the sender works through (after a restart too)."""
        rows = await self.db.fetchall("SELECT * FROM broadcasts WHERE status = 'sending' ORDER BY id")
        return [Broadcast.from_row(r) for r in rows]

    async def settle_interrupted(self, broadcast_id: int) -> int:
        """Rows a stopped process left 'sending' (the HTTP call may or may not have gone out): failed, not resent."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE broadcast_chats SET status = 'failed', error = ?, updated_at = ?"
                " WHERE broadcast_id = ? AND status = 'sending'", (INTERRUPTED, db_time(utcnow()), broadcast_id))
            return cur.rowcount

    async def pending(self, broadcast_id: int, after: int = 0, limit: int = 500) -> list[Recipient]:
        rows = await self.db.fetchall(
            "SELECT b.id, b.chat_id, b.attempts, c.kind, c.active"
            " FROM broadcast_chats b JOIN chats c ON c.id = b.chat_id"
            " WHERE b.broadcast_id = ? AND b.status = 'pending' AND b.id > ? ORDER BY b.id LIMIT ?",
            (broadcast_id, after, limit))
        return [Recipient(r["id"], r["chat_id"], r["kind"] in ("group", "supergroup"), bool(r["active"]), r["attempts"])
                for r in rows]

    async def mark_sending(self, row_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE broadcast_chats SET status = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?",
                (db_time(utcnow()), row_id))

    async def mark(self, row_id: int, status: str, message_id: int | None = None, error: str = "") -> None:
        """The outcome of one chat's send: sent, failed, blocked, or pending again (to try once more)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE broadcast_chats SET status = ?, message_id = ?, error = ?, updated_at = ? WHERE id = ?",
                (status, message_id, error[:200], db_time(utcnow()), row_id))

    async def counts(self, broadcast_id: int) -> Counts:
        rows = await self.db.fetchall(
            "SELECT status, COUNT(*) AS n FROM broadcast_chats WHERE broadcast_id = ? GROUP BY status", (broadcast_id,))
        by = {row["status"]: row["n"] for row in rows}
        # A row 'sending' is the one in flight: still counted as to go until its outcome is written.
        return Counts(total=sum(by.values()), pending=by.get("pending", 0) + by.get("sending", 0),
                      sent=by.get("sent", 0), failed=by.get("failed", 0), blocked=by.get("blocked", 0))

    async def deliveries(self, broadcast_id: int) -> dict[int, str]:
        """chat id -> status of each chat of a broadcast (for the operator's checks and the tests)."""
        rows = await self.db.fetchall("SELECT chat_id, status FROM broadcast_chats WHERE broadcast_id = ?",
                                      (broadcast_id,))
        return {row["chat_id"]: row["status"] for row in rows}
