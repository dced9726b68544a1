"""The services a chat starred: they come first on its service list."""
from __future__ import annotations

from .db import Database, first_row

MAX_PER_CHAT = 30  # a list of favourites longer than a screen helps no one; the table stays bounded


class FavouriteRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def keys(self, chat_id: int) -> set[str]:
        rows = await self.db.fetchall("SELECT service_key FROM favourites WHERE chat_id = ?", (chat_id,))
        return {row["service_key"] for row in rows}

    async def toggle(self, chat_id: int, service_key: str) -> bool | None:
        """Starred now (True), unstarred (False), or None when the chat already has MAX_PER_CHAT."""
        async with self.db.transaction() as conn:
            deleted = await conn.execute("DELETE FROM favourites WHERE chat_id = ? AND service_key = ?",
                                         (chat_id, service_key))
            if deleted.rowcount:
                return False
            count = await first_row(conn, "SELECT COUNT(*) FROM favourites WHERE chat_id = ?", (chat_id,))
            if count[0] >= MAX_PER_CHAT:
                return None
            await conn.execute("INSERT INTO favourites (chat_id, service_key) VALUES (?, ?)", (chat_id, service_key))
            return True
