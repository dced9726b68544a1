"""A chat's whole money history: paged on a screen, and all of it as a CSV file. Anyone in a private chat reads
their own; in a group, its admins (asked of Telegram at the tap), since the rows name who spent what. /ledger with
no chat id opens it (an operator's /ledger <chat id> is handlers/admin.py)."""
from __future__ import annotations

import csv
import io
import logging
import math
from dataclasses import replace

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.services.exports import csv_amount
from bot.services.localize import in_zone
from bot.services.pricing import format_money
from bot.services.rentals import RentalService
from bot.services.teams import Teams
from bot.services.wallet import Wallet
from storage import Chat, LedgerEntry, LedgerRepo

from . import keyboards, phones, views
from .callbacks import HistoryCb
from .common import show
from .i18n import Texts
from .ledger_text import ledger_what
from .permissions import AdminCache, OnlyAdmins
from .team_ledger import ledger_lines
from .teams import group_ledger

log = logging.getLogger(__name__)

PAGE_ROWS = 10
CSV_ROWS_MAX = 100_000  # one file; an older history stays in the database (and the operator's backups)


class OnlyAdminsHistory(OnlyAdmins):
    key = "error-only-admins-history"


async def _ensure_may_read(bot: Bot, admins: AdminCache, chat: Chat, user_id: int) -> None:
    """A group's whole history names every member's spending: its admins' to read, checked at this moment."""
    if chat.is_group and not await admins.is_admin(bot, chat.id, user_id):
        raise OnlyAdminsHistory()


async def history_view(chat: Chat, t: Texts, ledger_repo: LedgerRepo, teams: Teams,
                       page: int) -> tuple[str, InlineKeyboardMarkup]:
    entries, total = await ledger_repo.page(chat.id, page * PAGE_ROWS, PAGE_ROWS)
    pages = max(1, math.ceil(total / PAGE_ROWS))
    if page >= pages:  # an old button past the end (rows are only added, so this is rare): the last page
        page = pages - 1
        entries, total = await ledger_repo.page(chat.id, page * PAGE_ROWS, PAGE_ROWS)
    lines = [t("team-ledger-title", title=chat.title, balance=format_money(chat.balance)) if chat.is_group
             else t("money-history-title", balance=format_money(chat.balance))]
    if pages > 1:
        lines.append(t("money-history-page", page=page + 1, pages=pages, rows=total))
    lines.append("")
    if chat.is_group:  # who rented, who approved
        lines += ledger_lines(t, entries, await teams.who_spent(entries))
    else:
        lines += [views.ledger_line(t, e) for e in entries]
    if not entries:
        lines.append(t("balance-empty-ledger"))
    return "\n".join(lines), keyboards.ledger_history(t, page, pages, has_rows=bool(entries))


def history_csv(t: Texts, entries: list[LedgerEntry]) -> str:
    """Oldest first, in the chat's words and time zone; amounts in the balance's currency with a dot."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t("csv-time"), t("csv-what"), t("csv-number"), t("csv-amount"), t("csv-balance-after")])
    for entry in reversed(entries):
        writer.writerow([in_zone(entry.created_at, t.time_zone).isoformat(timespec="seconds"),
                         ledger_what(t, replace(entry, phone=None)),  # the number has its own column
                         phones.display(entry.phone) if entry.phone else "",
                         csv_amount(entry.amount), csv_amount(entry.balance_after)])
    return out.getvalue()


async def ledger_own(message: Message, bot: Bot, chat: Chat, t: Texts, wallet: Wallet, admins: AdminCache,
                     ledger_repo: LedgerRepo, teams: Teams) -> None:
    """/ledger with no chat id: a person's own whole history, a group's for its admins (paged, and as a file); a
    group's members read its recent rows, who spent and who approved."""
    if chat.is_group and not await admins.is_admin(bot, chat.id, message.from_user.id):
        await group_ledger(message, chat, t, ledger_repo, teams)
        return
    text, markup = await history_view(chat, t, ledger_repo, teams, 0)
    if wallet.is_admin(message.from_user.id):  # the operator's own, and how to read any other chat's
        text += "\n\n" + t("admin-ledger-usage")
    await show(message, text, markup)


async def history_page(callback: CallbackQuery, callback_data: HistoryCb, bot: Bot, chat: Chat, t: Texts,
                       admins: AdminCache, ledger_repo: LedgerRepo, teams: Teams) -> None:
    await _ensure_may_read(bot, admins, chat, callback.from_user.id)
    await show(callback, *await history_view(chat, t, ledger_repo, teams, callback_data.page))


async def history_file(callback: CallbackQuery, callback_answer: CallbackAnswer, bot: Bot, chat: Chat, t: Texts,
                       admins: AdminCache, ledger_repo: LedgerRepo, rentals: RentalService) -> None:
    await _ensure_may_read(bot, admins, chat, callback.from_user.id)
    rentals.cooldowns.take(chat.id, "csv")  # a whole history read and sent: not at every tap
    entries, total = await ledger_repo.page(chat.id, 0, CSV_ROWS_MAX)
    if not entries:
        callback_answer.text = t("balance-empty-ledger")
        return
    name = f"history-{chat.id}.csv" if chat.is_group else "history.csv"
    document = BufferedInputFile(history_csv(t, entries).encode("utf-8-sig"), filename=name)  # BOM: Excel reads UTF-8
    caption = t("history-csv-caption", rows=len(entries))
    if total > len(entries):
        caption += "\n" + t("history-csv-cut", rows=len(entries), total=total)
    message = callback.message
    topic = message.message_thread_id if isinstance(message, Message) and message.is_topic_message else None
    try:
        await bot.send_document(chat.id, document, caption=caption, message_thread_id=topic)
    except TelegramAPIError as err:
        log.warning("history file for chat %d not sent: %s", chat.id, err)
        callback_answer.text, callback_answer.show_alert = t("history-csv-not-sent"), True
        return
    callback_answer.text = t("history-csv-sent")


def setup() -> Router:
    router = Router(name="history")
    router.message.register(ledger_own, Command("ledger"))  # with a chat id: the operator's (handlers/admin.py)
    router.callback_query.register(history_file, HistoryCb.filter(F.csv))
    router.callback_query.register(history_page, HistoryCb.filter())
    return router
