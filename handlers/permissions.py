"""Who may spend a chat's balance: anyone in a private chat; in groups, admins, or members once opened to them.

Every spend asks Telegram at that moment who pressed (a demoted admin or a user who left cannot spend
on an old answer). The answers, and chat_member updates, are kept in a small bounded cache for screens
that only need a hint."""
from __future__ import annotations

import time
from collections import OrderedDict

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import ChatMember

from bot.services.errors import UserFacingError
from bot.services.teams import BoundedMembersRentOnly, MemberBudget
from storage import Chat

ADMIN_STATUSES = frozenset({"creator", "administrator"})
MEMBER_STATUSES = ADMIN_STATUSES | {"member"}
CACHE_SECONDS = 120.0
CACHE_ENTRIES = 4096


class OnlyAdmins(UserFacingError):
    key = "error-only-admins"


class OnlyAdminsManage(UserFacingError):
    """Not a spend but the group's number: cancelling, finishing, auto-renew are the admins' too."""

    key = "error-only-admins-manage"


class OnlyAdminsTopUp(UserFacingError):
    key = "error-only-admins-top-up"


class OnlyMembers(UserFacingError):
    key = "error-only-members"


def is_member(member: ChatMember) -> bool:
    """Member, admin or creator now; a restricted user counts while still in the chat."""
    return member.status in MEMBER_STATUSES or (member.status == "restricted" and bool(getattr(member, "is_member", False)))


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

    def forget(self, chat_id: int) -> None:
        for key in [k for k in self._seen if k[0] == chat_id]:
            del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)


async def may_spend(bot: Bot, admins: AdminCache, chat: Chat, user_id: int) -> bool:
    """For telling someone early (the first step of renting): the cached membership is enough; the spend
    itself asks Telegram again (``ensure_can_spend``)."""
    if not chat.is_group:
        return True
    member = await admins.member(bot, chat.id, user_id)
    if member is None or not is_member(member):
        return False
    return chat.members_can_rent or member.status in ADMIN_STATUSES


async def ensure_can_spend(bot: Bot, admins: AdminCache, chat: Chat, user_id: int, *,
                           budgeted: bool = False) -> MemberBudget | None:
    """Raises unless this user may spend the chat's balance now. A member within a limit or a cap gets the
    budget the charging transaction checks (``RentRequest.budget``); a caller that cannot check one
    (``budgeted`` False: renewals, plan switches, sets) refuses such a member: they rent single numbers, or ask."""
    if not chat.is_group:
        return None
    member = await admins.member(bot, chat.id, user_id, fresh=True)
    if member is None or not is_member(member):
        raise OnlyMembers() if chat.members_can_rent else OnlyAdmins()
    if member.status in ADMIN_STATUSES:
        return None
    if not chat.members_can_rent:
        raise OnlyAdmins()
    budget = MemberBudget.of(chat)
    if budget is not None and not budgeted:
        raise BoundedMembersRentOnly()
    return budget


async def ensure_can_top_up(bot: Bot, admins: AdminCache, chat: Chat, user_id: int) -> None:
    """In a group whose admins turned members' top-ups off, only admins top it up."""
    if chat.is_group and not chat.members_top_up and not await admins.is_admin(bot, chat.id, user_id):
        raise OnlyAdminsTopUp()
