"""The bot joining or leaving groups. Chat-id migration is handled in ChatContextMiddleware."""
from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import JOIN_TRANSITION, LEAVE_TRANSITION, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated

from storage import ChatRepo, SmsRepo

from .i18n import Texts, pick_language
from .permissions import AdminCache


async def bot_joined(event: ChatMemberUpdated, bot: Bot, chats: ChatRepo, admins: AdminCache) -> None:
    if event.chat.type not in ("group", "supergroup"):
        return
    known = await chats.get(event.chat.id)
    language = known.language if known else pick_language(event.from_user.language_code)
    chat = await chats.ensure(event.chat.id, event.chat.type, event.chat.title or "", language)
    admins.forget(chat.id)
    me = await bot.me()
    await bot.send_message(chat.id, Texts(chat.language)("group-welcome", title=chat.title, bot=me.username))


async def bot_left(event: ChatMemberUpdated, chats: ChatRepo, admins: AdminCache) -> None:
    # Rentals and history stay: if the bot comes back, the pool is there.
    if await chats.get(event.chat.id):
        await chats.set_active(event.chat.id, False)
    admins.forget(event.chat.id)


async def bot_rights_changed(event: ChatMemberUpdated, sms_repo: SmsRepo) -> None:
    """Promoted, given rights back, a topic reopened: codes waiting for this chat are tried at once."""
    await sms_repo.retry_chat_now(event.chat.id)


async def member_changed(event: ChatMemberUpdated, admins: AdminCache) -> None:
    """Promoted, demoted, left, banned: the cached answer becomes the new one at once."""
    admins.remember(event.chat.id, event.new_chat_member.user.id, event.new_chat_member)


def setup() -> Router:
    router = Router(name="groups")
    router.my_chat_member.register(bot_joined, ChatMemberUpdatedFilter(JOIN_TRANSITION))
    router.my_chat_member.register(bot_left, ChatMemberUpdatedFilter(LEAVE_TRANSITION))
    router.my_chat_member.register(bot_rights_changed)
    router.chat_member.register(member_changed)
    return router
