"""The operator's CSV exports, sent as documents: /export <chat id> (its ledger), /revenue [days] (by day)."""
from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.services.errors import BadArguments, NotAllowed, UnknownChat
from bot.services.operator import OperatorDesk
from bot.services.wallet import Wallet
from storage import ChatRepo

from .balance import CHAT_ID
from .i18n import Html, Texts

log = logging.getLogger(__name__)
REVENUE_DAYS_MAX = 366


async def send_report(message: Message, t: Texts, text: str, filename: str, caption: str) -> None:
    """An operator's report as a document; Telegram refusing it is said as what it is (a report not sent), never
    as the generic apology about charges that a person's tap gets."""
    try:
        await message.answer_document(BufferedInputFile(text.encode(), filename=filename), caption=caption)
    except TelegramAPIError as err:
        log.warning("the report %s was not sent: %s", filename, err)
        await message.answer(t("export-not-sent", file=filename, reason=str(err)[:200]))


async def export_command(message: Message, command: CommandObject, t: Texts, wallet: Wallet, chats: ChatRepo,
                         operator: OperatorDesk) -> None:
    if not wallet.is_admin(message.from_user.id):
        raise NotAllowed()
    arg = (command.args or "").strip()
    if not CHAT_ID.fullmatch(arg):
        raise BadArguments(usage=Html(t("export-usage")))
    chat_id = int(arg)
    if await chats.get(chat_id) is None:
        raise UnknownChat(chat_id=chat_id)
    text, rows = await operator.ledger_csv(chat_id)
    await send_report(message, t, text, f"ledger-{chat_id}.csv", t("export-ledger", chat=chat_id, rows=rows))


async def revenue_command(message: Message, command: CommandObject, t: Texts, wallet: Wallet,
                          operator: OperatorDesk) -> None:
    if not wallet.is_admin(message.from_user.id):
        raise NotAllowed()
    arg = (command.args or "30").strip()
    if not arg.isascii() or not arg.isdigit() or not 1 <= int(arg) <= REVENUE_DAYS_MAX:
        raise BadArguments(usage=Html(t("revenue-usage")))
    text, days = await operator.revenue_csv(int(arg))
    await send_report(message, t, text, f"revenue-{arg}d.csv", t("export-revenue", days=arg, rows=days))


def setup() -> Router:
    router = Router(name="exports")
    router.message.register(export_command, Command("export"))
    router.message.register(revenue_command, Command("revenue"))
    return router
