"""In-process Telegram Bot API emulator for tests (and a standalone playground).

    async with TelegramEmulator() as emu:
        bot = Bot(emu.token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
        emu.add_user(111, "Alice")
        emu.send_message(111, 111, "/start")
        reply = await emu.wait_for(chat_id=111, text="Welcome")

Standalone: ``python -m playground.emulator --port 8081`` prints the base URL and the token.

Bot API: ``{base}/bot{token}/{method}`` (JSON, urlencoded or multipart bodies, query strings). Errors use
Telegram's status codes and descriptions. Control API: the public Python methods below, mirrored as JSON
endpoints under ``/_control/``. Everything runs on one asyncio loop; state is plain dicts/dataclasses.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import html
import itertools
import json
import logging
import math
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "7000000001:EMULATOR-test-token-for-rentsms-bot-000"
GROUP_ANONYMOUS_BOT = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
JSON_FIELDS = {"reply_markup", "entities", "caption_entities", "link_preview_options", "reply_parameters", "prices",
               "commands", "scope", "allowed_updates", "suggested_tip_amounts", "menu_button", "message_ids",
               "rights", "permissions", "media", "results"}
NOOP_METHODS = ("setMyDescription", "setMyShortDescription", "setChatMenuButton", "setMyName",
                "setMyDefaultAdministratorRights", "close", "logOut")
DEFAULT_ALLOWED = None  # None = every type except the opt-in ones below
OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are exactly "
                "the same as a previous content and reply markup of the message")
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WEBHOOK_CONFLICT = ("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
                    "webhook first")
FAULT_DESCRIPTIONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                      504: "Gateway Timeout"}


class ApiError(Exception):
    """A Bot API error answer: HTTP status + Telegram description (+ optional parameters)."""

    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


class EmulatorError(Exception):
    """A control-API misuse (unknown user, no such button, ...)."""


@dataclass
class EmuUser:
    id: int
    first_name: str
    language_code: str = "en"
    username: str | None = None
    last_name: str | None = None
    is_premium: bool = False
    started: bool = True   # has the user ever opened the private chat with the bot?
    blocked: bool = False  # has the user blocked the bot?

    def to_dict(self) -> dict:
        d = {"id": self.id, "is_bot": False, "first_name": self.first_name, "language_code": self.language_code}
        for k in ("last_name", "username"):
            if getattr(self, k):
                d[k] = getattr(self, k)
        if self.is_premium:
            d["is_premium"] = True
        return d


@dataclass
class EmuChat:
    id: int
    type: str  # private | group | supergroup
    title: str | None = None
    user: EmuUser | None = None  # private chats
    members: dict[int, str] = field(default_factory=dict)  # user_id -> creator|administrator|member|restricted|left|kicked
    bot_status: str = "member"
    migrated_to: int | None = None
    migrated_from: int | None = None

    def to_dict(self) -> dict:
        if self.type == "private":
            assert self.user is not None
            d = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            for k in ("last_name", "username"):
                if getattr(self.user, k):
                    d[k] = getattr(self.user, k)
            return d
        return {"id": self.id, "type": self.type, "title": self.title}


# ----------------------------------------------------------------------------------------------- text markup
def _u16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


class _Text:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[dict] = []

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.pos += _u16(s)

    def entity(self, type_: str, start: int, **extra: Any) -> None:
        if self.pos > start:
            self.entities.append({"type": type_, "offset": start, "length": self.pos - start, **extra})

    def result(self) -> tuple[str, list[dict]]:
        return "".join(self.parts), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))


def _bad_entities(msg: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {msg}")


_HTML_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
              "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
              "span": "spoiler", "code": "code", "pre": "pre", "a": "text_link", "blockquote": "blockquote",
              "tg-emoji": "custom_emoji"}
_TAG_RE = re.compile(r"""<(/?)([a-zA-Z][\w-]*)((?:\s+[\w-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*>""")
_ATTR_RE = re.compile(r"""([\w-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_CHARREF_RE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot);")


def parse_html(src: str) -> tuple[str, list[dict]]:
    out, stack, i = _Text(), [], 0  # stack: (tag, entity type or None, start, extra)
    while i < len(src):
        c = src[i]
        if c == "<":
            off = len(src[:i].encode())
            m = _TAG_RE.match(src, i)
            if not m:
                name = re.match(r"</?([^\s>]*)", src[i:]).group(1)  # type: ignore[union-attr]
                raise _bad_entities(f'Unsupported start tag "{name}" at byte offset {off}')
            name = m.group(2).lower()
            if m.group(1):
                if not stack:
                    raise _bad_entities(f'Unexpected end tag at byte offset {off}')
                if stack[-1][0] != name:
                    raise _bad_entities(f'Unmatched end tag at byte offset {off}, expected "</{stack[-1][0]}>", '
                                        f'found "</{name}>"')
                _tag, type_, start, extra = stack.pop()
                if type_:
                    out.entity(type_, start, **extra)
            else:
                if name not in _HTML_TAGS:
                    raise _bad_entities(f'Unsupported start tag "{name}" at byte offset {off}')
                attrs = {a.group(1).lower(): html.unescape(a.group(2) or a.group(3) or a.group(4) or "")
                         for a in _ATTR_RE.finditer(m.group(3))}
                type_, extra = _HTML_TAGS[name], {}
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise _bad_entities(f'Unsupported start tag "span" at byte offset {off}')
                if name == "a":
                    type_, extra = ("text_link", {"url": attrs["href"]}) if attrs.get("href") else (None, {})
                elif name == "blockquote" and "expandable" in attrs:
                    type_ = "expandable_blockquote"
                elif name == "tg-emoji":
                    extra = {"custom_emoji_id": attrs.get("emoji-id", "")}
                elif name == "code" and stack and stack[-1][0] == "pre":
                    if attrs.get("class", "").startswith("language-"):
                        stack[-1][3]["language"] = attrs["class"][len("language-"):]
                    type_ = None
                stack.append((name, type_, out.pos, extra))
            i = m.end()
        elif c == "&":
            m = _CHARREF_RE.match(src, i)
            if m:
                out.add(html.unescape(m.group(0)))
                i = m.end()
            else:
                out.add("&")
                i += 1
        else:
            j = min(k for k in (src.find("<", i), src.find("&", i), len(src)) if k >= 0)
            out.add(src[i:j])
            i = j
    if stack:
        raise _bad_entities(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!\\")
_MD2_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}


def _find_unescaped(src: str, needle: str, start: int) -> int:
    i = start
    while i < len(src):
        if src[i] == "\\":
            i += 2
            continue
        if src.startswith(needle, i):
            return i
        i += 1
    return -1


def _unescape_md2(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s, flags=re.S)


def parse_markdown(src: str, v2: bool) -> tuple[str, list[dict]]:
    out, open_ = _Text(), {}  # open_: marker -> (start, byte offset)
    links: list[tuple[int, int]] = []
    i, n = 0, len(src)
    while i < n:
        c, off = src[i], len(src[:i].encode())
        if c == "\\" and i + 1 < n and (v2 or src[i + 1] in "_*`["):
            out.add(src[i + 1])
            i += 2
        elif c == "`":
            fence = "```" if src.startswith("```", i) else "`"
            end = _find_unescaped(src, fence, i + len(fence)) if v2 else src.find(fence, i + len(fence))
            if end < 0:
                raise _bad_entities(f"Can't find end of {'Pre' if fence == '```' else 'Code'} entity at byte "
                                    f"offset {off}" if v2 else f"Can't find end of the entity starting at byte "
                                    f"offset {off}")
            body, extra = src[i + len(fence):end], {}
            if fence == "```" and "\n" in body and body.split("\n", 1)[0].strip():
                lang, body = body.split("\n", 1)
                extra["language"] = lang.strip()
            start = out.pos
            out.add(_unescape_md2(body) if v2 else body)
            out.entity("pre" if fence == "```" else "code", start, **extra)
            i = end + len(fence)
        elif c in "*_~|" and (v2 or c in "*_"):
            marker = src[i:i + 2] if src[i:i + 2] in ("__", "||") and v2 else c
            if marker == "|":
                raise _bad_entities("Character '|' is reserved and must be escaped with the preceding '\\'")
            if marker in open_:
                start, _ = open_.pop(marker)
                out.entity(_MD2_MARKERS[marker], start)
            else:
                open_[marker] = (out.pos, off)
            i += len(marker)
        elif c == "[":
            links.append((out.pos, off))
            i += 1
        elif c == "]" and links:
            if src[i + 1:i + 2] != "(":
                raise _bad_entities(f"Can't find end of a URL at byte offset {off}")
            end = _find_unescaped(src, ")", i + 2) if v2 else src.find(")", i + 2)
            if end < 0:
                raise _bad_entities(f"Can't find end of a URL at byte offset {off}")
            start, _ = links.pop()
            out.entity("text_link", start, url=_unescape_md2(src[i + 2:end]) if v2 else src[i + 2:end])
            i = end + 1
        elif v2 and c == ">" and (i == 0 or src[i - 1] == "\n"):
            nl = src.find("\n", i)
            nl = n if nl < 0 else nl
            start = out.pos
            inner, ents = parse_markdown(src[i + 1:nl], True)
            out.entities += [{**e, "offset": e["offset"] + start} for e in ents]
            out.add(inner)
            prev = out.entities[-1] if out.entities and out.entities[-1]["type"] == "blockquote" else None
            if prev and prev["offset"] + prev["length"] + 1 == start:  # continue the quote of the previous line
                prev["length"] = out.pos - prev["offset"]
            else:
                out.entity("blockquote", start)
            i = nl
        elif v2 and c in _MD2_RESERVED:
            raise _bad_entities(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        else:
            out.add(c)
            i += 1
    if open_ or links:
        marker, (_, off) = next(iter(open_.items())) if open_ else ("[", links[0])
        name = {"[": "TextUrl"}.get(marker) or _MD2_MARKERS[marker].capitalize()
        raise _bad_entities(f"Can't find end of {name} entity at byte offset {off}" if v2
                            else f"Can't find end of the entity starting at byte offset {off}")
    return out.result()


_AUTO_ENTITIES = [
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)]")),
    ("mention", re.compile(r"(?<![\w@/])@[A-Za-z][A-Za-z0-9_]{3,31}\b")),
]


def detect_entities(text: str, existing: list[dict]) -> list[dict]:
    """Add the entities Telegram detects on its own (commands, URLs, @mentions) where no code/link entity is."""
    found: list[dict] = []
    for type_, rx in _AUTO_ENTITIES:
        for m in rx.finditer(text):
            off, ln = _u16(text[:m.start()]), _u16(m.group(0))
            if any(e["offset"] < off + ln and off < e["offset"] + e["length"]
                   for e in existing + found if e["type"] in ("code", "pre", "text_link") or e in found):
                continue
            found.append({"type": type_, "offset": off, "length": ln})
    return sorted(existing + found, key=lambda e: (e["offset"], -e["length"]))


def render_text(text: Any, parse_mode: Any, entities: Any) -> tuple[str, list[dict]]:
    text = "" if text is None else str(text)
    mode = str(parse_mode or "").lower()
    if isinstance(entities, list):
        ents = entities
    elif mode == "html":
        text, ents = parse_html(text)
    elif mode in ("markdown", "markdownv2"):
        text, ents = parse_markdown(text, v2=mode == "markdownv2")
    else:
        ents = []
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if len(text) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    return text, detect_entities(text, ents)


# ----------------------------------------------------------------------------------------------- emulator
def _int(p: dict, key: str, default: Any = ...) -> Any:
    value = p.get(key)
    if value is None or value == "":
        if default is ...:
            raise ApiError(400, f"Bad Request: {key} is empty")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {key} specified") from None


def _bool(p: dict, key: str) -> bool:
    return p.get(key) in (True, 1, "true", "True", "1")


def _json_response(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


class TelegramEmulator:
    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = "rentsms_test_bot",
                 bot_first_name: str = "RentSMS Test Bot", host: str = "127.0.0.1", port: int = 0,
                 flood_limits: bool = False, privacy_mode: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token, self.host, self.port = token, host, port
        self.bot_user = {"id": int(token.split(":", 1)[0]), "is_bot": True, "first_name": bot_first_name,
                         "username": bot_username}
        self.flood_limits, self.privacy_mode, self._clock = flood_limits, privacy_mode, clock
        self.base_url: str | None = None
        self.users: dict[int, EmuUser] = {}
        self.chats: dict[int, EmuChat] = {}
        self.calls: list[dict] = []             # every Bot API call: method, params, ok, error_code, description
        self.unknown_methods: list[str] = []
        self.updates: list[dict] = []           # every update ever emitted
        self.callback_answers: dict[str, dict] = {}
        self.pre_checkout_answers: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}     # telegram_payment_charge_id -> payment info (+ refunded flag)
        self.reply_keyboards: dict[int, dict] = {}  # chat_id -> last reply keyboard / remove / force_reply markup
        self.bot_settings: dict[str, dict] = {}     # setMyDescription & co: lower-case method -> params
        self.webhook_url = ""                   # while set, getUpdates answers 409 (as on Telegram)
        self.flood_429_count = 0
        self._faults: dict[str, list[tuple[int, str]]] = {}  # lower-case method -> queued (status, description)
        self._commands: dict[tuple[str, str], list[dict]] = {}
        self._msgs: dict[int, dict[int, dict]] = {}
        self._next_mid: dict[int, int] = {}
        self._events: list[dict] = []           # bot send/edit/delete actions, all chats, in order
        self._invoices: dict[tuple[int, int], dict] = {}
        self._pending: list[dict] = []          # updates not yet confirmed through getUpdates offset
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(4_000_000_000_000_000_001)
        self._callbacks: dict[str, dict] = {}   # callback_query_id -> query
        self._pre_checkout: dict[str, asyncio.Future] = {}
        self._allowed: list[str] | None = DEFAULT_ALLOWED
        self._poll_generation, self._closing = 0, False
        self._updates_changed, self._activity = asyncio.Event(), asyncio.Event()
        self._flood_chat: dict[int, deque] = {}
        self._flood_global: deque = deque()
        self._runner: web.AppRunner | None = None
        self._api = {name[5:]: getattr(self, name) for name in dir(self) if name.startswith("_api_")}
        for name in NOOP_METHODS:  # accepted, remembered in bot_settings, answer True
            self._api[name.lower()] = lambda p, name=name: self.bot_settings.__setitem__(name.lower(), p) or True

    # -------------------------------------------------------------------------------------------- lifecycle
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._handle_file)
        for method, path, handler in self._control_routes():
            app.router.add_route(method, "/_control/" + path, handler)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0, access_log=None,
                                     handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._closing = False
        return self.base_url

    async def stop(self) -> None:
        self._closing = True
        self._wake_pollers()
        for fut in self._pre_checkout.values():
            if not fut.done():
                fut.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "TelegramEmulator":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -------------------------------------------------------------------------------------------- HTTP: Bot API
    async def _read_params(self, request: web.Request) -> dict:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                params.update(body if isinstance(body, dict) else {})
            else:
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        value.file.close()
                        value = f"<file {value.filename}>"
                    params[key] = value
        for key in JSON_FIELDS & params.keys():
            if isinstance(params[key], str):
                try:
                    params[key] = json.loads(params[key])
                except ValueError:
                    pass
        return params

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            params = await self._read_params(request)
        except ValueError:
            params = None
        call = {"method": method, "params": params or {}, "time": time.time()}
        self.calls.append(call)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if self._faults.get(method.lower()):
                status, description = self._faults[method.lower()].pop(0)
                if status == 0:  # a network failure: the connection ends without an answer
                    call.update(ok=False, error_code=0, description="connection closed")
                    assert request.transport is not None
                    request.transport.close()
                    return web.Response()
                raise ApiError(status, description)
            if params is None:
                raise ApiError(400, "Bad Request: can't parse request body")
            handler = self._api.get(method.lower())
            if handler is None:
                log.warning("Telegram emulator: unknown Bot API method %r called with %r", method, params)
                self.unknown_methods.append(method)
                raise ApiError(404, "Not Found: method not found")
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as e:
            call.update(ok=False, error_code=e.code, description=e.description)
            body = {"ok": False, "error_code": e.code, "description": e.description}
            if e.parameters:
                body["parameters"] = e.parameters
            return _json_response(e.code, body)
        call.update(ok=True)
        return _json_response(200, {"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        return _json_response(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    # -------------------------------------------------------------------------------------------- internals
    def _user(self, user_id: Any) -> EmuUser:
        user = self.users.get(int(user_id))
        if user is None:
            raise EmulatorError(f"unknown user {user_id}; call add_user() first")
        return user

    def _chat(self, chat_id: Any) -> EmuChat:
        chat = self.chats.get(int(chat_id))
        if chat is None:
            raise EmulatorError(f"unknown chat {chat_id}")
        return chat

    def _target(self, p: dict, key: str = "chat_id", write: bool = True) -> EmuChat:
        """Resolve a chat the bot addresses; raise the Telegram error a real server would."""
        raw = p.get(key)
        if raw is None or raw == "":
            raise ApiError(400, f"Bad Request: {key} is empty")
        chat = None
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self.chats.values() if c.user and c.user.username == raw[1:]), None)
        else:
            try:
                chat = self.chats.get(int(raw))
            except ValueError:
                pass
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.migrated_to is not None:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": chat.migrated_to})
        kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
        if chat.type == "private" and chat.user and write:
            if chat.user.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.user.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        elif chat.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind}")
        elif chat.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind}")
        return chat

    def _push(self, kind: str, payload: dict) -> dict:
        update = {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}
        self.updates.append(update)
        self._pending.append(update)
        self._wake_pollers()
        return update

    def _wake_pollers(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()

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

    def _flood_check(self, chat: EmuChat) -> None:
        if not self.flood_limits:
            return
        now, g = self._clock(), self._flood_global
        q = self._flood_chat.setdefault(chat.id, deque())
        window, limit = (1.0, 1) if chat.type == "private" else (60.0, 20)
        while g and now - g[0] >= 1.0:
            g.popleft()
        while q and now - q[0] >= window:
            q.popleft()
        retry = 1 if len(g) >= 30 else max(1, math.ceil(window - (now - q[0]))) if len(q) >= limit else 0
        if retry:
            self.flood_429_count += 1
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        q.append(now)
        g.append(now)

    def _markup(self, chat: EmuChat, p: dict) -> dict | None:
        """Validate reply_markup; return the inline keyboard to attach to the message (reply keyboards are
        remembered per chat, as Telegram does not echo them in Message objects)."""
        rm = p.get("reply_markup")
        if not isinstance(rm, dict):
            return None
        if "inline_keyboard" not in rm:
            self.reply_keyboards[chat.id] = rm
            return None
        for row in rm["inline_keyboard"]:
            for button in row:
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                if "callback_data" in button and not 1 <= len(str(button["callback_data"]).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if len(button) < 2:
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        return rm

    def _reply_to(self, chat: EmuChat, p: dict) -> dict | None:
        rp = p.get("reply_parameters") if isinstance(p.get("reply_parameters"), dict) else {}
        mid = rp.get("message_id", p.get("reply_to_message_id"))
        if mid in (None, ""):
            return None
        target = self._msgs.get(chat.id, {}).get(int(mid))
        if target is None:
            if rp.get("allow_sending_without_reply") or _bool(p, "allow_sending_without_reply"):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return {k: v for k, v in target.items() if k != "reply_to_message"}

    def _bot_message(self, chat: EmuChat, mid: int, missing: str) -> dict:
        msg = self._msgs.get(chat.id, {}).get(mid)
        if msg is None:
            raise ApiError(400, f"Bad Request: {missing}")
        return msg

    # -------------------------------------------------------------------------------------------- Bot API methods
    def _api_getme(self, p: dict) -> dict:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": not self.privacy_mode,
                "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False}

    async def _api_getupdates(self, p: dict) -> list[dict]:
        if self.webhook_url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset, limit = _int(p, "offset", 0), min(max(_int(p, "limit", 100), 1), 100)
        timeout = max(0.0, float(p.get("timeout") or 0))
        if isinstance(p.get("allowed_updates"), list):
            self._allowed = p["allowed_updates"] or None
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # an older long poll still waiting gets 409 Conflict, as on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = [u for u in self._pending if self._is_allowed(u)][:limit]
            remaining = deadline - loop.time()
            if self.webhook_url:  # set while this poll waited: Telegram ends the poll the same way
                raise ApiError(409, WEBHOOK_CONFLICT)
            if batch or remaining <= 0 or self._closing:
                return copy.deepcopy(batch)
            try:
                await asyncio.wait_for(self._updates_changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot "
                                    "instance is running")

    def _is_allowed(self, update: dict) -> bool:
        kind = next(k for k in update if k != "update_id")
        return kind in self._allowed if self._allowed else kind not in OPT_IN_UPDATES

    def _api_deletewebhook(self, p: dict) -> bool:
        self.webhook_url = ""
        if _bool(p, "drop_pending_updates"):
            self._pending.clear()
        return True

    def _api_setwebhook(self, p: dict) -> bool:
        self.set_webhook(str(p.get("url") or ""))  # an empty url removes the webhook, as on Telegram
        if _bool(p, "drop_pending_updates"):
            self._pending.clear()
        return True

    def _api_getwebhookinfo(self, p: dict) -> dict:
        return {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": len(self._pending)}

    @staticmethod
    def _scope_key(p: dict) -> tuple[str, str]:
        scope = p.get("scope") if isinstance(p.get("scope"), dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(p.get("language_code") or "")

    def _api_setmycommands(self, p: dict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: commands is empty")
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._scope_key(p)] = [{"command": c["command"], "description": c["description"]}
                                              for c in commands]
        return True

    def _api_getmycommands(self, p: dict) -> list[dict]:
        return copy.deepcopy(self._commands.get(self._scope_key(p), []))

    def _api_deletemycommands(self, p: dict) -> bool:
        self._commands.pop(self._scope_key(p), None)
        return True


    def _api_getmydescription(self, p: dict) -> dict:
        return {"description": self.bot_settings.get("setmydescription", {}).get("description", "")}

    def _api_getmyshortdescription(self, p: dict) -> dict:
        return {"short_description": self.bot_settings.get("setmyshortdescription", {}).get("short_description", "")}

    def _api_sendchataction(self, p: dict) -> bool:
        self._target(p)
        return True

    def _api_sendmessage(self, p: dict) -> dict:
        chat = self._target(p)
        text, entities = render_text(p.get("text"), p.get("parse_mode"), p.get("entities"))
        markup, reply_to = self._markup(chat, p), self._reply_to(chat, p)
        self._flood_check(chat)
        lpo = p.get("link_preview_options")
        if _bool(p, "disable_web_page_preview"):
            lpo = {**(lpo or {}), "is_disabled": True}
        msg = self._new_message(chat, self.bot_user, text=text, entities=entities, reply_markup=markup,
                                reply_to_message=reply_to, link_preview_options=lpo)
        self._record("send", "sendMessage", chat.id, msg["message_id"], p, msg)
        return copy.deepcopy(msg)

    def _api_editmessagetext(self, p: dict) -> dict:
        if p.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._target(p)
        msg = self._bot_message(chat, _int(p, "message_id"), "message to edit not found")
        if msg["from"]["id"] != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = render_text(p.get("text"), p.get("parse_mode"), p.get("entities"))
        markup = self._markup(chat, p)
        if (text, entities, markup) == (msg["text"], msg.get("entities", []), msg.get("reply_markup")):
            raise ApiError(400, NOT_MODIFIED)
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
        if p.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._target(p)
        msg = self._bot_message(chat, _int(p, "message_id"), "message to edit not found")
        if msg["from"]["id"] != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        markup = self._markup(chat, p)
        if markup == msg.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        if markup is None:
            msg.pop("reply_markup", None)
        else:
            msg["reply_markup"] = markup
        msg["edit_date"] = int(time.time())
        self._record("edit", "editMessageReplyMarkup", chat.id, msg["message_id"], p, msg)
        return copy.deepcopy(msg)

    def _api_deletemessage(self, p: dict) -> bool:
        chat = self._target(p)
        mid = _int(p, "message_id")
        if self._msgs.get(chat.id, {}).pop(mid, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
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
        self.callback_answers[qid] = {"text": p.get("text"), "show_alert": _bool(p, "show_alert"),
                                      "url": p.get("url"), "cache_time": _int(p, "cache_time", 0),
                                      "data": self._callbacks[qid].get("data")}
        return True

    def _member(self, user: dict, status: str) -> dict:
        d: dict[str, Any] = {"status": status, "user": user}
        if status == "creator":
            d["is_anonymous"] = False
        elif status == "administrator":
            d.update(can_be_edited=False, is_anonymous=False, can_manage_chat=True, can_delete_messages=True,
                     can_manage_video_chats=True, can_restrict_members=True, can_promote_members=False,
                     can_change_info=True, can_invite_users=True, can_post_stories=False, can_edit_stories=False,
                     can_delete_stories=False, can_send_welcome_messages=False, can_pin_messages=True)
        elif status == "kicked":
            d["until_date"] = 0
        elif status == "restricted":
            d.update(dict.fromkeys(("can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
                                    "can_send_videos", "can_send_video_notes", "can_send_voice_notes",
                                    "can_send_polls", "can_send_other_messages", "can_add_web_page_previews",
                                    "can_react_to_messages", "can_edit_tag", "can_change_info",
                                    "can_invite_users", "can_pin_messages", "can_manage_topics"), False),
                     is_member=True, until_date=0)
        return d

    def _api_getchatmember(self, p: dict) -> dict:
        chat, user_id = self._target(p, write=False), _int(p, "user_id")
        if user_id == self.bot_user["id"]:
            status = "member" if chat.type == "private" else chat.bot_status
            return self._member(self.bot_user, "kicked" if chat.user and chat.user.blocked else status)
        if user_id not in self.users:
            raise ApiError(400, "Bad Request: user not found")
        if chat.type == "private":
            return self._member(self.users[user_id].to_dict(), "member" if user_id == chat.id else "left")
        return self._member(self.users[user_id].to_dict(), chat.members.get(user_id, "left"))

    def _api_getchatadministrators(self, p: dict) -> list[dict]:
        chat = self._target(p, write=False)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        admins = [self._member(self.users[uid].to_dict(), status) for uid, status in chat.members.items()
                  if status in ("creator", "administrator")]
        if chat.bot_status == "administrator":
            admins.append(self._member(self.bot_user, "administrator"))
        return admins

    def _api_getchatmembercount(self, p: dict) -> int:
        chat = self._target(p, write=False)
        if chat.type == "private":
            return 2
        return sum(s not in ("left", "kicked") for s in chat.members.values()) + (chat.bot_status in
                                                                                  ("member", "administrator"))

    def _api_getchat(self, p: dict) -> dict:
        chat = self._target(p, write=False)
        gifts = dict.fromkeys(("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription",
                               "gifts_from_channels"), chat.type == "private")
        return {**chat.to_dict(), "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}

    def _api_sendinvoice(self, p: dict) -> dict:
        chat = self._target(p)
        currency, prices = str(p.get("currency") or ""), p.get("prices")
        for key, limit in (("title", 32), ("description", 255)):
            if not 1 <= len(str(p.get(key) or "")) <= limit:
                raise ApiError(400, f"Bad Request: {key.upper()}_INVALID" if p.get(key) else
                               f"Bad Request: {key} is empty")
        if not 1 <= len(str(p.get("payload") or "").encode()) <= 128:
            raise ApiError(400, "Bad Request: INVOICE_PAYLOAD_INVALID")
        if not isinstance(prices, list) or not prices or (currency == "XTR" and len(prices) != 1):
            raise ApiError(400, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID")
        total = sum(int(item.get("amount", 0)) for item in prices)
        if total <= 0:
            raise ApiError(400, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID")
        if currency != "XTR" and not p.get("provider_token"):
            raise ApiError(400, "Bad Request: PAYMENT_PROVIDER_INVALID")
        markup = self._markup(chat, p)
        self._flood_check(chat)
        invoice = {"title": p["title"], "description": p["description"],
                   "start_parameter": str(p.get("start_parameter") or ""), "currency": currency,
                   "total_amount": total}
        msg = self._new_message(chat, self.bot_user, invoice=invoice, reply_markup=markup)
        self._invoices[(chat.id, msg["message_id"])] = {**invoice, "payload": str(p["payload"]), "prices": prices}
        self._record("send", "sendInvoice", chat.id, msg["message_id"], p, msg)
        return copy.deepcopy(msg)

    def _api_answerprecheckoutquery(self, p: dict) -> bool:
        qid = str(p.get("pre_checkout_query_id") or "")
        fut = self._pre_checkout.get(qid)
        if fut is None or fut.done() or qid in self.pre_checkout_answers:
            raise ApiError(400, QUERY_INVALID)
        ok = _bool(p, "ok")
        if not ok and not p.get("error_message"):
            raise ApiError(400, "Bad Request: ERROR_MESSAGE_EMPTY")
        self.pre_checkout_answers[qid] = answer = {"ok": ok, "error_message": p.get("error_message")}
        fut.set_result(answer)
        return True

    def _api_refundstarpayment(self, p: dict) -> bool:
        payment = self.payments.get(str(p.get("telegram_payment_charge_id") or ""))
        if payment is None or payment["user_id"] != _int(p, "user_id"):
            raise ApiError(400, "Bad Request: CHARGE_NOT_FOUND")
        if payment["refunded"]:
            raise ApiError(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
        payment["refunded"] = True
        return True

    # -------------------------------------------------------------------------------------------- control: users, chats
    def add_user(self, user_id: int, first_name: str, language_code: str = "en", username: str | None = None, *,
                 last_name: str | None = None, is_premium: bool = False, started: bool = True) -> dict:
        """Create a user and the private chat with the bot (chat id = user id). ``started=False``: the user never
        opened the bot, so the bot cannot write first (403), like on Telegram."""
        user = EmuUser(int(user_id), first_name, language_code, username, last_name, is_premium, started)
        self.users[user.id] = user
        self.chats[user.id] = EmuChat(user.id, "private", user=user)
        return user.to_dict()

    def _actor(self, chat: EmuChat, by_user_id: int | None) -> dict:
        if by_user_id is not None:
            return self._user(by_user_id).to_dict()
        for wanted in ("creator", "administrator", "member"):
            for uid, status in chat.members.items():
                if status == wanted:
                    return self.users[uid].to_dict()
        return GROUP_ANONYMOUS_BOT

    def _bot_status_change(self, chat: EmuChat, new: str, actor: dict) -> None:
        old = "kicked" if chat.user and chat.user.blocked else ("member" if chat.user else chat.bot_status)
        self._push("my_chat_member", {"chat": chat.to_dict(), "from": actor, "date": int(time.time()),
                                      "old_chat_member": self._member(self.bot_user, old),
                                      "new_chat_member": self._member(self.bot_user, new)})

    def create_group(self, chat_id: int, title: str, members: dict[int, str] | None = None, supergroup: bool = False,
                     *, bot_status: str = "member", added_by: int | None = None) -> dict:
        """Create a group (negative id) with ``{user_id: creator|administrator|member}`` and add the bot to it
        (emits my_chat_member and a new_chat_members service message). Unknown member ids become users."""
        chat_id = int(chat_id)
        if chat_id >= 0:
            raise EmulatorError("group ids are negative")
        chat = EmuChat(chat_id, "supergroup" if supergroup else "group", title, bot_status="left")
        for uid, status in (members or {}).items():
            if int(uid) not in self.users:
                self.add_user(int(uid), f"User {uid}")
            chat.members[int(uid)] = status
        self.chats[chat_id] = chat
        if bot_status not in ("left", "kicked"):
            self.add_bot_to_group(chat_id, status=bot_status, by_user_id=added_by)
        return chat.to_dict()

    def add_bot_to_group(self, chat_id: int, *, status: str = "member", by_user_id: int | None = None) -> None:
        chat = self._chat(chat_id)
        actor = self._actor(chat, by_user_id)
        self._bot_status_change(chat, status, actor)
        chat.bot_status = status
        msg = self._new_message(chat, actor, new_chat_members=[self.bot_user])
        self._push("message", msg)

    def remove_bot_from_group(self, chat_id: int, *, status: str = "kicked", by_user_id: int | None = None) -> None:
        """Kick the bot (status "kicked") or make it leave ("left"): emits my_chat_member; later sends get 403."""
        if status not in ("kicked", "left"):
            raise EmulatorError('status must be "kicked" or "left"')
        chat = self._chat(chat_id)
        self._bot_status_change(chat, status, self._actor(chat, by_user_id))
        chat.bot_status = status

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Change a user's status in a group; emits a chat_member update (delivered only if the bot asks for it)."""
        chat, user = self._chat(chat_id), self._user(user_id)
        old = chat.members.get(user.id, "left")
        chat.members[user.id] = status
        self._push("chat_member", {"chat": chat.to_dict(), "from": self._actor(chat, None), "date": int(time.time()),
                                   "old_chat_member": self._member(user.to_dict(), old),
                                   "new_chat_member": self._member(user.to_dict(), status)})

    def migrate_group_to_supergroup(self, chat_id: int, *, by_user_id: int | None = None) -> int:
        """Upgrade a basic group: emits migrate_to_chat_id in the old chat and migrate_from_chat_id in the new one;
        afterwards bot calls on the old id get 400 with parameters.migrate_to_chat_id."""
        old = self._chat(chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise EmulatorError(f"chat {chat_id} is not a basic group")
        new_id = -(10 ** 12) - abs(old.id)
        new = EmuChat(new_id, "supergroup", old.title, members=dict(old.members), bot_status=old.bot_status,
                      migrated_from=old.id)
        self.chats[new_id] = new
        actor = self._actor(old, by_user_id)
        self._push("message", self._new_message(old, actor, migrate_to_chat_id=new_id))
        old.migrated_to = new_id
        self._push("message", self._new_message(new, GROUP_ANONYMOUS_BOT, sender_chat=new.to_dict(),
                                                migrate_from_chat_id=old.id))
        return new_id

    def block_bot(self, user_id: int) -> None:
        """The user blocks the bot: my_chat_member (kicked) is emitted, sends to the user answer 403."""
        user = self._user(user_id)
        if not user.blocked:
            self._bot_status_change(self.chats[user.id], "kicked", user.to_dict())
            user.blocked = True

    def unblock_bot(self, user_id: int) -> None:
        user = self._user(user_id)
        if user.blocked:
            user.blocked = False
            self._push("my_chat_member", {"chat": self.chats[user.id].to_dict(), "from": user.to_dict(),
                                          "date": int(time.time()),
                                          "old_chat_member": self._member(self.bot_user, "kicked"),
                                          "new_chat_member": self._member(self.bot_user, "member")})

    # -------------------------------------------------------------------------------------------- control: acting
    def send_message(self, chat_id: int, user_id: int, text: str, *, reply_to_message_id: int | None = None) -> dict:
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
        msg = self._new_message(chat, user.to_dict(), text=text, entities=detect_entities(text, []),
                                reply_to_message=reply)
        if self._bot_sees(chat, msg):
            self._push("message", msg)
        return copy.deepcopy(msg)

    def _bot_sees(self, chat: EmuChat, msg: dict) -> bool:
        if chat.type == "private" or not self.privacy_mode or chat.bot_status == "administrator":
            return True
        text, me = msg.get("text", ""), self.bot_user["username"].lower()
        command = re.match(r"/\w+(?:@(\w+))?", text)
        replied = (msg.get("reply_to_message") or {}).get("from", {}).get("id") == self.bot_user["id"]
        return bool(command and (command.group(1) or me).lower() == me) or replied or f"@{me}" in text.lower()

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

    async def pay_invoice(self, chat_id: int, user_id: int, message_id: int, *, timeout: float = 5.0) -> dict:
        """Pay a bot-sent invoice: emits pre_checkout_query and waits up to ``timeout`` s for the bot's answer.
        Returns {"status": "paid"|"declined"|"timeout", ...}; when paid a successful_payment message is emitted
        with a fresh telegram_payment_charge_id."""
        chat, user = self._chat(chat_id), self._user(user_id)
        invoice = self._invoices.get((chat.id, int(message_id)))
        if invoice is None:
            raise EmulatorError(f"message {message_id} in chat {chat_id} is not an invoice")
        qid = str(next(self._ids))
        self._pre_checkout[qid] = fut = asyncio.get_running_loop().create_future()
        query = {"id": qid, "from": user.to_dict(), "currency": invoice["currency"],
                 "total_amount": invoice["total_amount"], "invoice_payload": invoice["payload"]}
        self._push("pre_checkout_query", query)
        try:
            answer = await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            fut.cancel()  # a late answerPreCheckoutQuery now gets "query is too old"
            return {"status": "timeout", "pre_checkout_query_id": qid}
        except asyncio.CancelledError:
            if not fut.cancelled():  # our caller is being cancelled, not the emulator stopping
                raise
            return {"status": "timeout", "pre_checkout_query_id": qid}
        if not answer["ok"]:
            return {"status": "declined", "pre_checkout_query_id": qid, "error_message": answer["error_message"]}
        charge = f"stxEMU{secrets.token_hex(12)}"
        payment = {"currency": invoice["currency"], "total_amount": invoice["total_amount"],
                   "invoice_payload": invoice["payload"], "telegram_payment_charge_id": charge,
                   "provider_payment_charge_id": "" if invoice["currency"] == "XTR" else f"prov_{charge}"}
        self.payments[charge] = {**payment, "user_id": user.id, "chat_id": chat.id, "refunded": False}
        msg = self._new_message(chat, user.to_dict(), successful_payment=payment)
        update = self._push("message", msg)
        return {"status": "paid", "pre_checkout_query_id": qid, "telegram_payment_charge_id": charge,
                "update_id": update["update_id"], "message": copy.deepcopy(msg)}

    def resend_update(self, update_id: int) -> int:
        """Deliver a copy of an earlier update under a new update_id (same message/callback/charge ids)."""
        original = next((u for u in self.updates if u["update_id"] == int(update_id)), None)
        if original is None:
            raise EmulatorError(f"no update {update_id}")
        kind = next(k for k in original if k != "update_id")
        return self._push(kind, original[kind])["update_id"]

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

    def calls_to(self, method: str) -> list[dict]:
        return [c for c in self.calls if c["method"].lower() == method.lower()]

    def unanswered_callbacks(self) -> list[str]:
        return [qid for qid in self._callbacks if qid not in self.callback_answers]

    @property
    def commands(self) -> list[dict]:
        """Commands set for the default scope and no language."""
        return self.commands_for()

    def commands_for(self, scope: dict | None = None, language_code: str = "") -> list[dict]:
        return self._api_getmycommands({"scope": scope, "language_code": language_code})

    @property
    def pending_updates(self) -> list[dict]:
        return copy.deepcopy(self._pending)

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
                if event["action"] == "delete" or (chat_id is not None and event["chat_id"] != int(chat_id)):
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

    def set_webhook(self, url: str = "https://old-deployment.example/telegram/hook") -> None:
        """A webhook set on the token, e.g. by an earlier deployment or another tool: until the bot calls
        deleteWebhook (or setWebhook with an empty url), getUpdates answers 409 Conflict, a waiting poll too."""
        self.webhook_url = str(url)
        self._wake_pollers()

    def fail_next(self, method: str, status: int = 500, description: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP ``status`` and Telegram's error body; status 0
        closes the connection without an answer instead (the client sees a network error)."""
        description = description or FAULT_DESCRIPTIONS.get(int(status), "Internal Server Error")
        self._faults.setdefault(method.lower(), []).extend([(int(status), description)] * int(times))

    def set_flood_limits(self, enabled: bool) -> None:
        self.flood_limits = bool(enabled)
        self._flood_chat.clear()
        self._flood_global.clear()

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
                    return _json_response(400, {"ok": False, "error": f"{type(e).__name__}: {e}"})
                except TimeoutError as e:
                    return _json_response(408, {"ok": False, "error": str(e)})
                return _json_response(200, {"ok": True, "result": result})
            return handler

        def cid(request: web.Request) -> int:
            return int(request.match_info["chat_id"])

        return [
            ("POST", "users", ctl(lambda b, r: self.add_user(
                b["user_id"], b["first_name"], b.get("language_code", "en"), b.get("username"),
                last_name=b.get("last_name"), started=b.get("started", True)))),
            ("POST", "groups", ctl(lambda b, r: self.create_group(
                b["chat_id"], b["title"], {int(k): v for k, v in (b.get("members") or {}).items()},
                b.get("supergroup", False), bot_status=b.get("bot_status", "member")))),
            ("POST", "groups/{chat_id}/remove_bot", ctl(lambda b, r: self.remove_bot_from_group(
                cid(r), status=b.get("status", "kicked"), by_user_id=b.get("by_user_id")))),
            ("POST", "groups/{chat_id}/add_bot", ctl(lambda b, r: self.add_bot_to_group(
                cid(r), status=b.get("status", "member"), by_user_id=b.get("by_user_id")))),
            ("POST", "groups/{chat_id}/migrate", ctl(lambda b, r: {
                "new_chat_id": self.migrate_group_to_supergroup(cid(r), by_user_id=b.get("by_user_id"))})),
            ("POST", "groups/{chat_id}/members", ctl(lambda b, r: self.set_member_status(
                cid(r), b["user_id"], b["status"]))),
            ("POST", "send", ctl(lambda b, r: self.send_message(
                b["chat_id"], b["user_id"], b["text"], reply_to_message_id=b.get("reply_to_message_id")))),
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Local Telegram Bot API emulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--token", default=DEFAULT_TOKEN)
    ap.add_argument("--bot-username", default="rentsms_test_bot")
    ap.add_argument("--flood-limits", action="store_true")
    ap.add_argument("--no-privacy", action="store_true", help="the bot sees every group message")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> None:
        emu = TelegramEmulator(args.token, bot_username=args.bot_username, host=args.host, port=args.port,
                               flood_limits=args.flood_limits, privacy_mode=not args.no_privacy)
        url = await emu.start()
        print(f"Telegram Bot API emulator on {url} (token {emu.token}); control API under {url}/_control/",
              flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await emu.stop()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
