"""Forwarding codes per number: each rental's forward target, each chat's signing secret, and the forward outbox.

The outbox row of an SMS is inserted in the same transaction that stores the SMS (``queue_forwards``, called by
SmsRepo), for the target set at that moment only: an SMS stored before a target was set is never forwarded. A row
is (sms, target) UNIQUE, so an SMS goes to a target once; it is marked sent after the target accepted it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from .db import Database
from .models import StoredSms, db_time, parse_ts, utcnow


@dataclass(frozen=True, slots=True)
class ForwardTarget:
    rental_id: int
    kind: str  # 'chat' or 'url'
    target: str  # the chat id (as text) or the URL
    set_by: int
    set_at: datetime
    failing_since: datetime | None
    disabled_at: datetime | None
    title: str | None = None  # a chat target's name, as the bot knows the chat (None: a URL, or a chat it never saw)

    @property
    def chat_id(self) -> int | None:
        return int(self.target) if self.kind == "chat" else None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> ForwardTarget:
        return cls(rental_id=row["rental_id"], kind=row["kind"], target=row["target"], set_by=row["set_by"],
                   set_at=parse_ts(row["set_at"]), failing_since=parse_ts(row["failing_since"]),
                   disabled_at=parse_ts(row["disabled_at"]),
                   title=row["title"] if "title" in row.keys() else None)


@dataclass(frozen=True, slots=True)
class Forward:
    """One outbox row, with what sending it needs: the SMS, the rental's chat (its secret signs a URL forward)."""

    id: int
    sms: StoredSms
    rental_id: int
    chat_id: int
    kind: str  # 'chat', 'url' or 'notice'
    target: str
    attempts: int
    next_try_at: datetime
    last_error: str | None


async def queue_forwards(conn: aiosqlite.Connection, sms_id: int, rental_id: int, now: str) -> None:
    """Inside the transaction storing the SMS: one pending row for the rental's target, if one is on now."""
    await conn.execute(
        "INSERT INTO forward_outbox (sms_id, rental_id, kind, target, next_try_at, created_at)"
        " SELECT ?, f.rental_id, f.kind, f.target, ?, ? FROM rental_forwards f"
        " WHERE f.rental_id = ? AND f.disabled_at IS NULL ON CONFLICT(sms_id, target) DO NOTHING",
        (sms_id, now, now, rental_id))


class ForwardRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- targets ---------------------------------------------------------------------------------------
    async def target(self, rental_id: int) -> ForwardTarget | None:
        row = await self.db.fetchone(
            "SELECT f.*, c.title FROM rental_forwards f LEFT JOIN chats c ON f.kind = 'chat'"
            " AND c.id = CAST(f.target AS INTEGER) WHERE f.rental_id = ?", (rental_id,))
        return ForwardTarget.from_row(row) if row else None

    async def set_target(self, rental_id: int, kind: str, target: str, set_by: int,
                         now: datetime | None = None) -> ForwardTarget:
        """Replaces any earlier target (a switched-off one too): from now on this one gets the rental's SMS."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO rental_forwards (rental_id, kind, target, set_by, set_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(rental_id) DO UPDATE SET kind = excluded.kind, target = excluded.target,"
                " set_by = excluded.set_by, set_at = excluded.set_at, failing_since = NULL, disabled_at = NULL",
                (rental_id, kind, target, set_by, db_time(now or utcnow())))
        return await self.target(rental_id)

    async def remove_target(self, rental_id: int) -> bool:
        """Off: no more rows queued; what is still pending for it is dropped (marked failed, 'turned off')."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("DELETE FROM rental_forwards WHERE rental_id = ?", (rental_id,))
            await conn.execute("UPDATE forward_outbox SET status = 'failed', last_error = 'turned off'"
                               " WHERE rental_id = ? AND status = 'pending' AND kind != 'notice'", (rental_id,))
            return cur.rowcount == 1

    # -- the chat's signing secret ------------------------------------------------------------------------
    async def secret(self, chat_id: int) -> str | None:
        row = await self.db.fetchone("SELECT forward_secret FROM chats WHERE id = ?", (chat_id,))
        return row["forward_secret"] if row else None

    async def set_secret(self, chat_id: int, secret: str, *, only_if_none: bool = False) -> bool:
        """True when stored (``only_if_none``: a chat that has one keeps it, and False says so)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE chats SET forward_secret = ? WHERE id = ?"
                + (" AND forward_secret IS NULL" if only_if_none else ""),
                (secret, chat_id))
            return cur.rowcount == 1

    # -- the outbox --------------------------------------------------------------------------------------
    async def due(self, now: datetime, limit: int = 100) -> list[Forward]:
        rows = await self.db.fetchall(
            "SELECT o.id AS forward_id, o.rental_id AS forward_rental_id, o.kind AS forward_kind,"
            " o.target AS forward_target, o.attempts AS forward_attempts, o.next_try_at AS forward_next,"
            " o.last_error AS forward_error, r.chat_id AS forward_chat_id, s.* FROM forward_outbox o"
            " JOIN sms s ON s.id = o.sms_id JOIN rentals r ON r.id = o.rental_id"
            " WHERE o.status = 'pending' AND o.next_try_at <= ? ORDER BY o.id LIMIT ?", (db_time(now), limit))
        return [Forward(id=r["forward_id"], sms=StoredSms.from_row(r), rental_id=r["forward_rental_id"],
                        chat_id=r["forward_chat_id"], kind=r["forward_kind"], target=r["forward_target"],
                        attempts=r["forward_attempts"], next_try_at=parse_ts(r["forward_next"]),
                        last_error=r["forward_error"]) for r in rows]

    async def pending(self, rental_id: int | None = None) -> list[tuple[int, str, str, int]]:
        """(id, target, status, attempts) of every row, oldest first: for tests and the operator."""
        where, params = ("WHERE rental_id = ?", (rental_id,)) if rental_id is not None else ("", ())
        rows = await self.db.fetchall(f"SELECT id, target, status, attempts FROM forward_outbox {where} ORDER BY id",
                                      params)
        return [(r["id"], r["target"], r["status"], r["attempts"]) for r in rows]

    async def mark_attempt(self, forward_id: int) -> None:
        """Counted before the send: the only window for a repeat is a crash inside that one call."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE forward_outbox SET attempts = attempts + 1 WHERE id = ?", (forward_id,))

    async def mark_sent(self, forward: Forward, now: datetime, message_id: int | None = None) -> None:
        """Sent: never again; the target's run of failures is over. ``message_id``: the message in a target chat
        (the group's own deletion rule applies to it)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE forward_outbox SET status = 'sent', sent_at = ?, last_error = NULL,"
                               " telegram_message_id = ? WHERE id = ? AND status = 'pending'",
                               (db_time(now), message_id, forward.id))
            if forward.kind != "notice":
                await conn.execute("UPDATE rental_forwards SET failing_since = NULL WHERE rental_id = ? AND target = ?",
                                   (forward.rental_id, forward.target))

    async def to_hide(self, now: datetime, limit: int = 100) -> list[tuple[int, int, int]]:
        """Codes forwarded into groups that delete theirs, due: (outbox id, target chat, message id), oldest first."""
        rows = await self.db.fetchall(
            "SELECT o.id, c.id AS chat_id, o.telegram_message_id FROM forward_outbox o"
            " JOIN chats c ON o.kind = 'chat' AND c.id = CAST(o.target AS INTEGER)"
            " WHERE o.status = 'sent' AND o.telegram_message_id IS NOT NULL AND o.hidden_at IS NULL"
            " AND c.kind IN ('group', 'supergroup') AND c.active = 1 AND c.code_delete_minutes > 0"
            " AND julianday(o.sent_at) <= julianday(?) - c.code_delete_minutes / 1440.0"
            " ORDER BY o.sent_at, o.id LIMIT ?", (db_time(now), limit))
        return [(r["id"], r["chat_id"], r["telegram_message_id"]) for r in rows]

    async def mark_hidden(self, outbox_id: int, result: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE forward_outbox SET hidden_at = ?, hide_result = ? WHERE id = ?"
                               " AND hidden_at IS NULL", (db_time(utcnow()), result[:200], outbox_id))

    async def mark_failed(self, forward_id: int, error: str) -> None:
        """Given up for good (the target is gone): not tried again."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE forward_outbox SET status = 'failed', last_error = ? WHERE id = ?"
                               " AND status = 'pending'", (error[:200], forward_id))

    async def retry_later(self, forward: Forward, error: str, at: datetime, now: datetime) -> datetime:
        """A failure to try again at ``at``; returns when the target's unbroken run of failures began."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE forward_outbox SET next_try_at = ?, last_error = ? WHERE id = ?",
                               (db_time(at), error[:200], forward.id))
            if forward.kind == "notice":
                return now
            await conn.execute("UPDATE rental_forwards SET failing_since = ? WHERE rental_id = ? AND target = ?"
                               " AND failing_since IS NULL", (db_time(now), forward.rental_id, forward.target))
            async with conn.execute("SELECT failing_since FROM rental_forwards WHERE rental_id = ? AND target = ?",
                                    (forward.rental_id, forward.target)) as cur:
                row = await cur.fetchone()
        return parse_ts(row[0]) if row and row[0] else now

    async def switch_off(self, forward: Forward, now: datetime, reason: str) -> bool:
        """The target failed for too long: off (once: True only for the call that switched it), its pending rows
        failed, and one notice row queued to tell the chat."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("UPDATE rental_forwards SET disabled_at = ? WHERE rental_id = ? AND target = ?"
                                     " AND disabled_at IS NULL", (db_time(now), forward.rental_id, forward.target))
            await conn.execute("UPDATE forward_outbox SET status = 'failed', last_error = ? WHERE rental_id = ?"
                               " AND target = ? AND status = 'pending'",
                               (reason[:200], forward.rental_id, forward.target))
            if cur.rowcount != 1:
                return False
            await conn.execute(
                "INSERT INTO forward_outbox (sms_id, rental_id, kind, target, next_try_at, created_at)"
                " VALUES (?, ?, 'notice', ?, ?, ?) ON CONFLICT(sms_id, target) DO NOTHING",
                (forward.sms.id, forward.rental_id, f"notice:{forward.rental_id}", db_time(now), db_time(now)))
            return True
