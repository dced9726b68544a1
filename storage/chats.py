from __future__ import annotations

from .db import Database
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
            async with conn.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)) as cur:
                return Chat.from_row(await cur.fetchone())

    async def get(self, chat_id: int) -> Chat | None:
        row = await self.db.fetchone("SELECT * FROM chats WHERE id = ?", (chat_id,))
        return Chat.from_row(row) if row else None

    async def set_active(self, chat_id: int, active: bool) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE chats SET active = ? WHERE id = ?", (int(active), chat_id))

    async def set_language(self, chat_id: int, language: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE chats SET language = ? WHERE id = ?", (language, chat_id))

    async def set_members_can_rent(self, chat_id: int, allowed: bool) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE chats SET members_can_rent = ? WHERE id = ?", (int(allowed), chat_id))

    async def migrate(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: move everything to the new id (foreign keys cascade)."""
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT 1 FROM chats WHERE id = ?", (new_id,)) as cur:
                if await cur.fetchone():
                    return
            await conn.execute("UPDATE chats SET id = ?, kind = 'supergroup' WHERE id = ?", (new_id, old_id))
