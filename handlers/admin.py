"""Operator panel: provider balances, figures, markup, ledgers, Stars refunds. Admin ids only."""
from __future__ import annotations

import asyncio
from decimal import Decimal, InvalidOperation

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.services.auctions import AuctionDesk
from bot.services.catalogue import Catalogue
from bot.services.errors import BadArguments, NotAllowed, UnknownChat
from bot.services.localize import counted
from bot.services.operator import OperatorDesk
from bot.services.pricing import format_money
from bot.services.topups import StarsRefundPending, StarsRefundRefused, TopUps
from bot.services.wallet import Wallet
from bot.settings import Settings
from bot.stars import RefundOutcome, ask_telegram
from providers import Provider, ProviderError
from providers.models import to_minor_units
from storage import ChatRepo, LedgerRepo, backup

from . import views
from .balance import CHAT_ID
from .callbacks import AuctionsCb, BidCb, MenuCb, PanelCb, Screen, nonce
from .common import show
from .context import Ctx
from .i18n import Html, Texts

PERIODS = (1, 7, 30)


def _require_admin(wallet: Wallet, user_id: int) -> None:
    if not wallet.is_admin(user_id):
        raise NotAllowed()


async def _balance_line(t: Texts, provider: Provider) -> str:
    try:
        balance = await provider.get_balance()
    except ProviderError:
        return t("admin-provider-down", provider=provider.title)
    # in the balance's format ($98.50, not $98.5): the provider's amount, to the cent
    return t("admin-provider-balance", provider=provider.title, balance=format_money(to_minor_units(balance)))


async def panel_view(ctx: Ctx, days: int) -> tuple[str, InlineKeyboardMarkup]:
    t, services = ctx.t, ctx.services
    figures = await services.operator.figures(days)
    lines = await asyncio.gather(*(_balance_line(t, p) for p in services.providers.values()))
    text = t("admin-panel", period=counted(days, "day", t.language), chats=figures.chats,
             active_chats=figures.active_chats, active_rentals=figures.active_rentals, codes=figures.codes_delivered,
             revenue=format_money(figures.revenue), cost=f"${figures.provider_cost:.2f}",
             topups=format_money(figures.topups), markup=services.catalogue.markup_percent,
             balances=Html("\n".join(lines) or "—"))
    row = [InlineKeyboardButton(text=t("btn-days", days=d), callback_data=PanelCb(days=d).pack()) for d in PERIODS]
    rows = [row]
    if services.auctions.enabled:
        rows.append([InlineKeyboardButton(text=t("btn-auctions"), callback_data=AuctionsCb().pack())])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def panel_command(message: Message, ctx: Ctx) -> None:
    _require_admin(ctx.services.wallet, message.from_user.id)
    await show(message, *await panel_view(ctx, 7))


async def panel_period(callback: CallbackQuery, callback_data: PanelCb, ctx: Ctx) -> None:
    _require_admin(ctx.services.wallet, callback.from_user.id)
    if callback_data.days not in PERIODS:
        raise NotAllowed()
    await show(callback, *await panel_view(ctx, callback_data.days))


