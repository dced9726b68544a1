"""The last router: a command or a button no other router understood (a typo, forged or outdated callback data)."""
from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.services.errors import StaleButton

from . import keyboards
from .i18n import Texts


async def unknown_command(message: Message, t: Texts) -> None:
    await message.answer(t("error-unknown-command"), reply_markup=keyboards.back_home(t))


async def unknown_button(callback: CallbackQuery) -> None:
    """Forged or outdated callback data that no handler understood: refuse, change nothing."""
    raise StaleButton()


def setup() -> Router:
    router = Router(name="unmatched")
    # Groups share commands with other bots: answer unknown ones only in private chats.
    router.message.register(unknown_command, F.chat.type == "private", F.text.startswith("/"))
    router.callback_query.register(unknown_button)
    return router
