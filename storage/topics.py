"""A topic per number: each rental's topic in a forum group and its state, one transition per method.

    (none) --opened--> open --lost--> lost --told--> moved
    open | lost | moved --closed--> closed   (the rental ended; the bot closed the topic or found it gone)

A set of services on one number has one card: the topic is on the set's first rental (RentalRecord.card_id).
"""
from __future__ import annotations

from .db import Database
from .models import RentalRecord
from .rentals import OPEN_STATUSES

LIVE = ("open", "lost", "moved")  # a topic the bot has not closed yet


class NumberTopicRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _move(self, rental_id: int, to: str, frm: tuple[str, ...], **extra) -> bool:
        sets = ", ".join(["topic_state = ?", *(f"{k} = ?" for k in extra)])
        marks = ", ".join("?" for _ in frm)
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE rentals SET {sets} WHERE id = ? AND coalesce(topic_state, '') IN ({marks})",
                (to, *extra.values(), rental_id, *frm))
            return cur.rowcount == 1

    async def opened(self, rental_id: int, thread_id: int) -> bool:
        """The bot created the rental's topic: its card and codes go there. Only once per rental."""
        return await self._move(rental_id, "open", ("",), topic_id=thread_id)

    async def lost(self, rental_id: int) -> bool:
        """A send there was refused (the topic deleted or closed by a person): the note is owed."""
        return await self._move(rental_id, "lost", ("open",))

    async def told(self, rental_id: int) -> bool:
        """The code with the note reached the main chat: later codes go there without one."""
        return await self._move(rental_id, "moved", ("lost",))

    async def closed(self, rental_id: int) -> bool:
        return await self._move(rental_id, "closed", LIVE)

    async def to_close(self, limit: int = 100) -> list[RentalRecord]:
        """Rentals whose number ended (every rental of its set too) and whose topic is still live."""
        marks = ", ".join("?" for _ in OPEN_STATUSES)
        rows = await self.db.fetchall(
            f"SELECT * FROM rentals r WHERE topic_state IN ('open', 'lost', 'moved') AND status NOT IN ({marks})"
            f" AND NOT EXISTS (SELECT 1 FROM rentals m WHERE m.set_id = r.id AND m.status IN ({marks}))"
            " ORDER BY id LIMIT ?", (*OPEN_STATUSES, *OPEN_STATUSES, limit))
        return [RentalRecord.from_row(r) for r in rows]
