"""Received SMS, which double as the delivery outbox. An SMS's delivery (sms.delivery, CHECKed by the schema),
one guarded UPDATE per move:

    pending --sending--> sending --delivered--> delivered
    pending | sending | held --undeliverable--> undeliverable   (the chat is gone, or refused it for a day)
    pending | sending | held --held--> held --(next_try_at passes)--> sending
    held --retry now--> pending                                 (the bot's rights in the chat changed)

'sending' is written before the send: a kill inside that one HTTP call is the only window for a repeat, and the
outbox takes a 'sending' SMS again. An SMS stored from a provider's history (shown, not pushed) starts delivered.
"""
from __future__ import annotations

from datetime import datetime

from . import outcomes
from .db import Database, WrongStateError, sql_list
from .forwarding import queue_forwards
from .models import StoredSms, db_time, utcnow

TO_SEND = ("pending", "sending", "held")  # the outbox: the states an SMS still leaves for the chat


class SmsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(
        self, *, provider: str, provider_message_id: str, rental_id: int, body: str, code: str | None,
        sender: str | None = None, received_at: datetime | None = None, delivered: bool = False,
    ) -> bool:
        """True when the SMS is new; a repeat of a known provider message id changes nothing."""
        now = db_time(utcnow())
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO sms (provider, provider_message_id, rental_id, body, code, sender, received_at,"
                " stored_at, delivery, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(provider, provider_message_id) DO NOTHING",
                (provider, provider_message_id, rental_id, body, code, sender, db_time(received_at),
                 now, "delivered" if delivered else "pending", now if delivered else None),
            )
            if cur.rowcount == 1 and code:
                await outcomes.first_code(conn, rental_id, received_at)  # the plan's delivery record
            # forwarded to the rental's target set by now (bot/outbound/forwarding.py), exactly once
            if cur.rowcount == 1:
                await queue_forwards(conn, cur.lastrowid, rental_id, now)
            return cur.rowcount == 1

    async def store_orphan(self, *, provider: str, provider_message_id: str, provider_rental_id: str, body: str,
                           code: str | None, sender: str | None = None, received_at: datetime | None = None) -> None:
        """An SMS for a rental we do not know yet (its rent reply may still be on its way): kept, adopted later."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO orphan_sms (provider, provider_message_id, provider_rental_id, body, code, sender,"
                " received_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(provider, provider_message_id) DO NOTHING",
                (provider, provider_message_id, provider_rental_id, body, code, sender, db_time(received_at)),
            )

    async def adopt_orphans(self) -> int:
        """Move orphans whose rental is now known into the outbox. Returns how many were adopted."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO sms (provider, provider_message_id, rental_id, body, code, sender, received_at)"
                " SELECT o.provider, o.provider_message_id, r.id, o.body, o.code, o.sender, o.received_at"
                " FROM orphan_sms o JOIN rentals r"
                " ON r.provider = o.provider AND r.provider_rental_id = o.provider_rental_id"
                " WHERE true ON CONFLICT(provider, provider_message_id) DO NOTHING"
            )
            now = db_time(utcnow())
            await conn.execute(  # adopted now: forwarded to the rental's target like any SMS stored now
                "INSERT INTO forward_outbox (sms_id, rental_id, kind, target, next_try_at, created_at)"
                " SELECT s.id, f.rental_id, f.kind, f.target, ?, ? FROM orphan_sms o"
                " JOIN sms s ON s.provider = o.provider AND s.provider_message_id = o.provider_message_id"
                " JOIN rental_forwards f ON f.rental_id = s.rental_id WHERE f.disabled_at IS NULL"
                " ON CONFLICT(sms_id, target) DO NOTHING", (now, now))
            await conn.execute(
                "DELETE FROM orphan_sms WHERE EXISTS (SELECT 1 FROM sms s WHERE s.provider = orphan_sms.provider"
                " AND s.provider_message_id = orphan_sms.provider_message_id)"
            )
            return cur.rowcount

    async def outbox(self, limit: int = 500) -> list[StoredSms]:
        """Still to send, in storage order; SMS of a chat that refused them for now wait for their retry time."""
        rows = await self.db.fetchall(
            "SELECT * FROM sms WHERE delivery IN ('pending', 'sending')"
            " OR (delivery = 'held' AND next_try_at <= ?) ORDER BY id LIMIT ?", (db_time(utcnow()), limit)
        )
        return [StoredSms.from_row(r) for r in rows]

    async def defer_chat(self, chat_id: int, until: datetime) -> None:
        """The chat refused a message for now: everything still to send there waits, in order, until then."""
        async with self.db.transaction() as conn:
            await conn.execute(
                f"UPDATE sms SET delivery = 'held', next_try_at = ? WHERE delivery IN {sql_list(TO_SEND)}"
                " AND rental_id IN (SELECT id FROM rentals WHERE chat_id = ?)", (db_time(until), chat_id))

    async def retry_chat_now(self, chat_id: int) -> None:
        """The bot's rights in the chat changed: try what waits there at once."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE sms SET delivery = 'pending', next_try_at = NULL WHERE delivery = 'held'"
                " AND rental_id IN (SELECT id FROM rentals WHERE chat_id = ?)", (chat_id,))

    async def mark_sending(self, sms_id: int) -> None:
        """Before the send, one attempt more."""
        await self._move(sms_id, "sending", TO_SEND, "delivery_attempts = delivery_attempts + 1, next_try_at = NULL")

    async def mark_delivered(self, sms_id: int, telegram_message_id: int | None = None) -> None:
        await self._move(sms_id, "delivered", ("sending",), "delivered_at = ?, telegram_message_id = ?",
                         (db_time(utcnow()), telegram_message_id))

    async def mark_undeliverable(self, sms_id: int, reason: str) -> None:
        """The chat blocked or removed the bot (or refused it for a day): the SMS stays in history, leaves the
        outbox."""
        await self._move(sms_id, "undeliverable", TO_SEND, "undeliverable_reason = ?, next_try_at = NULL",
                         (reason[:200],))

    async def _move(self, sms_id: int, to: str, frm: tuple[str, ...], sets: str, params: tuple = ()) -> None:
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE sms SET delivery = ?, {sets} WHERE id = ? AND delivery IN {sql_list(frm)}",
                (to, *params, sms_id))
            if cur.rowcount != 1:
                raise WrongStateError("sms", sms_id, to, frm)

    async def for_rental(self, rental_id: int, limit: int = 5) -> list[StoredSms]:
        rows = await self.db.fetchall(
            "SELECT * FROM sms WHERE rental_id = ? ORDER BY id DESC LIMIT ?", (rental_id, limit)
        )
        return [StoredSms.from_row(r) for r in rows]

    async def is_pushed_message(self, rental_id: int, telegram_message_id: int) -> bool:
        """Whether this chat message is a code we pushed (such a message is never edited into something else)."""
        row = await self.db.fetchone("SELECT 1 FROM sms WHERE rental_id = ? AND telegram_message_id = ?",
                                     (rental_id, telegram_message_id))
        return row is not None

    # -- codes that hide themselves (groups with code_delete_minutes) ---------------------------------------
    async def to_hide(self, now: datetime, limit: int = 100) -> list[tuple[StoredSms, int, str]]:
        """Delivered code messages due for deletion: (sms, chat id, chat kind), oldest first. Only messages Telegram
        accepted (a telegram_message_id): an SMS still in the outbox, refused or undeliverable is never touched."""
        rows = await self.db.fetchall(
            "SELECT s.*, c.id AS hide_chat_id, c.kind AS hide_chat_kind FROM sms s"
            " JOIN rentals r ON r.id = s.rental_id JOIN chats c ON c.id = r.chat_id"
            " WHERE s.telegram_message_id IS NOT NULL AND s.delivery = 'delivered' AND s.hidden_at IS NULL"
            " AND c.kind IN ('group', 'supergroup') AND c.active = 1 AND c.code_delete_minutes > 0"
            " AND julianday(s.delivered_at) <= julianday(?) - c.code_delete_minutes / 1440.0"
            " ORDER BY s.delivered_at, s.id LIMIT ?", (db_time(now), limit))
        return [(StoredSms.from_row(r), r["hide_chat_id"], r["hide_chat_kind"]) for r in rows]

    async def hide_attempt(self, sms_id: int) -> int:
        """Counted before the delete call; returns the attempts so far (this one included)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE sms SET hide_attempts = hide_attempts + 1 WHERE id = ?", (sms_id,))
            async with conn.execute("SELECT hide_attempts FROM sms WHERE id = ?", (sms_id,)) as cur:
                return (await cur.fetchone())[0]

    async def mark_hidden(self, sms_id: int, result: str) -> None:
        """The deletion is settled (``result``: deleted, or why Telegram refused): never asked again."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE sms SET hidden_at = ?, hide_result = ? WHERE id = ? AND hidden_at IS NULL",
                               (db_time(utcnow()), result[:200], sms_id))

    async def hidden_for_rental(self, rental_id: int, limit: int = 20) -> list[StoredSms]:
        """The codes deleted from the chat, newest first: what "show privately" sends."""
        rows = await self.db.fetchall("SELECT * FROM sms WHERE rental_id = ? AND hidden_at IS NOT NULL"
                                      " ORDER BY id DESC LIMIT ?", (rental_id, limit))
        return [StoredSms.from_row(r) for r in rows]

    async def received_any(self, rental_id: int) -> bool:
        """Whether any SMS came for the rental (a code the chat got: no "no code" refund)."""
        return await self.db.fetchone("SELECT 1 FROM sms WHERE rental_id = ? LIMIT 1", (rental_id,)) is not None

    async def backlog(self) -> int:
        """SMS still to send (neither delivered nor undeliverable): the metrics' outbox gauge."""
        row = await self.db.fetchone(f"SELECT COUNT(*) FROM sms WHERE delivery IN {sql_list(TO_SEND)}")
        return row[0]

    async def delivered_count(self) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) FROM sms WHERE delivery = 'delivered'")
        return row[0]


class JobState:
    """Small persistent flags for background jobs (e.g. an acknowledgement in flight)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT value FROM job_state WHERE key = ?", (key,))
        return row["value"] if row else None

    async def set(self, key: str, value: str | None) -> None:
        async with self.db.transaction() as conn:
            if value is None:
                await conn.execute("DELETE FROM job_state WHERE key = ?", (key,))
            else:
                await conn.execute(
                    "INSERT INTO job_state (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
