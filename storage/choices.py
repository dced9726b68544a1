"""What a chat chose before and what the bot is waiting for it to type: small per-chat rows, bounded by key."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from .db import Database
from .models import db_time, utcnow

PROMPT_MAX_AGE = timedelta(minutes=10)  # an answer typed later than this is ordinary text again


class CountryChoiceRepo:
    """The country a chat last rented a service in: its plan list opens there next time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, chat_id: int, service_key: str) -> str | None:
        row = await self.db.fetchone("SELECT country FROM country_choices WHERE chat_id = ? AND service_key = ?",
                                     (chat_id, service_key))
        return row["country"] if row else None

    async def set(self, chat_id: int, service_key: str, country: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO country_choices (chat_id, service_key, country) VALUES (?, ?, ?)"
                " ON CONFLICT (chat_id, service_key) DO UPDATE SET country = excluded.country,"
                " updated_at = CURRENT_TIMESTAMP", (chat_id, service_key, country))


class PromptRepo:
    """One question per user and chat (type an area code): asking again replaces it; answering takes it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def ask(self, chat_id: int, user_id: int, kind: str, payload: dict) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO prompts (chat_id, user_id, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (chat_id, user_id) DO UPDATE SET kind = excluded.kind, payload = excluded.payload,"
                " created_at = excluded.created_at", (chat_id, user_id, kind, json.dumps(payload), db_time(utcnow())))

    async def pending(self, chat_id: int, user_id: int) -> tuple[str, dict] | None:
        """The open question, if one was asked recently enough."""
        row = await self.db.fetchone("SELECT kind, payload, created_at FROM prompts WHERE chat_id = ? AND user_id = ?",
                                     (chat_id, user_id))
        if row is None or utcnow() - datetime.fromisoformat(row["created_at"]) > PROMPT_MAX_AGE:
            return None
        return row["kind"], json.loads(row["payload"])

    async def clear(self, chat_id: int, user_id: int) -> None:
        await self.db.write("DELETE FROM prompts WHERE chat_id = ? AND user_id = ?", (chat_id, user_id))

    async def purge(self) -> None:
        cutoff = db_time(utcnow() - PROMPT_MAX_AGE)
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM prompts WHERE created_at < ?", (cutoff,))

