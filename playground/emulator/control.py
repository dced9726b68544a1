"""The control API, what a test or the playground page does and reads: a user writes (send_message) or taps an
inline button (press_button); the chat as the user sees it (messages, bot_messages, last_bot_message), every bot
action (history), callbacks still unanswered; waiting for the bot (wait_for from a mark(), wait_for_call).

``_control_routes`` mirrors these and the other areas' control methods (users and groups, pay, block, resend,
webhook, faults, flood limits, state) as JSON endpoints under ``/_control/``.
"""
from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .formatting import detect_entities
from .models import EmulatorError
from .server import json_response


class ControlMixin:
    # -------------------------------------------------------------------------------------------- control: acting
    def send_message(self, chat_id: int, user_id: int, text: str, *, reply_to_message_id: int | None = None,
                     message_thread_id: int | None = None) -> dict:
        """The user writes ``text`` in the chat; returns the Message dict. Commands get bot_command entities.
        In groups with privacy mode (the default) a non-admin bot only receives commands, replies to it and
        mentions, exactly like Telegram; other messages are stored but no update is emitted."""
        chat, user = self._chat(chat_id), self._user(user_id)
        if chat.migrated_to is not None:
            raise EmulatorError(f"chat {chat_id} was migrated to {chat.migrated_to}")
        if chat.type == "private":
            if chat.id != user.id:
                raise EmulatorError("in a private chat only its user can write")
            self.unblock_bot(user.id)  # writing to a blocked bot restarts it, as the apps do
            user.started = True
        elif chat.bot_status in ("left", "kicked"):
            raise EmulatorError(f"the bot is not a member of chat {chat_id}")
        reply = None
        if reply_to_message_id is not None:
            reply = copy.deepcopy(self._msgs.get(chat.id, {}).get(int(reply_to_message_id)))
            if reply is None:
                raise EmulatorError(f"no message {reply_to_message_id} in chat {chat_id}")
            reply.pop("reply_to_message", None)
        thread = None
        if message_thread_id is not None:
            topic = self.topics.get((chat.id, int(message_thread_id)))
            if topic is None or topic.closed:
                raise EmulatorError(f"no open topic {message_thread_id} in chat {chat_id}")
            thread = topic.thread_id
        msg = self._new_message(chat, user.to_dict(), text=text, entities=detect_entities(text, []),
                                reply_to_message=reply, **self._topic_fields(chat, thread))
        if self._bot_sees(chat, msg):
            self._push("message", msg)
        return copy.deepcopy(msg)

    def press_reply_button(self, chat_id: int, user_id: int, text: str) -> dict:
        """The user taps a plain text button of the chat's reply keyboard: its text is sent as their message, and
        a one-time keyboard hides, as the apps do. Raises EmulatorError when the keyboard has no such button."""
        keyboard = self.reply_keyboards.get(int(chat_id)) or {}
        plain = {"text", "style", "icon_custom_emoji_id"}  # a text button: no request_chat or other action
        labels = [b if isinstance(b, str) else b.get("text") for row in keyboard.get("keyboard", []) for b in row
                  if isinstance(b, str) or (isinstance(b, dict) and set(b) <= plain)]
        if text not in labels:
            raise EmulatorError(f"no reply button {text!r} in chat {chat_id}; text buttons: {labels}")
        msg = self.send_message(chat_id, user_id, text)
        if keyboard.get("one_time_keyboard"):
            self.reply_keyboards.pop(int(chat_id), None)
        return msg

    def shareable_chats(self, user_id: int, request_id: int) -> list[dict]:
        """The chats Telegram's picker would list for the private chat's reply button ``request_id``: groups
        matching the button's criteria (the user an admin when it asks rights of them, the bot a member when it
        says bot_is_member); no channels here. Raises EmulatorError when the keyboard has no such button."""
        asked = self._chat_request(user_id, request_id)
        found = []
        for chat in self.chats.values():
            if chat.type not in ("group", "supergroup") or chat.migrated_to is not None:
                continue
            if asked.get("chat_is_channel") or chat.members.get(int(user_id)) in (None, "left", "kicked"):
                continue
            if asked.get("user_administrator_rights") is not None and \
                    chat.members.get(int(user_id)) not in ("creator", "administrator"):
                continue
            if asked.get("bot_is_member") and chat.bot_status in ("left", "kicked"):
                continue
            if asked.get("chat_is_forum") is not None and bool(asked["chat_is_forum"]) != chat.is_forum:
                continue
            found.append({"id": chat.id, "title": chat.title})
        return found

    def share_chat(self, user_id: int, request_id: int, chat_id: int) -> dict:
        """The user picks ``chat_id`` with the reply button ``request_id`` of their private chat: the message
        with ``chat_shared`` Telegram sends the bot (the title only when the button asked for it)."""
        asked = self._chat_request(user_id, request_id)
        if int(chat_id) not in {c["id"] for c in self.shareable_chats(user_id, request_id)}:
            raise EmulatorError(f"chat {chat_id} is not one the picker offers for request {request_id}")
        chat, user = self._chat(user_id), self._user(user_id)
        shared: dict[str, Any] = {"request_id": int(request_id), "chat_id": int(chat_id)}
        if asked.get("request_title"):
            shared["title"] = self._chat(chat_id).title
        msg = self._new_message(chat, user.to_dict(), chat_shared=shared)
        if self.reply_keyboards.get(chat.id, {}).get("one_time_keyboard"):
            self.reply_keyboards.pop(chat.id, None)
        self._push("message", msg)
        return copy.deepcopy(msg)

    def _chat_request(self, user_id: int, request_id: int) -> dict:
        keyboard = self.reply_keyboards.get(int(user_id)) or {}
        for row in keyboard.get("keyboard", []):
            for button in row:
                asked = button.get("request_chat") if isinstance(button, dict) else None
                if asked and int(asked.get("request_id", -1)) == int(request_id):
                    return asked
        raise EmulatorError(f"no reply button request_chat {request_id} in the private chat of {user_id}")

    def press_button(self, chat_id: int, user_id: int, message_id: int, text: str | None = None,
                     callback_data: str | None = None) -> str:
        """Press an inline callback button (matched by label or callback_data) on a bot message; emits a
        callback_query update and returns its id. Raises EmulatorError when there is no such button."""
        chat, user = self._chat(chat_id), self._user(user_id)
        msg = self._msgs.get(chat.id, {}).get(int(message_id))
        if msg is None:
            raise EmulatorError(f"no message {message_id} in chat {chat_id}")
        buttons = [b for row in (msg.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        match = [b for b in buttons if (text is None or b["text"] == text)
                 and (callback_data is None or b.get("callback_data") == callback_data)]
        if not match or (text is None and callback_data is None):
            labels = [(b["text"], b.get("callback_data")) for b in buttons]
            raise EmulatorError(f"no button text={text!r} callback_data={callback_data!r} on message {message_id} "
                                f"in chat {chat_id}; buttons: {labels}")
        if "callback_data" not in match[0]:
            raise EmulatorError(f"button {match[0]['text']!r} is not a callback button: {match[0]}")
        qid = str(next(self._ids))
        query = {"id": qid, "from": user.to_dict(), "message": copy.deepcopy(msg),
                 "chat_instance": str(abs(chat.id) * 7919 % 10 ** 18), "data": match[0]["callback_data"]}
        self._callbacks[qid] = query
        self._push("callback_query", query)
        return qid

    # -------------------------------------------------------------------------------------------- control: reading
    def messages(self, chat_id: int) -> list[dict]:
        """Current messages of the chat (user and bot ones, after edits; deleted ones are gone)."""
        return copy.deepcopy(list(self._msgs.get(int(chat_id), {}).values()))

    def bot_messages(self, chat_id: int) -> list[dict]:
        return [m for m in self.messages(chat_id) if m["from"]["id"] == self.bot_user["id"]]

    def last_bot_message(self, chat_id: int) -> dict | None:
        found = self.bot_messages(chat_id)
        return found[-1] if found else None

    def history(self, chat_id: int | None = None) -> list[dict]:
        """Every bot send/edit/delete call, in order: {action, method, chat_id, message_id, params, message}."""
        return [copy.deepcopy(e) for e in self._events if chat_id is None or e["chat_id"] == int(chat_id)]

    def unanswered_callbacks(self) -> list[str]:
        return [qid for qid in self._callbacks if qid not in self.callback_answers]

    def mark(self) -> int:
        """A cursor for ``wait_for(since=...)``: only bot actions after this point are considered."""
        return len(self._events)

    async def wait_for(self, predicate: Callable[[dict], bool] | None = None, *, chat_id: int | None = None,
                       text: str | None = None, timeout: float = 5.0, since: int | None = None) -> dict:
        """Wait until the bot sent or edited a message matching all given filters (chat, substring of the text /
        invoice title, predicate on the Message dict); returns that message. Scans from ``since`` (default: the
        beginning), so a reply that arrived before the call still counts. Raises TimeoutError."""
        loop = asyncio.get_running_loop()
        pos, deadline = since or 0, loop.time() + timeout
        while True:
            for event in self._events[pos:]:
                m = event["message"]
                if m is None or (chat_id is not None and event["chat_id"] != int(chat_id)):
                    continue
                haystack = m.get("text") or m.get("caption") or " ".join(
                    str(v) for k, v in m.get("invoice", {}).items() if k in ("title", "description"))
                if (text is None or text in haystack) and (predicate is None or predicate(m)):
                    return copy.deepcopy(m)
            pos = len(self._events)
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = [(e["action"], e["chat_id"], (e["message"] or {}).get("text")) for e in self._events[-5:]]
                raise TimeoutError(f"bot sent no message matching chat_id={chat_id} text={text!r} within "
                                   f"{timeout}s; last bot actions: {recent}")
            try:
                await asyncio.wait_for(self._activity.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_for_call(self, method: str, timeout: float = 5.0, count: int = 1) -> dict:
        """Wait until the bot made at least ``count`` calls of ``method``; returns the last one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.calls_to(method)) < count:
            if loop.time() > deadline:
                raise TimeoutError(f"the bot did not call {method} {count}x within {timeout}s")
            await asyncio.sleep(0.01)
        return self.calls_to(method)[-1]

    # -------------------------------------------------------------------------------------------- HTTP control
    def _control_routes(self) -> list[tuple[str, str, Callable]]:
        def ctl(fn: Callable[[dict, web.Request], Any]) -> Callable:
            async def handler(request: web.Request) -> web.Response:
                try:
                    body = await request.json() if request.can_read_body else {}
                    result = fn(body or {}, request)
                    if asyncio.iscoroutine(result):
                        result = await result
                except (EmulatorError, KeyError, TypeError, ValueError) as e:
                    return json_response(400, {"ok": False, "error": f"{type(e).__name__}: {e}"})
                except TimeoutError as e:
                    return json_response(408, {"ok": False, "error": str(e)})
                return json_response(200, {"ok": True, "result": result})
            return handler

        def cid(request: web.Request) -> int:
            return int(request.match_info["chat_id"])

        return [
            ("POST", "users", ctl(lambda b, r: self.add_user(
                b["user_id"], b["first_name"], b.get("language_code", "en"), b.get("username"),
                last_name=b.get("last_name"), started=b.get("started", True)))),
            ("POST", "groups", ctl(lambda b, r: self.create_group(
                b["chat_id"], b["title"], {int(k): v for k, v in (b.get("members") or {}).items()},
                b.get("supergroup", False), bot_status=b.get("bot_status", "member"), forum=b.get("forum", False)))),
            ("POST", "groups/{chat_id}/remove_bot", ctl(lambda b, r: self.remove_bot_from_group(
                cid(r), status=b.get("status", "kicked"), by_user_id=b.get("by_user_id")))),
            ("POST", "groups/{chat_id}/add_bot", ctl(lambda b, r: self.add_bot_to_group(
                cid(r), status=b.get("status", "member"), by_user_id=b.get("by_user_id")))),
            ("POST", "groups/{chat_id}/migrate", ctl(lambda b, r: {
                "new_chat_id": self.migrate_group_to_supergroup(cid(r), by_user_id=b.get("by_user_id"))})),
            ("POST", "groups/{chat_id}/members", ctl(lambda b, r: self.set_member_status(
                cid(r), b["user_id"], b["status"]))),
            ("POST", "send", ctl(lambda b, r: self.send_message(
                b["chat_id"], b["user_id"], b["text"], reply_to_message_id=b.get("reply_to_message_id"),
                message_thread_id=b.get("message_thread_id")))),
            ("POST", "press", ctl(lambda b, r: {"callback_query_id": self.press_button(
                b["chat_id"], b["user_id"], b["message_id"], b.get("text"), b.get("callback_data"))})),
            ("POST", "pay", ctl(lambda b, r: self.pay_invoice(
                b["chat_id"], b["user_id"], b["message_id"], timeout=float(b.get("timeout", 5.0))))),
            ("POST", "block", ctl(lambda b, r: self.block_bot(b["user_id"]) if b.get("blocked", True)
                                  else self.unblock_bot(b["user_id"]))),
            ("POST", "resend", ctl(lambda b, r: {"update_id": self.resend_update(b["update_id"])})),
            ("POST", "webhook", ctl(lambda b, r: self.set_webhook(b.get("url", "https://old-deployment.example/hook"))
                                    or {"url": self.webhook_url})),
            ("POST", "fail", ctl(lambda b, r: self.fail_next(b["method"], int(b.get("status", 500)),
                                                             b.get("description"), int(b.get("times", 1))))),
            ("POST", "flood", ctl(lambda b, r: self.set_flood_limits(b["enabled"]) or
                                  {"enabled": self.flood_limits, "count_429": self.flood_429_count})),
            ("POST", "wait", ctl(lambda b, r: self.wait_for(
                chat_id=b.get("chat_id"), text=b.get("text"), timeout=float(b.get("timeout", 5.0)),
                since=b.get("since")))),
            *self._topic_routes(ctl, cid),
            ("GET", "chats/{chat_id}/messages", ctl(lambda b, r: self.messages(cid(r)))),
            ("GET", "chats/{chat_id}/history", ctl(lambda b, r: self.history(cid(r)))),
            ("GET", "calls", ctl(lambda b, r: self.calls_to(r.query["method"]) if "method" in r.query
                                 else self.calls)),
            ("GET", "callback_answers", ctl(lambda b, r: self.callback_answers)),
            ("GET", "state", ctl(lambda b, r: {
                "base_url": self.base_url, "token": self.token, "bot": self.bot_user,
                "users": [u.to_dict() for u in self.users.values()],
                "chats": [{**c.to_dict(), "bot_status": c.bot_status, "members": c.members,
                           "migrated_to": c.migrated_to} for c in self.chats.values()],
                "commands": self.commands, "pending_updates": len(self._pending), "webhook_url": self.webhook_url,
                "flood_limits": self.flood_limits, "count_429": self.flood_429_count,
                "unknown_methods": self.unknown_methods})),
        ]
