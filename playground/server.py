"""The playground's web page and its small JSON API, in-process beside the Telegram emulator and the fake providers.

The page (static/) looks like a Telegram chat. The API reads and drives the emulator through its Python control
methods (no HTTP hop), and makes an SMS arrive at whichever fake provider rented the chat's active number (the one
the person picks when the chat has several; found read-only in the bot's SQLite file). The lines it writes itself
(service messages, its answers) follow the chat's language, as the page's own words do (LINES).

    GET  /api/state                         bot, demo users, chats (private + demo group)
    GET  /api/chats/{chat_id}/messages      rendered messages; ?after=<version>&wait=<s> long-polls for a change
    POST /api/send      {chat_id, user_id, text}
    POST /api/press     {chat_id, user_id, message_id, callback_data}  -> the bot's callback answer (toast/alert)
    POST /api/reply_button {chat_id, user_id, text}                    -> a reply keyboard's text button tapped
    POST /api/share/chats  {chat_id, user_id, request_id}              -> the chats a request_chat button's picker lists
    POST /api/share        {chat_id, user_id, request_id, shared_chat_id} -> one picked: the bot gets chat_shared
    POST /api/pay       {chat_id, user_id, message_id}                 -> pays a Stars invoice
    POST /api/sms       {chat_id, rental_id?}                          -> a code SMS for the chat's active number;
                                                                          with several, {choose: [...]} unless named

Every text the bot sent is rendered here from its plain text and entities: the text is HTML-escaped and only
known entity types become tags, so nothing the bot (or a provider's SMS) writes is ever injected as HTML.
"""
from __future__ import annotations

import asyncio
import hashlib
import html
import json
import logging
import random
import sqlite3
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web
from babel.numbers import format_currency, get_currency_precision

from handlers import phones

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"

ADMIN_ID = 900                 # the operator (in ADMIN_IDS): credits the demo chats; its private chat is a tab
ME = (1001, "You")             # the person using the page
MEMBER = (1002, "Sam")         # the other member of the demo group
GROUP = (-100123, "Demo group")
FORUM = (-1001000000124, "Demo forum")  # a supergroup with topics; the bot may manage them (a topic per number)
DEMO_CREDIT = "20"             # dollars credited to the private chat and to the group at start
LONG_POLL_MAX = 25.0
ANSWER_WAIT = 20.0             # a callback is answered after its handler ran (renting calls the provider)
NAME_COLORS = ("#cc5049", "#40a920", "#d09306", "#368ad1", "#955cdb", "#c03d87", "#309eba", "#d67722")


# ------------------------------------------------------------------------------------------ safe rendering
_TAGS = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<span class="tg-spoiler">', "</span>"),
    "code": ('<code class="tg-code" title="Tap to copy">', "</code>"),
    "pre": ('<pre class="tg-pre">', "</pre>"),
    "blockquote": ('<blockquote class="tg-quote">', "</blockquote>"),
    "expandable_blockquote": ('<blockquote class="tg-quote">', "</blockquote>"),
    "bot_command": ('<span class="tg-cmd" role="link">', "</span>"),
    "mention": ('<span class="tg-mention">', "</span>"),
    "hashtag": ('<span class="tg-mention">', "</span>"),
    "cashtag": ('<span class="tg-mention">', "</span>"),
}
_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")


def money_text(total_amount: int, currency: str, language: str = "en") -> str:
    """An invoice amount as a person reads it: Telegram sends it in the currency's smallest units."""
    if currency == "XTR":  # Stars have no minor units
        return f"⭐ {total_amount}"
    major = Decimal(int(total_amount)).scaleb(-get_currency_precision(currency))
    return format_currency(major, currency, locale=language if language in LANGUAGES else "en")


