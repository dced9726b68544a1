"""Who may spend a chat's balance: anyone in a private chat; in groups, admins, or members once opened to them.

A rule of the business, asked of a ``Membership``: whoever answers who is in a chat (Telegram, through the
bounded cache in handlers/permissions.py; a test's table). Every spend asks it at that moment (``fresh``): a
demoted admin or a user who left cannot spend on an old answer."""
from __future__ import annotations

from typing import Protocol

from storage import Chat

from .errors import UserFacingError
from .teams import BoundedMembersRentOnly, MemberBudget

ADMIN_STATUSES = frozenset({"creator", "administrator"})
MEMBER_STATUSES = ADMIN_STATUSES | {"member"}


class Membership(Protocol):
    async def status(self, chat_id: int, user_id: int, *, fresh: bool = False) -> str | None:
        """"creator", "administrator" or "member" (a restricted user still in the chat counts as one); None when
        the user is not in the chat. ``fresh``: asked now, not from a cache."""


class OnlyAdmins(UserFacingError):
    key = "error-only-admins"


class OnlyAdminsManage(UserFacingError):
    """Not a spend but the group's number: cancelling, finishing, auto-renew are the admins' too."""

    key = "error-only-admins-manage"


class OnlyAdminsTopUp(UserFacingError):
    key = "error-only-admins-top-up"


class OnlyMembers(UserFacingError):
    key = "error-only-members"


async def may_spend(members: Membership, chat: Chat, user_id: int) -> bool:
    """For telling someone early (the first step of renting): a cached answer is enough; the spend itself asks
    again (``ensure_can_spend``)."""
    if not chat.is_group:
        return True
    status = await members.status(chat.id, user_id)
    if status not in MEMBER_STATUSES:
        return False
    return chat.members_can_rent or status in ADMIN_STATUSES


async def ensure_can_spend(members: Membership, chat: Chat, user_id: int, *,
                           budgeted: bool = False) -> MemberBudget | None:
    """Raises unless this user may spend the chat's balance now. A member within a limit or a cap gets the
    budget the charging transaction checks (``RentRequest.budget``); a caller that cannot check one
    (``budgeted`` False: renewals, plan switches, sets) refuses such a member: they rent single numbers, or ask."""
    if not chat.is_group:
        return None
    status = await members.status(chat.id, user_id, fresh=True)
    if status not in MEMBER_STATUSES:
        raise OnlyMembers() if chat.members_can_rent else OnlyAdmins()
    if status in ADMIN_STATUSES:
        return None
    if not chat.members_can_rent:
        raise OnlyAdmins()
    budget = MemberBudget.of(chat)
    if budget is not None and not budgeted:
        raise BoundedMembersRentOnly()
    return budget


async def ensure_can_top_up(members: Membership, chat: Chat, user_id: int) -> None:
    """In a group whose admins turned members' top-ups off, only admins top it up."""
    if chat.is_group and not chat.members_top_up \
            and await members.status(chat.id, user_id, fresh=True) not in ADMIN_STATUSES:
        raise OnlyAdminsTopUp()