async def auctions_screen(callback: CallbackQuery, t: Texts, wallet: Wallet, auctions: AuctionDesk) -> None:
    """Active auctions: service, current bid, quantity, end; a bid is typed as /bid (the amount is free)."""
    _require_admin(wallet, callback.from_user.id)
    listed = await auctions.listed()
    lines = [t("auctions-title")]
    lines += [t("auction-line", id=a.id, service=a.service_name, bid=f"${a.current_bid}", quantity=a.amount,
                when=views.when(t, a.end_time)) for a in listed] or [t("auctions-none")]
    lines.append(t("auctions-how"))
    back = InlineKeyboardButton(text=t("back"), callback_data=PanelCb(days=7).pack())
    await show(callback, "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=[[back]]))


async def bid_command(message: Message, command: CommandObject, t: Texts, wallet: Wallet,
                      auctions: AuctionDesk) -> None:
    """/bid <auction id> <amount>: the confirm screen with the total against the provider balance."""
    _require_admin(wallet, message.from_user.id)
    parts = (command.args or "").split()
    try:
        auction_id, amount = parts[0], Decimal(parts[1])
        if len(parts) != 2 or not auction_id.isdigit() or not amount.is_finite() or amount <= 0:
            raise ValueError
    except (IndexError, InvalidOperation, ValueError):
        raise BadArguments(usage=Html(t("admin-bid-usage"))) from None
    quote = await auctions.quote(auction_id, amount)
    text = t("bid-confirm", id=quote.auction_id, service=quote.service, amount=f"${quote.amount}",
             quantity=quote.quantity, total=f"${quote.total}", balance=f"${quote.balance}")
    button = InlineKeyboardButton(text=t("btn-bid", total=f"${quote.total}"), callback_data=BidCb(
        id=quote.auction_id, cents=int(quote.amount * 100), n=nonce()).pack())
    await message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]))


async def place_bid(callback: CallbackQuery, callback_data: BidCb, t: Texts, wallet: Wallet,
                    auctions: AuctionDesk) -> None:
    _require_admin(wallet, callback.from_user.id)  # at the tap, not only when the button was made
    amount = Decimal(callback_data.cents) / 100
    result = await auctions.place(callback.from_user.id, callback_data.id, amount)
    # The provider's words quoted without their own full stop (no "….”."), the bid in the balance's format, and the
    # way on: the auctions again, or home.
    await show(callback, t("bid-placed", id=callback_data.id, reply=(result.message or "—").rstrip(". "),
                           bid=format_money(to_minor_units(result.new_current_bid))),
               InlineKeyboardMarkup(inline_keyboard=[[
                   InlineKeyboardButton(text=t("btn-auctions"), callback_data=AuctionsCb().pack()),
                   InlineKeyboardButton(text=t("home"), callback_data=MenuCb(to=Screen.HOME).pack())]]))


async def ledger_command(message: Message, command: CommandObject, t: Texts, wallet: Wallet, chats: ChatRepo,
                         ledger_repo: LedgerRepo) -> None:
    """/ledger <chat id>: the operator's look at any chat (without an id it is the chat's own: handlers/history.py)."""
    _require_admin(wallet, message.from_user.id)
    if not command.args or not CHAT_ID.fullmatch(command.args.strip()):
        raise BadArguments(usage=Html(t("admin-ledger-usage")))
    chat_id = int(command.args.strip())
    chat = await chats.get(chat_id)
    if chat is None:
        raise UnknownChat(chat_id=chat_id)
    entries = await ledger_repo.recent(chat_id, limit=20)
    lines = [t("admin-ledger-title", chat=chat_id, balance=format_money(chat.balance))]
    lines += [views.ledger_line(t, e) for e in entries] or [t("balance-empty-ledger")]
    await message.answer("\n".join(lines))


async def markup_command(message: Message, command: CommandObject, t: Texts, wallet: Wallet,
                         operator: OperatorDesk) -> None:
    _require_admin(wallet, message.from_user.id)
    try:
        markup = Decimal((command.args or "").strip())
    except InvalidOperation:
        raise BadArguments(usage=Html(t("admin-markup-usage"))) from None
    if not markup.is_finite() or not 0 <= markup <= 1000:
        raise BadArguments(usage=Html(t("admin-markup-usage")))
    await operator.set_markup(markup)
    await message.answer(t("admin-markup-set", markup=markup))


