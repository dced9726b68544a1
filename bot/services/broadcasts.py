"""The operator's broadcasts: a message read from /broadcast, previewed, confirmed for an audience, stopped.

Sending is bot/outbound/broadcaster.py's, in the background, on the bot's one outbound path, after codes.

The message is the operator's own text with its formatting (HTML, as Telegram's entities give it), a photo when
the command is a photo's caption or replies to one, and at most one URL button: a last line written
``Label | https://example.com`` (plain, no formatting) becomes the button under the message."""
from __future__ import annotations

import asyncio
import html
import re
import unicodedata
from dataclasses import dataclass

from storage import Database
from storage.broadcasts import AUDIENCES, Broadcast, BroadcastRepo, Counts

from .errors import UserFacingError

COMMAND = re.compile(r"^/broadcast(?:@\w+)?(?:\s|$)", re.IGNORECASE)
BUTTON_LINE = re.compile(r"^(?P<label>[^|]{1,64}?)\s*\|\s*(?P<url>https?://\S+)$")
TAG = re.compile(r"<[^>]+>")
TEXT_MAX, CAPTION_MAX = 4096, 1024  # Telegram's limits, in characters of the text as shown
LABEL_MAX = 30  # display units (wide characters and emoji count two): a button alone in its row fits ~34 on a phone
URL_MAX = 1024


class BroadcastEmpty(UserFacingError):
    key = "broadcast-empty"


class BroadcastTooLong(UserFacingError):
    key = "broadcast-too-long"  # params: length, limit


class BroadcastBadButton(UserFacingError):
    key = "broadcast-bad-button"  # params: limit


class BroadcastGone(UserFacingError):
    """The draft was sent or dropped already (a second tap, an old preview)."""

    key = "broadcast-gone"


@dataclass(frozen=True, slots=True)
class Content:
    text: str  # HTML
    photo: str = ""
    button_text: str = ""
    button_url: str = ""


def label_width(label: str) -> int:
    """How wide a button label is drawn: East Asian wide characters and emoji two, the rest one."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) or c == "\ufe0f" else 1
               for c in label)


def shown_length(text: str) -> int:
    """Characters Telegram counts: the text without its tags, entities read."""
    return len(html.unescape(TAG.sub("", text)))


def parse(text_html: str, photo: str = "", *, strip_command: bool = True) -> Content:
    """The message a broadcast sends, from the operator's message (its HTML, its photo's file id).

    ``strip_command``: the HTML starts with /broadcast (the command's own text or caption), which is not sent."""
    body = text_html or ""
    if strip_command:
        body = COMMAND.sub("", body.lstrip(), count=1)
    body = body.strip()
    button_text = button_url = ""
    head, _, last = body.rpartition("\n")
    candidate = last.strip()
    if "|" in candidate and "<" not in candidate and "://" in candidate:
        found = BUTTON_LINE.match(html.unescape(candidate))
        label = found.group("label").strip() if found else ""
        url = found.group("url") if found else ""
        if not found or not label or label_width(label) > LABEL_MAX or len(url) > URL_MAX:
            raise BroadcastBadButton(limit=LABEL_MAX)
        button_text, button_url, body = label, url, head.strip()
    if not body and not photo:
        raise BroadcastEmpty()
    limit = CAPTION_MAX if photo else TEXT_MAX
    if (length := shown_length(body)) > limit:
        raise BroadcastTooLong(length=length, limit=limit)
    return Content(body, photo, button_text, button_url)


class Broadcasts:
    """Drafts, the audience confirmed, stopping; ``changed`` wakes the sender when there is work."""

    def __init__(self, db: Database) -> None:
        self.repo = BroadcastRepo(db)
        self.changed = asyncio.Event()
        self._stopped: set[int] = set()  # cancelled in this process: the sender stops before its next send

    async def draft(self, operator_id: int, chat_id: int, language: str, content: Content) -> Broadcast:
        return await self.repo.create(operator_id, chat_id, language, content.text, content.photo,
                                      content.button_text, content.button_url)

    async def get(self, broadcast_id: int) -> Broadcast:
        found = await self.repo.get(broadcast_id)
        if found is None:
            raise BroadcastGone()
        return found

    async def audience_sizes(self) -> dict[str, int]:
        return await self.repo.audience_sizes()

    async def start(self, broadcast_id: int, audience: str, progress_message_id: int | None) -> Broadcast:
        """Confirmed: the audience's chats are written and the sender woken."""
        if audience not in AUDIENCES:
            raise BroadcastGone()
        if await self.repo.start(broadcast_id, audience, progress_message_id) is None:
            raise BroadcastGone()
        self.changed.set()
        return await self.get(broadcast_id)

    async def cancel(self, broadcast_id: int) -> Broadcast:
        """A draft dropped or a broadcast stopped; what was sent stays sent, the rest is not sent."""
        if not await self.repo.cancel(broadcast_id):
            raise BroadcastGone()
        self._stopped.add(broadcast_id)
        self.changed.set()
        return await self.get(broadcast_id)

    def stopped(self, broadcast_id: int) -> bool:
        return broadcast_id in self._stopped

    async def counts(self, broadcast_id: int) -> Counts:
        return await self.repo.counts(broadcast_id)
