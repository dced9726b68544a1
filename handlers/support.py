"""/terms (the operator's terms and refund policy, from TERMS_DIR in the chat's language) and /paysupport (what
Telegram asks of bots that take Stars: where to turn about a payment), each with the Support button; and, when the
operator set no SUPPORT_CONTACT, a message to the operators through the bot, which they answer with /reply."""
from __future__ import annotations

import html
import logging
import re

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import CallbackQuery, Message

from bot.services.cooldowns import CoolingDown
from bot.services.errors import BadArguments, NotAllowed, UserFacingError
from bot.services.rentals import RentalService
from bot.services.support import read_terms, support_url
from bot.services.wallet import Wallet
from bot.settings import Settings
from storage import Chat, PromptRepo

from . import keyboards
from .callbacks import MenuCb, Screen
from .common import prompt_answered, show, user_name
from .i18n import Html, Texts

log = logging.getLogger(__name__)
SUPPORT_PROMPT = "support"
SUPPORT_MAX = 2000  # characters of one message to the operators (the header and the reply hint fit beside it)
REPLY_ARGS = re.compile(r"(-?\d{1,20})\s+(.+)", re.S)


class SupportTooSoon(UserFacingError):
    key = "error-support-too-soon"


class NoOperator(UserFacingError):
    key = "error-support-nobody"


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


class AwaitingSupport(Filter):
    """A text answering the bot's "write your message to the operator" (in a group: a reply to the bot)."""

    async def __call__(self, message: Message, chat: Chat, prompts: PromptRepo) -> bool:
        return await prompt_answered(message, chat, prompts, SUPPORT_PROMPT) is not None


async def ask_support(callback: CallbackQuery, chat: Chat, t: Texts, prompts: PromptRepo, wallet: Wallet) -> None:
    if not wallet.admin_ids:
        raise NoOperator()
    await prompts.ask(chat.id, callback.from_user.id, SUPPORT_PROMPT, {})
    hint = "\n" + t("support-ask-reply-here") if chat.is_group else ""  # a group's chatter is not the message
    await show(callback, t("support-ask") + hint, keyboards.back_home(t))


async def support_typed(message: Message, bot: Bot, chat: Chat, t: Texts, prompts: PromptRepo,
                        wallet: Wallet, rentals: RentalService) -> None:
    """The person's message, copied to each operator with who wrote it and how to answer; said sent only when
    at least one operator's chat took it."""
    sender = message.from_user
    try:  # a message anyone can send must not flood the operators' chats: one a minute per person
        rentals.cooldowns.take(0, f"support:{sender.id}")
    except CoolingDown as wait:
        raise SupportTooSoon(seconds=wait.params["seconds"]) from None
    await prompts.clear(chat.id, sender.id)
    where = "" if chat.id == sender.id else f" · {chat.title or chat.id}"
    text = (f"💬 <b>{html.escape(user_name(sender) or str(sender.id))}</b>"
            f" (id <code>{sender.id}</code>{html.escape(where)})"
            f"\n{html.escape(message.text[:SUPPORT_MAX])}\n\n/reply {chat.id} …")
    delivered = 0
    for operator in sorted(wallet.admin_ids):
        try:
            await bot.send_message(operator, text)
            delivered += 1
        except TelegramAPIError as err:  # an operator who never started the bot, or blocked it
            log.warning("support message from %d not delivered to operator %d: %s", sender.id, operator, err)
    await message.answer(t("support-sent" if delivered else "error-support-nobody"),
                         reply_markup=keyboards.back_home(t))


async def reply_command(message: Message, command: CommandObject, bot: Bot, t: Texts, wallet: Wallet) -> None:
    """/reply <chat id> <text>: an operator's answer, sent to the chat the message came from."""
    if not wallet.is_admin(message.from_user.id):
        raise NotAllowed()
    match = REPLY_ARGS.fullmatch((command.args or "").strip())
    if match is None:
        raise BadArguments(usage="/reply <chat id> <text>")
    chat_id, answer = int(match.group(1)), match.group(2)
    try:
        await bot.send_message(chat_id, t("support-answer", text=answer[:SUPPORT_MAX]))
    except TelegramAPIError as err:
        await message.answer(t("support-reply-failed", reason=err.message[:200]))
        return
    await message.answer(t("support-reply-sent", chat=chat_id))


def setup() -> Router:
    router = Router(name="support")
    router.message.register(terms_command, Command("terms"))
    router.message.register(paysupport_command, Command("paysupport"))
    router.message.register(reply_command, Command("reply"))
    router.callback_query.register(ask_support, MenuCb.filter(F.to == Screen.SUPPORT))
    router.message.register(support_typed, F.text, AwaitingSupport())
    return router