# ------------------------------------------------------------------------------------------ the page's own lines
# What the server writes itself (service lines, its answers to 📩), in the chat's language as the page's own
# words in app.js are: each line as (English, Russian). A key ending in "-you" is the line when the person using
# the page did it: Telegram says "You …" / "Вы …" there, and Russian verbs agree with it.
LANGUAGES = ("en", "ru")
LINES: dict[str, tuple[str, str]] = {
    "someone": ("Someone", "Кто-то"),
    "you": ("you", "вас"),
    "added": ("{actor} added {names}", "{actor} добавил(а) {names}"),
    "added-you": ("You added {names}", "Вы добавили {names}"),
    "left": ("{name} left the group", "{name} покинул(а) группу"),
    "left-you": ("You left the group", "Вы покинули группу"),
    "paid": ("{actor} paid {amount} to {bot}", "{actor} заплатил(а) {amount} боту {bot}"),
    "paid-you": ("You paid {amount} to {bot}", "Вы заплатили {amount} боту {bot}"),
    "upgraded": ("The group was upgraded to a supergroup", "Группа преобразована в супергруппу"),
    "created": ("{actor} created the group", "{actor} создал(а) группу"),
    "created-you": ("You created the group", "Вы создали группу"),
    "topic-created": ("{actor} created the topic “{name}”", "{actor} создал(а) тему «{name}»"),
    "topic-created-you": ("You created the topic “{name}”", "Вы создали тему «{name}»"),
    "topic-closed": ("{actor} closed the topic “{name}”", "{actor} закрыл(а) тему «{name}»"),
    "topic-closed-you": ("You closed the topic “{name}”", "Вы закрыли тему «{name}»"),
    "topic-reopened": ("{actor} reopened the topic “{name}”", "{actor} снова открыл(а) тему «{name}»"),
    "topic-reopened-you": ("You reopened the topic “{name}”", "Вы снова открыли тему «{name}»"),
    "topic-renamed": ("{actor} renamed the topic to “{name}”", "{actor} переименовал(а) тему в «{name}»"),
    "topic-renamed-you": ("You renamed the topic to “{name}”", "Вы переименовали тему в «{name}»"),
    "topic-deleted": ("deleted topic", "удалённая тема"),
    "shared": ("{actor} shared the chat “{name}”", "{actor} поделился(-ась) чатом «{name}»"),
    "shared-you": ("You shared the chat “{name}”", "Вы поделились чатом «{name}»"),
    "sms-no-number": ("No active number in this chat yet: rent one first.",
                      "В этом чате пока нет активного номера: сначала арендуйте его."),
    "sms-not-active": ("That number is no longer active in this chat.", "Этот номер в этом чате уже не активен."),
}


def line(language: str, key: str, *, you: bool = False, **values: Any) -> str:
    """One of LINES in ``language`` (English when it has no other), the "-you" form when ``you`` and there is one."""
    pair = LINES[f"{key}-you"] if you and f"{key}-you" in LINES else LINES[key]
    text = pair[LANGUAGES.index(language)] if language in LANGUAGES else pair[0]
    return text.format(**values)


def _link(url: str) -> tuple[str, str] | None:
    if not url.lower().startswith(_SAFE_SCHEMES):
        return None
    return f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">', "</a>"


def render_entities(text: str, entities: Iterable[dict] | None) -> str:
    """Plain text + Telegram entities (UTF-16 offsets) -> safe HTML. Text is always escaped; only the tags above
    are produced; overlapping entities are closed and reopened so the result is always well nested."""
    units = text.encode("utf-16-le")
    n = len(units) // 2

    def piece(start: int, end: int) -> str:
        return units[start * 2:end * 2].decode("utf-16-le", errors="replace")

    spans: list[tuple[int, int, int, tuple[str, str]]] = []  # start, end, order, (open, close)
    for order, e in enumerate(entities or ()):
        try:
            start, length, kind = int(e["offset"]), int(e["length"]), str(e["type"])
        except (KeyError, TypeError, ValueError):
            continue
        start, end = max(0, start), min(n, start + length)
        if end <= start:
            continue
        if kind == "text_link":
            tags = _link(str(e.get("url") or ""))
        elif kind == "url":
            tags = _link(piece(start, end))
        else:
            tags = _TAGS.get(kind)
        if tags:
            spans.append((start, end, order, tags))
    points = sorted({0, n, *(s for s, *_ in spans), *(e for _, e, *_ in spans)})
    out: list[str] = []
    stack: list[tuple[int, int, int, tuple[str, str]]] = []
    for i, pos in enumerate(points):
        ending = [k for k, span in enumerate(stack) if span[1] <= pos]
        if ending:
            lowest = ending[0]
            reopen = [span for span in stack[lowest:] if span[1] > pos]
            for span in reversed(stack[lowest:]):
                out.append(span[3][1])
            del stack[lowest:]
            for span in reopen:
                out.append(span[3][0])
                stack.append(span)
        for span in sorted((s for s in spans if s[0] == pos), key=lambda s: (-s[1], s[2])):
            out.append(span[3][0])
            stack.append(span)
        if i + 1 < len(points):
            out.append(html.escape(piece(pos, points[i + 1]), quote=True))
    for span in reversed(stack):
        out.append(span[3][1])
    return "".join(out)


