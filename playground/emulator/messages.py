"""Messages in chats and what the bot does to them: sendMessage (text and entities from formatting.py),
editMessageText, editMessageReplyMarkup, deleteMessage(s), sendChatAction; replies; reply markup (inline
keyboards validated and attached to the message, reply keyboards remembered per chat); answers to callback
queries; Telegram's flood limits on sends and edits (429 with retry_after, when enabled). Every bot send, edit
and delete is recorded in order: control.py's history() and wait_for() read that record.
"""
from __future__ import annotations

import asyncio
import copy
import math
import time
from collections import OrderedDict, deque
from typing import Any

from .formatting import render_text
from .models import QUERY_INVALID, ApiError, EmuChat, bool_param, int_param

NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are exactly "
                "the same as a previous content and reply markup of the message")


class MessagesMixin:
    def _init_messages(self) -> None:
        self.callback_answers: dict[str, dict] = {}
        self.files: OrderedDict[str, tuple[str, str, bytes]] = OrderedDict()  # file_id -> (name, mime, bytes)
        self.reply_keyboards: dict[int, dict] = {}  # chat_id -> last reply keyboard / remove / force_reply markup
        self.flood_429_count = 0
        self._msgs: dict[int, dict[int, dict]] = {}
        self._next_mid: dict[int, int] = {}
        self._events: list[dict] = []           # bot send/edit/delete actions, all chats, in order
        self._activity = asyncio.Event()        # set (and replaced) at each bot action: wakes wait_for
        self._callbacks: dict[str, dict] = {}   # callback_query_id -> query
        self._flood_chat: dict[int, deque] = {}
        self._flood_global: deque = deque()
        self._flood_private: dict[int, tuple[float, float]] = {}  # chat -> (bucket level, when it was measured)

    def _new_message(self, chat: EmuChat, sender: dict, **fields: Any) -> dict:
        mid = self._next_mid.get(chat.id, 1)
        self._next_mid[chat.id] = mid + 1
        msg = {"message_id": mid, "from": sender, "chat": chat.to_dict(), "date": int(time.time())}
        msg.update({k: v for k, v in fields.items() if v is not None and v != []})
        self._msgs.setdefault(chat.id, {})[mid] = msg
        return msg

    def _record(self, action: str, method: str, chat_id: int, message_id: int, params: dict,
                message: dict | None) -> None:
        self._events.append({"action": action, "method": method, "chat_id": chat_id, "message_id": message_id,
                             "params": params, "message": copy.deepcopy(message), "time": time.time()})
        self._activity.set()
        self._activity = asyncio.Event()

    def _reply_to(self, chat: EmuChat, p: dict) -> dict | None:
        rp = p.get("reply_parameters") if isinstance(p.get("reply_parameters"), dict) else {}
        mid = rp.get("message_id", p.get("reply_to_message_id"))
        if mid in (None, ""):
            return None
        target = self._msgs.get(chat.id, {}).get(int(mid))
        if target is None:
            if rp.get("allow_sending_without_reply") or bool_param(p, "allow_sending_without_reply"):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return {k: v for k, v in target.items() if k != "reply_to_message"}

    def _bot_message(self, chat: EmuChat, mid: int, missing: str) -> dict:
        msg = self._msgs.get(chat.id, {}).get(mid)
        if msg is None:
            raise ApiError(400, f"Bad Request: {missing}")
        return msg

    def _markup(self, chat: EmuChat, p: dict) -> dict | None:
        """Validate reply_markup; return the inline keyboard to attach to the message (reply keyboards are
        remembered per chat, as Telegram does not echo them in Message objects)."""
        rm = p.get("reply_markup")
        if not isinstance(rm, dict):
            return None
        if "inline_keyboard" not in rm:
            asks_chat = any(isinstance(b, dict) and "request_chat" in b for row in rm.get("keyboard", []) for b in row)
            if asks_chat and chat.type != "private":  # Telegram: request_chat buttons are for private chats only
                raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
            self.reply_keyboards[chat.id] = rm
            return None
        for row in rm["inline_keyboard"]:
            for button in row:
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                if "callback_data" in button and not 1 <= len(str(button["callback_data"]).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                copy = button.get("copy_text")
                if copy is not None and not (isinstance(copy, dict) and 1 <= len(str(copy.get("text", ""))) <= 256):
                    raise ApiError(400, "Bad Request: COPY_TEXT_INVALID")
                if len(button) < 2:
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        return rm

    # Telegram's limits as its Bot FAQ and the Bot API team describe them: about 30 new messages a second per bot;
    # in a private chat about one a second, short bursts allowed (here: a bucket of PRIVATE_BURST draining one a
    # second); in a group 20 a minute. Edits count against the same per-chat limits as sends, not the bot's 30/s.
    PRIVATE_BURST = 3

    def _flood_check(self, chat: EmuChat, edit: bool = False) -> None:
        if not self.flood_limits:
            return
        now, g = self._clock(), self._flood_global
        while g and now - g[0] >= 1.0:
            g.popleft()
        retry = 1 if not edit and len(g) >= 30 else 0
        if chat.type == "private":
            level, since = self._flood_private.get(chat.id, (0.0, now))
            level = max(0.0, level - (now - since))
            if not retry and level + 1 > self.PRIVATE_BURST:
                retry = max(1, math.ceil(level + 1 - self.PRIVATE_BURST))
        else:
            q = self._flood_chat.setdefault(chat.id, deque())
            while q and now - q[0] >= 60.0:
                q.popleft()
            if not retry and len(q) >= 20:
                retry = max(1, math.ceil(60.0 - (now - q[0])))
        if retry:
            self.flood_429_count += 1
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        if chat.type == "private":
            self._flood_private[chat.id] = (level + 1, now)
        else:
            q.append(now)
        if not edit:
            g.append(now)

    def set_flood_limits(self, enabled: bool) -> None:
        self.flood_limits = bool(enabled)
        self._flood_chat.clear()
        self._flood_private.clear()
        self._flood_global.clear()

    # -------------------------------------------------------------------------------------------- Bot API methods
    def _api_sendchataction(self, p: dict) -> bool:
        self._target(p)
        return True

    def _api_sendmessage(self, p: dict) -> dict:
        chat = self._target(p)
        text, entities = render_text(p.get("text"), p.get("parse_mode"), p.get("entities"))
        markup, reply_to = self._markup(chat, p), self._reply_to(chat, p)
        thread = self._thread(chat, p)
        self._flood_check(chat)
        lpo = p.get("link_preview_options")
        if bool_param(p, "disable_web_page_preview"):
            lpo = {**(lpo or {}), "is_disabled": True}
        msg = self._new_message(chat, self.bot_user, text=text, entities=entities, reply_markup=markup,
                                reply_to_message=reply_to, link_preview_options=lpo,
                                **self._topic_fields(chat, thread))
        self._record("send", "sendMessage", chat.id, msg["message_id"], p, msg)
        return copy.deepcopy(msg)

    FILES_KEPT = 200  # uploads kept for the page to download (the oldest go first)

    def _api_senddocument(self, p: dict) -> dict:
        """A file as Telegram's sendDocument takes it: uploaded (multipart) or an earlier file_id; the caption
        parsed like a message's text. The bytes are kept (bounded) so the page can offer the download."""
        chat = self._target(p)
        document = p.get("document")
        if isinstance(document, str) and document.startswith("attach://"):  # the upload is in its own part
            document = p.get(document.removeprefix("attach://"))
        if hasattr(document, "data"):  # an upload
            if len(document.data) > 50 * 1024 * 1024:
                raise ApiError(413, "Request Entity Too Large")
            file_id = f"doc{next(self._ids)}"
            self.files[file_id] = (document.filename, document.content_type, document.data)
            while len(self.files) > self.FILES_KEPT:
                self.files.popitem(last=False)
        elif isinstance(document, str) and document in self.files:
            file_id = document
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified" if document
                           else "Bad Request: there is no document in the request")
        name, mime, data = self.files[file_id]
        caption, entities = (render_text(p["caption"], p.get("parse_mode"), p.get("caption_entities"))
                             if p.get("caption") else ("", []))
        markup, reply_to = self._markup(chat, p), self._reply_to(chat, p)
        thread = self._thread(chat, p)
        self._flood_check(chat)
        doc = {"file_id": file_id, "file_unique_id": file_id, "file_name": name, "mime_type": mime,
               "file_size": len(data)}
        msg = self._new_message(chat, self.bot_user, document=doc, caption=caption or None,
                                caption_entities=entities if caption else None, reply_markup=markup,
                                reply_to_message=reply_to, **self._topic_fields(chat, thread))
        self._record("send", "sendDocument", chat.id, msg["message_id"], p, msg)
        return copy.deepcopy(msg)

    def _editable(self, p: dict) -> tuple:
        """(chat, message) for an edit call: a message the bot sent in a chat it may write to, as Telegram checks."""
        if p.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._target(p)
        msg = self._bot_message(chat, int_param(p, "message_id"), "message to edit not found")
        if msg["from"]["id"] != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, msg

    def _api_editmessagetext(self, p: dict) -> dict:
        chat, msg = self._editable(p)
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = render_text(p.get("text"), p.get("parse_mode"), p.get("entities"))
        markup = self._markup(chat, p)
        if (text, entities, markup) == (msg["text"], msg.get("entities", []), msg.get("reply_markup")):
            raise ApiError(400, NOT_MODIFIED)
        self._flood_check(chat, edit=True)
        msg.update(text=text, edit_date=int(time.time()))
        for key, value in (("entities", entities), ("reply_markup", markup),
                           ("link_preview_options", p.get("link_preview_options"))):
            if value:
                msg[key] = value
            else:
                msg.pop(key, None)
        self._record("edit", "editMessageText", chat.id, msg["message_id"], p, msg)
        return copy.deepcopy(msg)

    def _api_editmessagereplymarkup(self, p: dict) -> dict:
        chat, msg = self._editable(p)
        markup = self._markup(chat, p)
        if markup == msg.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        self._flood_check(chat, edit=True)
        if markup is None:
            msg.pop("reply_markup", None)
        else:
            msg["reply_markup"] = markup
        msg["edit_date"] = int(time.time())
        self._record("edit", "editMessageReplyMarkup", chat.id, msg["message_id"], p, msg)
        return copy.deepcopy(msg)

    DELETE_WINDOW = 48 * 3600  # Telegram lets a bot delete a message only this long after it was sent

    def _api_deletemessage(self, p: dict) -> bool:
        chat = self._target(p)
        mid = int_param(p, "message_id")
        msg = self._msgs.get(chat.id, {}).get(mid)
        if msg is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        if time.time() - msg["date"] > self.DELETE_WINDOW:
            raise ApiError(400, "Bad Request: message can't be deleted")
        del self._msgs[chat.id][mid]
        self._record("delete", "deleteMessage", chat.id, mid, p, None)
        return True

    def _api_deletemessages(self, p: dict) -> bool:
        chat = self._target(p)
        for mid in p.get("message_ids") or []:
            if self._msgs.get(chat.id, {}).pop(int(mid), None) is not None:
                self._record("delete", "deleteMessages", chat.id, int(mid), p, None)
        return True

    def _api_answercallbackquery(self, p: dict) -> bool:
        qid = str(p.get("callback_query_id") or "")
        if qid not in self._callbacks or qid in self.callback_answers:
            raise ApiError(400, QUERY_INVALID)
        if len(str(p.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers[qid] = {"text": p.get("text"), "show_alert": bool_param(p, "show_alert"),
                                      "url": p.get("url"), "cache_time": int_param(p, "cache_time", 0),
                                      "data": self._callbacks[qid].get("data")}
        return True
