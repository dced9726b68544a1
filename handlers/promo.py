"""Promo codes: /redeem <code> (or the balance screen's button, then the code typed) for a chat; the operator's
/promo to make, list and turn off codes. The rules are in bot/services/promos.py."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import CallbackQuery, ForceReply, Message

from bot.services import promos as promo_rules
from bot.services.errors import BadArguments, NotAllowed
from bot.services.pricing import format_money
from bot.services.promos import Promos
from bot.services.wallet import Wallet
from providers.models import to_minor_units
from storage import Chat, PromptRepo
from storage.models import utcnow
from storage.promos import PromoCode

from . import keyboards, views
from .balance import AMOUNT
from .callbacks import MenuCb, Screen
from .common import prompt_answered, show
from .i18n import Html, Texts
from .permissions import AdminCache, ensure_can_spend

PROMO_PROMPT = "promo"
USES = re.compile(r"[0-9]{1,7}")


class AwaitingPromo(Filter):
    """A text answering the bot's "type the promo code" to this user in this chat (in a group: a reply to the bot)."""

    async def __call__(self, message: Message, chat: Chat, prompts: PromptRepo) -> bool:
        return await prompt_answered(message, chat, prompts, PROMO_PROMPT) is not None


async def redeem(message: Message, bot: Bot, chat: Chat, t: Texts, promos: Promos, admins: AdminCache,
                 code: str) -> None:
    """In a group only those who may spend its balance redeem into it (the group's one use of the code)."""
    await ensure_can_spend(bot, admins, chat, message.from_user.id, budgeted=True)  # adds, spends nothing
    result = await promos.redeem(chat.id, message.from_user.id, code)
    await message.answer(t("promo-redeemed", code=result.promo.code, amount=format_money(result.entry.amount),
                           balance=format_money(result.entry.balance_after)))


async def ask_code(event: Message | CallbackQuery, chat: Chat, t: Texts, prompts: PromptRepo) -> None:
    await prompts.ask(chat.id, event.from_user.id, PROMO_PROMPT, {})
    await show(event, t("promo-ask"), keyboards.promo_prompt(t))
    if chat.is_group:  # a member answers by replying: this opens the reply for the one who asked
        message = event.message if isinstance(event, CallbackQuery) else event
        await message.answer(t("promo-reply-here", name=event.from_user.first_name or ""),
                             reply_markup=ForceReply(selective=True, input_field_placeholder=t("promo-placeholder")))


async def redeem_command(message: Message, command: CommandObject, bot: Bot, chat: Chat, t: Texts, promos: Promos,
                         admins: AdminCache, prompts: PromptRepo) -> None:
    code = (command.args or "").strip()
    if not code:
        await ask_code(message, chat, t, prompts)
        return
    await redeem(message, bot, chat, t, promos, admins, code)


async def promo_button(callback: CallbackQuery, chat: Chat, t: Texts, prompts: PromptRepo) -> None:
    await ask_code(callback, chat, t, prompts)


async def code_typed(message: Message, bot: Bot, chat: Chat, t: Texts, promos: Promos, admins: AdminCache,
                     prompts: PromptRepo) -> None:
    await prompts.clear(chat.id, message.from_user.id)  # one answer: a wrong code is typed again with /redeem
    await redeem(message, bot, chat, t, promos, admins, message.text.strip())


# -- the operator's /promo --------------------------------------------------------------------------------------


def promo_line(t: Texts, promo: PromoCode) -> str:
    now = utcnow()
    state = ("promo-state-off" if promo.disabled else "promo-state-expired" if promo.expired(now)
             else "promo-state-used-up" if promo.uses >= promo.max_uses else "promo-state-on")
    until = views.when(t, promo.expires_at) if promo.expires_at else t("promo-no-expiry")
    return t("promo-line", code=promo.code, amount=format_money(promo.amount), uses=promo.uses,
             max_uses=promo.max_uses, until=until, state=t(state))


def parse_promo(args: str) -> tuple[str, int, int, str | None]:
    """'<CODE> <amount> <uses> [<days or YYYY-MM-DD>]' -> (code, minor units, uses, expiry text)."""
    parts = args.split()
    if not 3 <= len(parts) <= 4 or not AMOUNT.fullmatch(parts[1]) or not USES.fullmatch(parts[2]):
        raise ValueError
    try:
        amount = to_minor_units(Decimal(parts[1].replace(",", ".")))
    except InvalidOperation:
        raise ValueError from None
    return parts[0], amount, int(parts[2]), parts[3] if len(parts) == 4 else None


async def promo_command(message: Message, command: CommandObject, t: Texts, wallet: Wallet, promos: Promos) -> None:
    """/promo: the codes; /promo CODE amount uses [expiry]: a new code."""
    if not wallet.is_admin(message.from_user.id):
        raise NotAllowed()
    args = (command.args or "").strip()
    usage = Html(t("admin-promo-usage"))
    if not args:
        listed = await promos.listed()
        lines = [t("promo-list-title")] + ([promo_line(t, p) for p in listed] or [t("promo-list-empty")])
        await message.answer("\n".join(lines + ["", t("admin-promo-usage")]))
        return
    try:
        code, amount, uses, expiry = parse_promo(args)
        expires_at = promo_rules.parse_expiry(expiry) if expiry else None
        made = await promos.create(message.from_user.id, code, amount, uses, expires_at)
    except (ValueError, BadArguments):
        raise BadArguments(usage=usage) from None
    await message.answer(t("promo-created", line=Html(promo_line(t, made)), code=made.code))


async def promo_off_command(message: Message, command: CommandObject, t: Texts, wallet: Wallet,
                            promos: Promos) -> None:
    """/promo_off CODE: no more redemptions of it (those made stay)."""
    if not wallet.is_admin(message.from_user.id):
        raise NotAllowed()
    code = (command.args or "").strip()
    if not code or len(code.split()) != 1:
        raise BadArguments(usage=Html(t("admin-promo-usage")))
    await promos.disable(code)
    await message.answer(t("promo-disabled", code=promo_rules.normalize(code)))


def setup() -> Router:
    router = Router(name="promo")
    router.message.register(promo_command, Command("promo"))
    router.message.register(promo_off_command, Command("promo_off"))
    router.message.register(redeem_command, Command("redeem"), flags={"tops_up": True})
    router.callback_query.register(promo_button, MenuCb.filter(F.to == Screen.PROMO), flags={"tops_up": True})
    router.message.register(code_typed, F.text, AwaitingPromo(), flags={"tops_up": True})
    return router
