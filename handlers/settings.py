"""Settings: the chat's language; in groups, who may spend the group balance (admins decide)."""
from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.services.errors import NotAllowed
from storage import Chat, ChatRepo

from .callbacks import GroupRentCb, LangCb, MenuCb, Screen
from .common import show
from .i18n import Texts, available_languages
from .permissions import AdminCache

LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


def settings_view(t: Texts, chat: Chat) -> tuple[str, InlineKeyboardMarkup]:
    text = t("settings-title", language=LANGUAGE_NAMES.get(chat.language, chat.language))
    rows = [[InlineKeyboardButton(text=t("btn-lang", name=LANGUAGE_NAMES.get(code, code)),
                                  callback_data=LangCb(code=code).pack()) for code in available_languages()]]
    if chat.is_group:
        who = t("settings-who-all") if chat.members_can_rent else t("settings-who-admins")
        text += "\n" + t("settings-group-rent", who=who)
        key = "btn-only-admins-rent" if chat.members_can_rent else "btn-members-can-rent"
        rows.append([InlineKeyboardButton(text=t(key),
                                          callback_data=GroupRentCb(all=not chat.members_can_rent).pack())])
    rows.append([InlineKeyboardButton(text=t("home"), callback_data=MenuCb(to=Screen.HOME).pack())])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def _require_group_admin(bot: Bot, admins: AdminCache, chat: Chat, user_id: int) -> None:
    if chat.is_group and not await admins.is_admin(bot, chat.id, user_id):
        raise NotAllowed()


async def settings_command(message: Message, chat: Chat, t: Texts) -> None:
    await show(message, *settings_view(t, chat))


async def settings_button(callback: CallbackQuery, chat: Chat, t: Texts) -> None:
    await show(callback, *settings_view(t, chat))


async def set_language(callback: CallbackQuery, callback_data: LangCb, bot: Bot, chat: Chat, chats: ChatRepo,
                       admins: AdminCache) -> None:
    if callback_data.code not in available_languages():
        raise NotAllowed()
    await _require_group_admin(bot, admins, chat, callback.from_user.id)
    await chats.set_language(chat.id, callback_data.code)
    chat = await chats.get(chat.id)
    await show(callback, *settings_view(Texts(chat.language), chat))


async def set_group_rent(callback: CallbackQuery, callback_data: GroupRentCb, bot: Bot, chat: Chat, t: Texts,
                         chats: ChatRepo, admins: AdminCache) -> None:
    if not chat.is_group:
        raise NotAllowed()
    await _require_group_admin(bot, admins, chat, callback.from_user.id)
    await chats.set_members_can_rent(chat.id, callback_data.all)
    await show(callback, *settings_view(t, await chats.get(chat.id)))


def setup() -> Router:
    router = Router(name="settings")
    router.message.register(settings_command, Command("settings"))
    router.callback_query.register(settings_button, MenuCb.filter(F.to == Screen.SETTINGS))
    router.callback_query.register(set_language, LangCb.filter())
    router.callback_query.register(set_group_rent, GroupRentCb.filter())
    return router