async def refund_stars_command(message: Message, command: CommandObject, bot: Bot, t: Texts, wallet: Wallet,
                               topups: TopUps) -> None:
    _require_admin(wallet, message.from_user.id)
    charge_id = (command.args or "").strip()
    if not charge_id or len(charge_id) > 200:
        raise BadArguments(usage=Html(t("admin-refund-usage")))
    refund = await topups.start_refund(charge_id, message.from_user.id)
    outcome, reason = await ask_telegram(bot, topups.refunds, refund)
    if outcome is RefundOutcome.REFUSED:
        # Telegram's own words (an error code, in English): quoted as Telegram's
        raise StarsRefundRefused(reason=Html(t("refund-reason-telegram", reply=reason)))
    if outcome is RefundOutcome.UNKNOWN:
        raise StarsRefundPending(amount=refund.amount, chat=refund.chat_id)
    await message.answer(t("stars-refunded", charge=charge_id, amount=format_money(refund.amount),
                           chat=refund.chat_id))


async def backup_command(message: Message, t: Texts, wallet: Wallet, settings: Settings) -> None:
    """A backup now, the same as the scheduled one: copied online, checked, the oldest beyond the count removed."""
    _require_admin(wallet, message.from_user.id)
    try:
        made = await asyncio.to_thread(backup.take, settings.database_path, settings.backup_dir, settings.backup_keep)
    except (backup.BackupError, OSError) as err:
        await message.answer(t("admin-backup-failed", reason=str(err)[:300]))
        return
    await message.answer(t("admin-backup-done", file=made.path.name, kb=max(1, made.size // 1024),
                           chats=made.chats, rows=made.ledger_rows))


async def plans_command(message: Message, command: CommandObject, t: Texts, wallet: Wallet, catalogue: Catalogue,
                        providers: dict[str, Provider]) -> None:
    """Each provider's plans with their delivery record over the window, worst first; hidden ones marked."""
    _require_admin(wallet, message.from_user.id)
    hidden = await catalogue.records.hidden()
    lines = [t("admin-plans-title")]
    for name, provider in providers.items():
        found = await catalogue.records.of_provider(name)
        lines.append(t("admin-plans-provider", provider=provider.title))
        for r in found[:30]:
            lines.append(t("admin-plans-line", service=r.service, country=r.country or "—",
                           rentals=Html(t.plural("admin-plans-rentals", r.rentals)),
                           share=round(100 * r.share), seconds=r.median_seconds or 0,
                           hidden=Html(" 🙈") if (name, r.service, r.country) in hidden else ""))
        if not found:
            lines.append("—")
    lines.append(t("admin-plans-hint"))
    await message.answer("\n".join(lines)[:4000])


async def hide_command(message: Message, command: CommandObject, t: Texts, wallet: Wallet, catalogue: Catalogue,
                       providers: dict[str, Provider]) -> None:
    """/hide provider;service;country (and /unhide): the plan is offered to nobody until shown again."""
    _require_admin(wallet, message.from_user.id)
    parts = [p.strip() for p in (command.args or "").split(";")]
    if len(parts) != 3 or parts[0] not in providers or not parts[1]:
        raise BadArguments(usage=Html(t("admin-hide-usage", example="/hide gotsms;Telegram;USA")))
    hide = command.command == "hide"
    await catalogue.records.set_hidden(parts[0], parts[1], parts[2], hide, message.from_user.id)
    await message.answer(t("admin-plan-hidden" if hide else "admin-plan-shown", provider=parts[0],
                           service=parts[1], country=parts[2] or "—"))


def setup() -> Router:
    router = Router(name="admin")
    router.message.register(panel_command, Command("admin"))
    router.callback_query.register(panel_period, PanelCb.filter())
    router.callback_query.register(auctions_screen, AuctionsCb.filter())
    router.callback_query.register(place_bid, BidCb.filter())
    router.message.register(bid_command, Command("bid"))
    router.message.register(ledger_command, Command("ledger", magic=F.args))
    router.message.register(markup_command, Command("markup"))
    router.message.register(plans_command, Command("plans"))
    router.message.register(hide_command, Command("hide", "unhide"))
    router.message.register(refund_stars_command, Command("refund_stars"))
    router.message.register(backup_command, Command("backup"))
    return router
