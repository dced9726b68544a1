"""Who is in a group, as Telegram answers (``AdminCache``, the ``Membership`` the spending rules of
bot/services/permissions.py ask), and those rules called the handlers' way (with the bot and the cache).

The answers, and chat_member updates, are kept in a small bounded cache for screens that only need a hint; every
spend asks Telegram again at that moment."""
from __future__ import annotations

import time
from collections import OrderedDict

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import ChatMember

from bot.services import permissions as rules
from bot.services.permissions import (
    ADMIN_STATUSES,
    MEMBER_STATUSES,
    OnlyAdmins,
    OnlyAdminsManage,
    OnlyAdminsTopUp,
    OnlyMembers,
)
from bot.services.teams import MemberBudget
from storage import Chat

__all__ = ["ADMIN_STATUSES", "MEMBER_STATUSES", "AdminCache", "OnlyAdmins", "OnlyAdminsManage", "OnlyAdminsTopUp",
           "OnlyMembers", "ensure_can_spend", "ensure_can_top_up", "is_member", "may_spend"]

CACHE_SECONDS = 120.0
CACHE_ENTRIES = 4096


def is_member(member: ChatMember) -> bool:
    """Member, admin or creator now; a restricted user counts while still in the chat."""
    return member.status in MEMBER_STATUSES or (
        member.status == "restricted" and bool(getattr(member, "is_member", False)))


class AdminCache:
    """Telegram's latest answer on (chat, user) membership: bounded in size and age, updated by chat_member."""

    def __init__(self, max_entries: int = CACHE_ENTRIES, ttl: float = CACHE_SECONDS) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self._seen: OrderedDict[tuple[int, int], tuple[float, ChatMember | None]] = OrderedDict()

    async def member(self, bot: Bot, chat_id: int, user_id: int, *, fresh: bool = False) -> ChatMember | None:
        """None when Telegram does not know the user in this chat."""
        key = (chat_id, user_id)
        cached = self._seen.get(key)
        if not fresh and cached and cached[0] > time.monotonic():
            self._seen.move_to_end(key)
            return cached[1]
        try:
            member: ChatMember | None = await bot.get_chat_member(chat_id, user_id)
        except TelegramBadRequest:  # "user not found", "participant_id_invalid": not in the chat
            member = None
        self.remember(chat_id, user_id, member)
        return member

    async def is_admin(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        """Asked at that moment: group settings decide who may spend."""
        member = await self.member(bot, chat_id, user_id, fresh=True)
        return member is not None and member.status in ADMIN_STATUSES

    def remember(self, chat_id: int, user_id: int, member: ChatMember | None) -> None:
        key = (chat_id, user_id)
        self._seen[key] = (time.monotonic() + self.ttl, member)
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)

    def of(self, bot: Bot) -> rules.Membership:
        """This cache asking through ``bot``: the membership the spending rules ask."""
        return _TelegramMembership(bot, self)

    def forget(self, chat_id: int) -> None:
        for key in [k for k in self._seen if k[0] == chat_id]:
            del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)


class _TelegramMembership:
    def __init__(self, bot: Bot, cache: AdminCache) -> None:
        self.bot, self.cache = bot, cache

    async def status(self, chat_id: int, user_id: int, *, fresh: bool = False) -> str | None:
        member = await self.cache.member(self.bot, chat_id, user_id, fresh=fresh)
        if member is None or not is_member(member):
            return None
        return "member" if member.status == "restricted" else member.status


async def may_spend(bot: Bot, admins: AdminCache, chat: Chat, user_id: int) -> bool:
    return await rules.may_spend(admins.of(bot), chat, user_id)


async def ensure_can_spend(bot: Bot, admins: AdminCache, chat: Chat, user_id: int, *,
                           budgeted: bool = False) -> MemberBudget | None:
    return await rules.ensure_can_spend(admins.of(bot), chat, user_id, budgeted=budgeted)


async def ensure_can_top_up(bot: Bot, admins: AdminCache, chat: Chat, user_id: int) -> None:
    await rules.ensure_can_top_up(admins.of(bot), chat, user_id)
