"""Balance screen and the operator's credit/debit commands."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.services.errors import BadArguments, NotAllowed
from bot.services.pricing import format_money
from bot.services.wallet import Wallet
from providers.models import to_minor_units

from . import keyboards, views
from .callbacks import MenuCb, Screen
from .common import show
from .context import Ctx
from .i18n import Html, Texts
from .team_ledger import ledger_lines, member_lines
from .topup import topup_methods

# ASCII digits only: int() and \d also take '٥' and '５', which an operator did not mean to type.
AMOUNT = re.compile(r"[0-9]{1,7}([.,][0-9]{1,2})?")
CHAT_ID = re.compile(r"-?[0-9]{1,16}")


async def balance_screen(event: Message | CallbackQuery, ctx: Ctx) -> None:
    """The balance, the recent rows of the ledger and the ways to pay the bot offers."""
    chat, t, services = ctx.chat, ctx.t, ctx.services
    entries = await services.ledger_repo.recent(chat.id, limit=8)
    lines = [t("balance-title", balance=format_money(chat.balance))]
    if chat.is_group and event.from_user is not None:  # the member's own spending, and what is left of a limit
        lines += await member_lines(t, chat, event.from_user.id, services.teams)
    lines.append("")
    if entries:
        lines.append(t("balance-recent"))
        if chat.is_group:  # who rented, who approved
            lines.extend(ledger_lines(t, entries, await services.teams.who_spent(entries)))
        else:
            lines.extend(views.ledger_line(t, e) for e in entries)
    else:
        lines.append(t("balance-empty-ledger"))
    lines += ["", t("balance-how-topup", methods=topup_methods(t, services.cards, services.crypto))]
    if not chat.is_group:  # how others send money here (/transfer)
        lines.append(t("balance-your-id", id=chat.id))
    await show(event, "\n".join(lines), keyboards.balance(t, private=not chat.is_group))


async def balance_command(message: Message, ctx: Ctx) -> None:
    await balance_screen(message, ctx)


async def balance_button(callback: CallbackQuery, ctx: Ctx) -> None:
    await balance_screen(callback, ctx)


def parse_adjustment(args: str | None) -> tuple[int, int, str]:
    """'<chat id> <amount> [note]' -> (chat id, minor units, note)."""
    parts = (args or "").split(maxsplit=2)
    if len(parts) < 2 or not CHAT_ID.fullmatch(parts[0]) or not AMOUNT.fullmatch(parts[1]):
        raise ValueError
    try:
        minor = to_minor_units(Decimal(parts[1].replace(",", ".")))
    except InvalidOperation:
        raise ValueError from None
    if minor <= 0:
        raise ValueError
    return int(parts[0]), minor, parts[2] if len(parts) > 2 else ""


async def adjust_command(message: Message, command: CommandObject, t: Texts, wallet: Wallet) -> None:
    if not wallet.is_admin(message.from_user.id):
        raise NotAllowed()
    try:
        chat_id, minor, note = parse_adjustment(command.args)
    except ValueError:
        raise BadArguments(usage=Html(t("admin-usage"))) from None
    amount = minor if command.command == "credit" else -minor
    entry = await wallet.adjust(message.from_user.id, chat_id, amount, note)
    await message.answer(t("admin-adjusted", chat=chat_id, amount=format_money(amount),
                           balance=format_money(entry.balance_after)))


def setup() -> Router:
    router = Router(name="balance")
    router.message.register(balance_command, Command("balance"))
    router.callback_query.register(balance_button, MenuCb.filter(F.to == Screen.BALANCE))
    router.message.register(adjust_command, Command("credit", "debit"))
    return router
