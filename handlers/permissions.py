"""Who may spend a chat's balance: anyone in a private chat; in groups, admins unless opened to members."""
from __future__ import annotations

import time

from aiogram import Bot

from bot.services.errors import UserFacingError
from storage import Chat

ADMIN_STATUSES = frozenset({"creator", "administrator"})
CACHE_SECONDS = 120.0


class OnlyAdmins(UserFacingError):
    key = "error-only-admins"


class AdminCache:
    """Telegram's answer on membership, kept briefly so every tap does not cost a Bot API call."""

    def __init__(self) -> None:
        self._seen: dict[tuple[int, int], tuple[float, bool]] = {}

    async def is_admin(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        key = (chat_id, user_id)
        cached = self._seen.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        member = await bot.get_chat_member(chat_id, user_id)
        result = member.status in ADMIN_STATUSES
        self._seen[key] = (time.monotonic() + CACHE_SECONDS, result)
        return result

    def forget(self, chat_id: int) -> None:
        for key in [k for k in self._seen if k[0] == chat_id]:
            del self._seen[key]


async def ensure_can_spend(bot: Bot, admins: AdminCache, chat: Chat, user_id: int) -> None:
    if not chat.is_group or chat.members_can_rent:
        return
    if not await admins.is_admin(bot, chat.id, user_id):
        raise OnlyAdmins()
