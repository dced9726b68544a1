from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.services.pricing import format_money
from bot.services.support import support_url
from bot.settings import Settings
from storage import Chat

from . import keyboards
from .callbacks import MenuCb, Screen
from .common import show
from .i18n import Texts


def home_text(t: Texts, chat: Chat) -> str:
    balance = format_money(chat.balance)
    return t("welcome-group", title=chat.title, balance=balance) if chat.is_group else t("welcome", balance=balance)


async def start(message: Message, chat: Chat, t: Texts) -> None:
    await show(message, home_text(t, chat), keyboards.main_menu(t))


def help_text(t: Texts, settings: Settings) -> str:
    """How it works, the refund rule in one sentence, and who to ask (the operator's SUPPORT_CONTACT)."""
    text = t("help") + "\n\n" + t("help-refunds")
    if settings.support_contact:
        text += "\n" + t("help-support", contact=settings.support_contact)
    return text


async def help_command(message: Message, t: Texts, settings: Settings) -> None:
    await show(message, help_text(t, settings), keyboards.with_support(t, support_url(settings.support_contact)))


async def home(callback: CallbackQuery, chat: Chat, t: Texts) -> None:
    await show(callback, home_text(t, chat), keyboards.main_menu(t))


async def help_screen(callback: CallbackQuery, t: Texts, settings: Settings) -> None:
    await show(callback, help_text(t, settings), keyboards.with_support(t, support_url(settings.support_contact)))


def setup() -> Router:
    router = Router(name="menu")
    # /start itself is handlers/invites.py's: it records the first start (and an invite link's inviter)
    router.message.register(help_command, Command("help"))
    router.callback_query.register(home, MenuCb.filter(F.to == Screen.HOME))
    router.callback_query.register(help_screen, MenuCb.filter(F.to == Screen.HELP))
    return router
