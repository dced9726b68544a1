"""What every area of the emulator shares: its users and chats, its two kinds of error, and how Bot API
parameters are read (they arrive as JSON values or as form/query strings).

``ApiError`` is an answer the Bot API gives the bot (HTTP status + Telegram's description); ``EmulatorError`` is
a misuse of the control API by a test or the playground (unknown user, no such button, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Answered to a callback or pre-checkout query that is unknown, already answered or expired.
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


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
    # user_id -> creator|administrator|member|restricted|left|kicked
    members: dict[int, str] = field(default_factory=dict)
    bot_status: str = "member"
    migrated_to: int | None = None
    migrated_from: int | None = None
    is_forum: bool = False  # a supergroup with topics (topics.py)
    bot_can_manage_topics: bool = False  # the bot, an administrator, may manage topics

    def to_dict(self) -> dict:
        if self.type == "private":
            assert self.user is not None
            d = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            for k in ("last_name", "username"):
                if getattr(self.user, k):
                    d[k] = getattr(self.user, k)
            return d
        d = {"id": self.id, "type": self.type, "title": self.title}
        if self.is_forum:
            d["is_forum"] = True
        return d


def int_param(p: dict, key: str, default: Any = ...) -> Any:
    value = p.get(key)
    if value is None or value == "":
        if default is ...:
            raise ApiError(400, f"Bad Request: {key} is empty")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {key} specified") from None


def bool_param(p: dict, key: str) -> bool:
    return p.get(key) in (True, 1, "true", "True", "1")
