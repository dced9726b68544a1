from __future__ import annotations

import aiosqlite

from . import ledger, notes
from .db import Database, first_row
from .models import Chat


class ChatRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ensure(self, chat_id: int, kind: str, title: str = "", language: str = "en") -> Chat:
        """Create the chat on first sight; refresh its title and mark it active afterwards."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO chats (id, kind, title, language) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET title = excluded.title, kind = excluded.kind, active = 1",
                (chat_id, kind, title, language),
            )
            return Chat.from_row(await first_row(conn, "SELECT * FROM chats WHERE id = ?", (chat_id,)))

    async def get(self, chat_id: int) -> Chat | None:
        row = await self.db.fetchone("SELECT * FROM chats WHERE id = ?", (chat_id,))
        return Chat.from_row(row) if row else None

    @staticmethod
    async def exists(conn: aiosqlite.Connection, chat_id: int) -> bool:
        """In the caller's transaction: whether the chat has a row (a balance to change)."""
        return await first_row(conn, "SELECT 1 FROM chats WHERE id = ?", (chat_id,)) is not None

    async def is_active(self, chat_id: int) -> bool:
        """Whether the chat is known and still has the bot: a payment or a transfer may go to it."""
        row = await self.db.fetchone("SELECT active FROM chats WHERE id = ?", (chat_id,))
        return bool(row and row["active"])

    async def set_active(self, chat_id: int, active: bool) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE chats SET active = ? WHERE id = ?", (int(active), chat_id))

    async def set_language(self, chat_id: int, language: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE chats SET language = ? WHERE id = ?", (language, chat_id))

    async def set_time_zone(self, chat_id: int, time_zone: str) -> None:
        """An IANA name (the caller checked it): the chat's screens show times in it."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE chats SET time_zone = ? WHERE id = ?", (time_zone, chat_id))

    async def set_members_can_rent(self, chat_id: int, allowed: bool) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE chats SET members_can_rent = ? WHERE id = ?", (int(allowed), chat_id))

    async def set_team(self, chat_id: int, **fields: int | str | bool) -> None:
        """Group settings: members_can_rent, member_limit, limit_period, member_cap, members_top_up, code_spoiler,
        code_delete_minutes, topic_per_number (the caller checked values), all in one transaction."""
        allowed = {"members_can_rent", "member_limit", "limit_period", "member_cap", "members_top_up",
                   "code_spoiler", "code_delete_minutes", "topic_per_number"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"unknown team settings {sorted(set(fields) - allowed)}")
        sets = ", ".join(f"{name} = ?" for name in fields)
        values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
        async with self.db.transaction() as conn:
            await conn.execute(f"UPDATE chats SET {sets} WHERE id = ?", (*values, chat_id))

    async def migrate(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: everything moves to the new id, whatever order the updates came in.

        If the new id is unknown, the row is renamed (foreign keys cascade). If an update from the
        supergroup arrived first and created the new row, the old chat is merged into it: rentals and
        offers move, the balance moves as a pair of ledger rows, the old row stays inactive."""
        async with self.db.transaction() as conn:
            old = await _chat(conn, old_id)
            if old is None or old_id == new_id:
                return
            if await _chat(conn, new_id) is None:
                await conn.execute("UPDATE chats SET id = ?, kind = 'supergroup' WHERE id = ?", (new_id, old_id))
                return
            for table in ("rentals", "offer_snapshots", "plan_switches", "stars_refunds", "crypto_invoices",
                          "spend_requests", "money_notices"):
                await conn.execute(f"UPDATE {table} SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))
            # Favourites both rows starred stay once; the old chat keeps none.
            await conn.execute("UPDATE OR IGNORE favourites SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))
            await conn.execute("DELETE FROM favourites WHERE chat_id = ?", (old_id,))
            # The supergroup's own later choices win over the group's.
            await conn.execute("UPDATE OR IGNORE country_choices SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))
            await conn.execute("DELETE FROM country_choices WHERE chat_id = ?", (old_id,))
            await conn.execute("DELETE FROM prompts WHERE chat_id = ?", (old_id,))
            # A promo code either row redeemed stays redeemed by the supergroup, once.
            await conn.execute("UPDATE OR IGNORE promo_redemptions SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))
            if old.balance > 0:
                reference = f"migrate:{old_id}:{new_id}"
                await ledger.post(conn, old_id, -old.balance, "adjustment", reference, note=notes.make("moved-out"))
                await ledger.post(conn, new_id, old.balance, "adjustment", reference, note=notes.make("moved-in"))
            # The new row was made by a stray update with defaults: the group's own choices win.
            await conn.execute("UPDATE chats SET language = ?, members_can_rent = ?, time_zone = ?, active = 1,"
                               " member_limit = ?, limit_period = ?, member_cap = ?, members_top_up = ?,"
                               " code_spoiler = ?, code_delete_minutes = ?, topic_per_number = ?"
                               " WHERE id = ?", (old.language, int(old.members_can_rent), old.time_zone,
                                                 old.member_limit, old.limit_period, old.member_cap,
                                                 int(old.members_top_up), int(old.code_spoiler),
                                                 old.code_delete_minutes, int(old.topic_per_number), new_id))
            await conn.execute("UPDATE chats SET active = 0 WHERE id = ?", (old_id,))


async def _chat(conn, chat_id: int) -> Chat | None:
    row = await first_row(conn, "SELECT * FROM chats WHERE id = ?", (chat_id,))
    return Chat.from_row(row) if row else None
