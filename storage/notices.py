"""Money news: the outbox of messages that report money moved (a payment received, a refund, a renewal charged, a
transfer received). Sent by bot/outbound/money_news.py.

A notice is written by ``enqueue`` inside the transaction that writes its ledger row, so the row and its notice
exist together or not at all; ``ledger_key`` is UNIQUE (the ledger row's idempotency key), so a replay of what moved
the money writes no second notice. What it says is a text key and its parameters, rendered when it is sent, in the
chat's language then. States: pending -> sending (before the send) -> sent | undeliverable. A row still 'sending'
at the next start was in flight when the process stopped: it is sent again (the only repeat a kill can cause)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import aiosqlite

from .db import Database, first_row
from .models import db_time, parse_ts, utcnow


@dataclass(frozen=True, slots=True)
class Notice:
    """What to tell a chat: ``text_key`` with ``params`` (JSON values), once per ``ledger_key``."""

    chat_id: int
    text_key: str
    ledger_key: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MoneyNotice:
    id: int
    chat_id: int
    ledger_key: str
    ledger_id: int | None
    text_key: str
    params: dict
    status: str
    attempts: int
    next_try_at: datetime
    last_error: str | None
    message_id: int | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> MoneyNotice:
        return cls(id=row["id"], chat_id=row["chat_id"], ledger_key=row["ledger_key"], ledger_id=row["ledger_id"],
                   text_key=row["text_key"], params=json.loads(row["params"]), status=row["status"],
                   attempts=row["attempts"], next_try_at=parse_ts(row["next_try_at"]), last_error=row["last_error"],
                   message_id=row["message_id"], created_at=parse_ts(row["created_at"]),
                   sent_at=parse_ts(row["sent_at"]))


async def enqueue(conn: aiosqlite.Connection, notice: Notice, ledger_id: int | None = None,
                  now: datetime | None = None) -> bool:
    """In the caller's transaction (the one writing the ledger row): the notice, unless one for this ledger key
    exists. True when written."""
    moment = db_time(now or utcnow())
    row = await first_row(
        conn,
        "INSERT INTO money_notices (chat_id, ledger_key, ledger_id, text_key, params, next_try_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(ledger_key) DO NOTHING RETURNING id",
        (notice.chat_id, notice.ledger_key, ledger_id, notice.text_key,
         json.dumps(notice.params, ensure_ascii=False, separators=(",", ":")), moment, moment))
    return row is not None


class MoneyNoticeRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def pending(self, now: datetime | None = None, limit: int = 500) -> list[MoneyNotice]:
        """Still to send, oldest first, of the chats whose oldest open notice is due (a chat that refused one for
        now waits as a whole: its notices keep their order)."""
        rows = await self.db.fetchall(
            "SELECT n.* FROM money_notices n WHERE n.status IN ('pending', 'sending')"
            " AND (SELECT f.next_try_at FROM money_notices f WHERE f.chat_id = n.chat_id"
            " AND f.status IN ('pending', 'sending') ORDER BY f.id LIMIT 1) <= ? ORDER BY n.id LIMIT ?",
            (db_time(now or utcnow()), limit))
        return [MoneyNotice.from_row(r) for r in rows]

    async def for_chat(self, chat_id: int) -> list[MoneyNotice]:
        """Every notice of the chat, oldest first: for tests and the operator."""
        rows = await self.db.fetchall("SELECT * FROM money_notices WHERE chat_id = ? ORDER BY id", (chat_id,))
        return [MoneyNotice.from_row(r) for r in rows]

    async def mark_sending(self, notice_id: int) -> None:
        """Written before the send: a kill after it repeats this one notice at the next start, nothing else."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE money_notices SET status = 'sending', attempts = attempts + 1"
                               " WHERE id = ? AND status IN ('pending', 'sending')", (notice_id,))

    async def mark_sent(self, notice_id: int, message_id: int | None, now: datetime | None = None) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE money_notices SET status = 'sent', message_id = ?, sent_at = ?,"
                               " last_error = NULL WHERE id = ? AND status IN ('pending', 'sending')",
                               (message_id, db_time(now or utcnow()), notice_id))

    async def mark_undeliverable(self, notice_id: int, reason: str) -> None:
        """The chat is gone (blocked the bot, removed it) or refused it for too long: never tried again."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE money_notices SET status = 'undeliverable', last_error = ?"
                               " WHERE id = ? AND status IN ('pending', 'sending')", (reason[:200], notice_id))

    async def retry_later(self, notice_id: int, at: datetime, error: str) -> None:
        """Not sent for now (Telegram trouble, no rights in the chat): back to pending, tried again at ``at``; the
        chat's later notices wait behind it."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE money_notices SET status = 'pending', next_try_at = ?, last_error = ?"
                               " WHERE id = ? AND status IN ('pending', 'sending')",
                               (db_time(at), error[:200], notice_id))