# ------------------------------------------------------------------------------------------ the playground
@dataclass
class DemoUser:
    id: int
    name: str


class Playground:
    """Seeds the demo chats and answers the page's API on top of a started Stack-like object (``emulator``,
    ``gotsms``, ``getatext``) and the bot's SQLite file."""

    def __init__(self, stack: Any, db_path: Path | str) -> None:
        self.stack = stack
        self.emulator = stack.emulator
        self.db_path = Path(db_path)
        self.me, self.member = DemoUser(*ME), DemoUser(*MEMBER)
        self.group_id, self.group_title = GROUP
        self.forum_id, self.forum_title = FORUM
        self._hidden_upto: dict[int, int] = {}  # chat -> last message id of the seeding (not shown)

    # ------------------------------------------------------------------ seeding
    async def seed(self, credit: str = DEMO_CREDIT, timeout: float = 30.0) -> None:
        """The demo users, the group with the bot in it, and demo money on both chats (the operator's /credit)."""
        emu = self.emulator
        emu.add_user(ADMIN_ID, "Operator")
        emu.add_user(self.me.id, self.me.name)
        emu.add_user(self.member.id, self.member.name, started=False)  # no private chat on the page: never started

        mark = emu.mark()  # the private chat must exist in the bot's storage before it can be credited
        emu.send_message(self.me.id, self.me.id, "/start")
        await emu.wait_for(chat_id=self.me.id, since=mark, timeout=timeout)

        mark = emu.mark()
        emu.create_group(self.group_id, self.group_title, {self.me.id: "creator", self.member.id: "member"},
                         added_by=self.me.id)
        await emu.wait_for(chat_id=self.group_id, since=mark, timeout=timeout)

        mark = emu.mark()  # the forum: the bot an administrator allowed to manage topics
        emu.create_group(self.forum_id, self.forum_title, {self.me.id: "creator", self.member.id: "member"},
                         added_by=self.me.id, forum=True)
        emu.set_bot_rights(self.forum_id, can_manage_topics=True)
        await emu.wait_for(chat_id=self.forum_id, since=mark, timeout=timeout)

        for chat_id in (self.me.id, self.group_id, self.forum_id):
            mark = emu.mark()
            emu.send_message(ADMIN_ID, ADMIN_ID, f"/credit {chat_id} {credit} demo money")
            reply = await emu.wait_for(chat_id=ADMIN_ID, since=mark, timeout=timeout)
            if not await asyncio.to_thread(self.balance, chat_id):
                raise RuntimeError(f"the demo credit of chat {chat_id} failed; the bot answered: {reply.get('text')}")
        # The page opens on an empty private chat with a START button, as Telegram does; the operator's chat opens
        # without the seeding's /credit lines.
        for chat_id in (self.me.id, ADMIN_ID):
            self._hidden_upto[chat_id] = max((m["message_id"] for m in emu.messages(chat_id)), default=0)

    # ------------------------------------------------------------------ reading
    def state(self) -> dict:
        emu = self.emulator
        bot = emu.bot_user
        group = emu.chats.get(self.group_id)
        members = []
        for user in (self.me, self.member):
            status = group.members.get(user.id, "left") if group else "left"
            role = "admin" if status in ("creator", "administrator") else status
            members.append({"id": user.id, "name": user.name, "role": role})
        return {
            "bot": {"id": bot["id"], "name": bot["first_name"], "username": bot["username"]},
            "me": {"id": self.me.id, "name": self.me.name},
            "operator": {"id": ADMIN_ID, "name": "Operator"},
            "chats": [
                {"id": self.me.id, "kind": "private", "title": bot["first_name"], "subtitle": "bot",
                 "users": [{"id": self.me.id, "name": self.me.name, "role": "you"}]},
                {"id": self.group_id, "kind": "group", "title": self.group_title,
                 "subtitle": f"{len(members) + 1} members", "users": members},
                # The forum: Settings → "A topic per number" gives each number its topic (shown on its messages).
                {"id": self.forum_id, "kind": "forum", "title": self.forum_title,
                 "subtitle": f"{len(members) + 1} members · topics", "users": members},
                # The operator's own private chat with the bot: /admin, the panel, auctions and /bid by tapping.
                {"id": ADMIN_ID, "kind": "operator", "title": bot["first_name"], "subtitle": "bot · as the operator",
                 "users": [{"id": ADMIN_ID, "name": "Operator", "role": "operator"}]},
            ],
        }

    def _chat_ids(self) -> list[int]:
        return [self.me.id, self.group_id, ADMIN_ID, self.forum_id]

    def _visible(self, chat_id: int) -> list[dict]:
        hidden = self._hidden_upto.get(chat_id, 0)
        return [m for m in self.emulator.messages(chat_id) if m["message_id"] > hidden]

    def _name(self, user: dict, language: str = "en") -> str:
        return " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p) or line(language, "someone")

    def _color(self, user_id: int) -> str:
        return NAME_COLORS[abs(int(user_id)) % len(NAME_COLORS)]

    def _service_text(self, m: dict, language: str = "en") -> str | None:
        """A service message as Telegram's apps word it, in the chat's language; the page's person is "You"."""
        sender = m.get("from") or {}
        you = sender.get("id") == self.me.id
        say = lambda key, **values: line(language, key, you=you, actor=self._name(sender, language), **values)  # noqa: E731
        if m.get("new_chat_members"):
            names = ", ".join(line(language, "you") if u.get("id") == self.me.id else self._name(u, language)
                              for u in m["new_chat_members"])
            return say("added", names=names)
        if left := m.get("left_chat_member"):
            return line(language, "left", you=left.get("id") == self.me.id, name=self._name(left, language))
        if m.get("successful_payment"):
            p = m["successful_payment"]
            return say("paid", amount=money_text(p["total_amount"], p.get("currency", ""), language),
                       bot=self.emulator.bot_user["first_name"])
        if m.get("migrate_to_chat_id") or m.get("migrate_from_chat_id"):
            return line(language, "upgraded")
        if m.get("group_chat_created"):
            return say("created")
        if created := m.get("forum_topic_created"):
            return say("topic-created", name=created.get("name", ""))
        if m.get("forum_topic_closed") is not None:
            return say("topic-closed", name=self._topic_name(m, language))
        if m.get("forum_topic_reopened") is not None:
            return say("topic-reopened", name=self._topic_name(m, language))
        if m.get("forum_topic_edited") is not None:
            return say("topic-renamed", name=self._topic_name(m, language))
        if shared := m.get("chat_shared"):  # a chat picked with a reply keyboard's request_chat button
            chat = self.emulator.chats.get(shared.get("chat_id"))
            return say("shared", name=shared.get("title") or (chat.title if chat else str(shared.get("chat_id"))))
        return None

    def _topic_name(self, m: dict, language: str = "en") -> str:
        thread = m.get("message_thread_id")
        topic = self.emulator.topics.get((m["chat"]["id"], thread)) if thread else None
        return topic.name if topic else line(language, "topic-deleted") if thread else ""

    def render_message(self, chat_id: int, m: dict, language: str = "en") -> dict:
        sender = m.get("from") or {}
        is_bot = bool(sender.get("is_bot"))
        out = {
            "id": m["message_id"], "date": m.get("date", 0), "edited": bool(m.get("edit_date")),
            "out": sender.get("id") == self.me.id, "bot": is_bot,
            "sender": {"id": sender.get("id"), "name": self._name(sender, language),
                       "color": self._color(sender.get("id", 0))},
            "html": None, "keyboard": [], "service": self._service_text(m, language), "invoice": None, "reply": None,
            "topic": self._topic_name(m, language) if m.get("is_topic_message") else None,
            "thread": m.get("message_thread_id") if m.get("is_topic_message") else None,
        }
        if "text" in m:
            out["html"] = render_entities(m["text"], m.get("entities"))
        elif "caption" in m:
            out["html"] = render_entities(m["caption"], m.get("caption_entities"))
        if doc := m.get("document"):  # a file the bot sent (an operator's report): its name, size and download
            out["document"] = {"name": doc.get("file_name", "file"), "size": doc.get("file_size", 0),
                               "url": f"/api/files/{doc['file_id']}"}
        if inv := m.get("invoice"):
            out["invoice"] = {"title": inv.get("title", ""), "description": inv.get("description", ""),
                              "amount": inv.get("total_amount", 0), "currency": inv.get("currency", ""),
                              "amount_text": money_text(inv.get("total_amount", 0), inv.get("currency", ""))}
        if reply := m.get("reply_to_message"):
            out["reply"] = {"name": self._name(reply.get("from") or {}, language),
                            "text": (reply.get("text") or reply.get("caption") or "")[:120]}
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", []):
            buttons = []
            for b in row:
                if "callback_data" in b:
                    buttons.append({"text": b["text"], "kind": "callback", "data": b["callback_data"]})
                elif b.get("url") and _link(b["url"]):
                    buttons.append({"text": b["text"], "kind": "url", "url": b["url"]})
                elif b.get("pay"):
                    buttons.append({"text": b["text"], "kind": "pay"})
                elif isinstance(b.get("copy_text"), dict):  # Telegram copies the text on tap, no bot call
                    buttons.append({"text": b["text"], "kind": "copy", "copy": str(b["copy_text"].get("text", ""))})
                else:
                    buttons.append({"text": b["text"], "kind": "other"})
            out["keyboard"].append(buttons)
        return out

    def reply_keyboard(self, chat_id: int) -> dict | None:
        """The chat's reply keyboard as the page shows it above the message box (None when the bot sent none or
        removed it): rows of buttons, a plain one sending its text ("text"), one asking for a chat opening the
        picker ("chat", with its request_id), any other kind shown but not usable here ("other")."""
        markup = self.emulator.reply_keyboards.get(chat_id) or {}
        rows = []
        for row in markup.get("keyboard") or []:
            buttons = []
            for b in row:
                b = {"text": b} if isinstance(b, str) else b if isinstance(b, dict) else {}
                if isinstance(b.get("request_chat"), dict):
                    buttons.append({"text": str(b.get("text", "")), "kind": "chat",
                                    "request_id": int(b["request_chat"].get("request_id", 0))})
                elif set(b) <= {"text", "style", "icon_custom_emoji_id"}:
                    buttons.append({"text": str(b.get("text", "")), "kind": "text"})
                else:  # contact, location, users, poll, web app: not in the playground
                    buttons.append({"text": str(b.get("text", "")), "kind": "other"})
            if buttons:
                rows.append(buttons)
        if not rows:
            return None
        return {"rows": rows, "placeholder": str(markup.get("input_field_placeholder") or "")}

    def snapshot(self, chat_id: int) -> dict:
        if chat_id not in self._chat_ids():
            raise web.HTTPNotFound(text=json.dumps({"ok": False, "error": "unknown chat"}),
                                   content_type="application/json")
        language = self.language(chat_id)
        messages = [self.render_message(chat_id, m, language) for m in self._visible(chat_id)]
        last_ids = {str(c): max((m["message_id"] for m in self._visible(c)), default=0) for c in self._chat_ids()}
        body = {"chat_id": chat_id, "messages": messages, "last_ids": last_ids, "language": language,
                "reply_keyboard": self.reply_keyboard(chat_id)}
        version = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
        return {**body, "version": version}

    # ------------------------------------------------------------------ acting
    def _check_user(self, chat_id: int, user_id: int) -> None:
        allowed = ([self.me.id] if chat_id == self.me.id else [ADMIN_ID] if chat_id == ADMIN_ID
                   else [self.me.id, self.member.id])
        if chat_id not in self._chat_ids() or user_id not in allowed:
            raise ValueError(f"user {user_id} cannot act in chat {chat_id}")

    def send(self, chat_id: int, user_id: int, text: str) -> dict:
        self._check_user(chat_id, user_id)
        text = text.strip()
        if not text:
            raise ValueError("empty message")
        msg = self.emulator.send_message(chat_id, user_id, text[:4096])
        return {"message_id": msg["message_id"]}

    def reply_button(self, chat_id: int, user_id: int, text: str) -> dict:
        """A plain button of the chat's reply keyboard tapped: its text sent (a one-time keyboard hides)."""
        self._check_user(chat_id, user_id)
        msg = self.emulator.press_reply_button(chat_id, user_id, text)
        return {"message_id": msg["message_id"]}

    def _check_private(self, chat_id: int, user_id: int) -> None:
        # Telegram's chat picker (a reply button's request_chat) is in a person's private chat with the bot only.
        self._check_user(chat_id, user_id)
        if chat_id != user_id:
            raise ValueError(f"chat {chat_id} is not the private chat of user {user_id}")

    def shareable_chats(self, chat_id: int, user_id: int, request_id: int) -> dict:
        """The chats the picker of the reply button ``request_id`` lists (those the button's criteria allow)."""
        self._check_private(chat_id, user_id)
        return {"chats": [{"id": c["id"], "title": c["title"] or str(c["id"])}
                          for c in self.emulator.shareable_chats(user_id, request_id)]}

    def share_chat(self, chat_id: int, user_id: int, request_id: int, shared_chat_id: int) -> dict:
        """The person picked ``shared_chat_id`` in that picker: the bot receives chat_shared."""
        self._check_private(chat_id, user_id)
        msg = self.emulator.share_chat(user_id, request_id, shared_chat_id)
        return {"message_id": msg["message_id"]}

    async def press(self, chat_id: int, user_id: int, message_id: int, callback_data: str) -> dict:
        self._check_user(chat_id, user_id)
        emu = self.emulator
        qid = emu.press_button(chat_id, user_id, message_id, callback_data=callback_data)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ANSWER_WAIT
        while qid not in emu.callback_answers and loop.time() < deadline:
            await asyncio.sleep(0.05)
        answer = emu.callback_answers.get(qid)
        if answer is None:
            return {"answered": False, "text": None, "show_alert": False}
        return {"answered": True, "text": answer.get("text"), "show_alert": bool(answer.get("show_alert")),
                "url": answer.get("url")}

    async def pay(self, chat_id: int, user_id: int, message_id: int) -> dict:
        self._check_user(chat_id, user_id)
        result = await self.emulator.pay_invoice(chat_id, user_id, message_id, timeout=10.0)
        return {"status": result["status"], "error_message": result.get("error_message")}

    def _query(self, sql: str, params: tuple, *, every: bool = False) -> Any:
        """One row (or, with ``every``, all of them), read-only from the bot's SQLite file (the bot owns it; we
        never write)."""
        if not self.db_path.exists():
            return [] if every else None
        conn = sqlite3.connect(f"{self.db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            conn.row_factory = sqlite3.Row
            cursor = conn.execute(sql, params)
            rows = cursor.fetchall() if every else [cursor.fetchone()]
        finally:
            conn.close()
        if every:
            return [dict(row) for row in rows]
        return dict(rows[0]) if rows[0] else None

    def balance(self, chat_id: int) -> int:
        """The chat's balance in cents (0 when the bot does not know the chat)."""
        row = self._query("SELECT balance FROM chats WHERE id = ?", (chat_id,))
        return row["balance"] if row else 0

    def language(self, chat_id: int) -> str:
        """The bot's language for the chat: the page's own words follow it."""
        row = self._query("SELECT language FROM chats WHERE id = ?", (chat_id,))
        return row["language"] if row and row["language"] in ("en", "ru") else "en"

    def active_rentals(self, chat_id: int) -> list[dict]:
        """The chat's active rentals, newest first: id, provider, provider_rental_id, service_name, phone."""
        return self._query(
            "SELECT id, provider, provider_rental_id, service_name, phone FROM rentals"
            " WHERE chat_id = ? AND status = 'active' AND provider_rental_id IS NOT NULL"
            " ORDER BY id DESC", (chat_id,), every=True)

    def latest_active_rental(self, chat_id: int) -> dict | None:
        """The chat's newest active rental (as active_rentals gives it)."""
        return next(iter(self.active_rentals(chat_id)), None)

    async def make_sms_arrive(self, chat_id: int, rental_id: int | None = None) -> dict:
        """A code SMS for one of the chat's active numbers: the one asked for (``rental_id``, which must be an
        active rental of this chat), else its only one; with more and none asked for, nothing is sent and the
        answer lists them (``choose``) for the person to pick."""
        if chat_id not in self._chat_ids():
            raise ValueError(f"unknown chat {chat_id}")
        language = await asyncio.to_thread(self.language, chat_id)
        active = await asyncio.to_thread(self.active_rentals, chat_id)
        if rental_id is not None:
            active = [r for r in active if r["id"] == rental_id]
            if not active:
                return {"ok": False, "error": line(language, "sms-not-active")}
        if not active:
            return {"ok": False, "error": line(language, "sms-no-number")}
        if len(active) > 1:
            return {"ok": False, "choose": [{"rental_id": r["id"], "phone": phones.display(r["phone"] or ""),
                                             "service": r["service_name"] or ""} for r in active]}
        [rental] = active
        code = str(random.randint(10000, 999999))
        service = rental["service_name"] or "Your"
        body = f"{service} code: {code}. Do not give this code to anyone, even if they say they are from {service}!"
        if rental["provider"] == "gotsms":
            self.stack.gotsms.inject_sms(rental["provider_rental_id"], body, code)
        elif rental["provider"] == "getatext":
            await self.stack.getatext.inject_code(int(rental["provider_rental_id"]), code, body)
        else:
            return {"ok": False, "error": f"unknown provider {rental['provider']}"}
        return {"ok": True, "phone": rental["phone"], "service": rental["service_name"],
                "provider": rental["provider"], "code": code}

    def set_codes_arrive(self, arrive: bool) -> dict:
        """New rents at both sandbox providers get their codes (their usual delay), or none at all."""
        for fake in (self.stack.gotsms, self.stack.getatext):
            fake.set_delivery("*", None if arrive else "never")
        return {"ok": True, "arrive": arrive}


# ------------------------------------------------------------------------------------------ HTTP
def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


async def _body(request: web.Request) -> dict:
    # JSON only: a cross-site form cannot post here without a CORS preflight, which this server never grants.
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="JSON only")
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="bad JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="bad JSON")
    return data


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def _host_name(value: str) -> str:
    """'127.0.0.1:8080' -> '127.0.0.1'; '[::1]:8080' -> '[::1]'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@web.middleware
async def same_origin_only(request: web.Request, handler):
    """DNS rebinding: a page on another site that resolves its own name to 127.0.0.1 reaches this server with
    its own Host. Only loopback Host values are served, and a request that names an Origin must be this one."""
    host = request.headers.get("Host", "")
    if _host_name(host) not in LOOPBACK_HOSTS:
        raise web.HTTPMisdirectedRequest(text="the playground answers on 127.0.0.1 or localhost only")
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() not in (f"http://{host.lower()}",):
        raise web.HTTPForbidden(text="cross-origin requests are not served")
    return await handler(request)


def create_app(pg: Playground) -> web.Application:
    routes = web.RouteTableDef()

    def guarded(fn):
        async def handler(request: web.Request) -> web.Response:
            try:
                return _json(await fn(request))
            except web.HTTPException:
                raise
            except (KeyError, TypeError, ValueError) as err:
                return _json({"ok": False, "error": f"{err}"}, 400)
            except Exception as err:  # the emulator's EmulatorError and friends: shown to the page, not a 500
                log.debug("playground API %s failed: %s", request.path, err)
                return _json({"ok": False, "error": f"{err}"}, 400)
        return handler

    @routes.get("/")
    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @routes.get("/api/state")
    @guarded
    async def state(request: web.Request) -> dict:
        return pg.state()

    @routes.get("/api/chats/{chat_id}/messages")
    @guarded
    async def messages(request: web.Request) -> dict:
        chat_id = int(request.match_info["chat_id"])
        after = request.query.get("after", "")
        wait = min(max(float(request.query.get("wait", 0) or 0), 0.0), LONG_POLL_MAX)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        snap = pg.snapshot(chat_id)
        while after and snap["version"] == after and loop.time() < deadline:
            await asyncio.sleep(0.2)
            snap = pg.snapshot(chat_id)
        return snap

    @routes.post("/api/send")
    @guarded
    async def send(request: web.Request) -> dict:
        b = await _body(request)
        return pg.send(int(b["chat_id"]), int(b["user_id"]), str(b["text"]))

    @routes.post("/api/reply_button")
    @guarded
    async def reply_button(request: web.Request) -> dict:
        b = await _body(request)
        return pg.reply_button(int(b["chat_id"]), int(b["user_id"]), str(b["text"]))

    @routes.post("/api/share/chats")
    @guarded
    async def shareable(request: web.Request) -> dict:
        b = await _body(request)
        return pg.shareable_chats(int(b["chat_id"]), int(b["user_id"]), int(b["request_id"]))

    @routes.post("/api/share")
    @guarded
    async def share(request: web.Request) -> dict:
        b = await _body(request)
        return pg.share_chat(int(b["chat_id"]), int(b["user_id"]), int(b["request_id"]), int(b["shared_chat_id"]))

    @routes.post("/api/press")
    @guarded
    async def press(request: web.Request) -> dict:
        b = await _body(request)
        return await pg.press(int(b["chat_id"]), int(b["user_id"]), int(b["message_id"]), str(b["callback_data"]))

    @routes.post("/api/pay")
    @guarded
    async def pay(request: web.Request) -> dict:
        b = await _body(request)
        return await pg.pay(int(b["chat_id"]), int(b["user_id"]), int(b["message_id"]))

    @routes.post("/api/sms")
    @guarded
    async def sms(request: web.Request) -> dict:
        b = await _body(request)
        rental_id = b.get("rental_id")
        if rental_id is not None and (isinstance(rental_id, bool) or not isinstance(rental_id, int)):
            raise ValueError("rental_id is a whole number")
        return await pg.make_sms_arrive(int(b["chat_id"]), rental_id)

    @routes.post("/api/codes")
    @guarded
    async def codes(request: web.Request) -> dict:
        arrive = (await _body(request)).get("arrive", True)
        if not isinstance(arrive, bool):
            raise ValueError("arrive is true or false")
        return pg.set_codes_arrive(arrive)

    @routes.get("/api/files/{file_id}")
    async def file(request: web.Request) -> web.Response:
        """A document the bot sent, downloaded as the app would save it."""
        found = pg.emulator.files.get(request.match_info["file_id"])
        if found is None:
            raise web.HTTPNotFound()
        name, mime, data = found
        return web.Response(body=data, content_type=mime or "application/octet-stream", headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{urllib.parse.quote(name)}"})

    @routes.get("/healthz")
    async def healthz(request: web.Request) -> web.Response:
        """The answer python -m bot.healthcheck reads (the image's HEALTHCHECK works for the playground too)."""
        running = bool(getattr(pg.stack, "bot_running", True))
        return web.json_response({"ok": running, "reason": "ok" if running else "the sandbox bot is not running"},
                                 status=200 if running else 503)

    app = web.Application(middlewares=[same_origin_only])
    app.add_routes(routes)
    app.router.add_static("/static/", STATIC, append_version=False)

    @web.middleware
    async def headers(request: web.Request, handler):
        response = await handler(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
        return response

    app.middlewares.append(headers)
    return app


async def serve(pg: Playground, host: str = "127.0.0.1", port: int = 8080) -> tuple[web.AppRunner, str]:
    """Start the page's server; returns (runner, url). ``port=0`` picks a free port."""
    runner = web.AppRunner(create_app(pg), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    actual = runner.addresses[0][1]
    return runner, f"http://{host}:{actual}"
