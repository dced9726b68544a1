"""/terms (the operator's terms and refund policy, from TERMS_DIR in the chat's language) and /paysupport (what
Telegram asks of bots that take Stars: where to turn about a payment), each with the Support button."""
from __future__ import annotations

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import Message

from bot.services.support import read_terms, support_url
from bot.settings import Settings

from . import keyboards
from .i18n import Html, Texts


async def terms_command(message: Message, t: Texts, settings: Settings) -> None:
    terms = read_terms(settings.terms_dir, t.language)
    markup = keyboards.with_support(t, support_url(settings.support_contact))
    if not terms:
        await message.answer(t("terms-missing"), reply_markup=markup)
        return
    try:
        await message.answer(Html(terms), reply_markup=markup)
    except TelegramBadRequest:  # the operator's HTML does not parse: shown as typed rather than not at all
        await message.answer(terms, reply_markup=markup, parse_mode=None)


async def paysupport_command(message: Message, t: Texts, settings: Settings) -> None:
    contact = settings.support_contact.strip()
    text = t("paysupport") + "\n\n" + (t("help-support", contact=contact) if contact else t("paysupport-no-contact"))
    await message.answer(text, reply_markup=keyboards.with_support(t, support_url(contact)))


def setup() -> Router:
    router = Router(name="support")
    router.message.register(terms_command, Command("terms"))
    router.message.register(paysupport_command, Command("paysupport"))
    return router
