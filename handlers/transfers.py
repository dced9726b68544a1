"""/transfer: a member funds a group from their own balance, or sends money to another user; confirmed first,
by the sender only. In a group: into the group, or, replying to a member's message, to that member. In private:
to the user whose id is given (their id is on their balance screen)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.services.errors import BadArguments, NotAllowed, NotEnoughBalance, StaleButton, UserFacingError
from bot.services.pricing import format_money
from bot.services.transfers import Transfers
from providers.models import to_minor_units
from storage import Chat, ChatRepo

from . import keyboards
from .balance import AMOUNT, CHAT_ID
from .callbacks import TransferCb, nonce
from .common import show, user_name
from .i18n import Html, Texts
from .permissions import AdminCache, OnlyMembers, ensure_can_top_up, is_member


class StartPrivateFirst(BadArguments):
    """The sender has no balance of their own yet: that is the private chat with the bot."""

    key = "error-transfer-start"


class OwnBalanceShort(UserFacingError):
    """In a group: short, without saying by how much (that would tell the group the sender's balance)."""

    key = "error-transfer-short-group"


def _amount(text: str) -> int:
    if not AMOUNT.fullmatch(text):
        raise ValueError
    try:
        return to_minor_units(Decimal(text.replace(",", ".")))
    except InvalidOperation:
        raise ValueError from None


async def _member_now(bot: Bot, admins: AdminCache, chat_id: int, user_id: int) -> None:
    member = await admins.member(bot, chat_id, user_id, fresh=True)
    if member is None or not is_member(member):
        raise OnlyMembers()


async def transfer_command(message: Message, command: CommandObject, bot: Bot, chat: Chat, t: Texts,
                           chats: ChatRepo, transfers: Transfers, admins: AdminCache) -> None:
    sender = message.from_user
    parts = (command.args or "").split()
    reply = message.reply_to_message
    try:
        amount = _amount(parts[0]) if parts else 0
        if chat.is_group and reply is not None and reply.from_user and not reply.from_user.is_bot and len(parts) == 1:
            recipient_id = reply.from_user.id  # to a member, by replying to them
        elif chat.is_group and len(parts) == 1:
            recipient_id = chat.id  # into the group
        elif not chat.is_group and len(parts) == 2 and CHAT_ID.fullmatch(parts[1]) and not parts[1].startswith("-"):
            recipient_id = int(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise BadArguments(usage=Html(t("transfer-usage"))) from None
    if await chats.get(sender.id) is None:
        raise StartPrivateFirst()
    if chat.is_group:
        await _member_now(bot, admins, chat.id, sender.id)
        if recipient_id == chat.id:  # funding the group is topping it up: the group's setting decides
            await ensure_can_top_up(bot, admins, chat, sender.id)
    await transfers.check(sender.id, recipient_id, amount)
    recipient = await chats.get(recipient_id)
    own = await chats.get(sender.id)
    to = recipient.title or str(recipient_id)
    if chat.is_group:  # a person's own balance is theirs: the group sees the amount and the recipient only
        if own.balance < amount:
            raise OwnBalanceShort()
        text = t("transfer-confirm-group", amount=format_money(amount), to=to)
    elif own.balance < amount:
        raise NotEnoughBalance(missing=amount - own.balance, price=amount, balance=own.balance)
    else:
        text = t("transfer-confirm", amount=format_money(amount), to=to, balance=format_money(own.balance),
                 after=format_money(own.balance - amount))
    button = TransferCb(to=recipient_id, c=amount, u=sender.id, n=nonce())
    await message.answer(text, reply_markup=keyboards.transfer_confirm(t, button, format_money(amount)))


async def transfer_confirmed(callback: CallbackQuery, callback_data: TransferCb, bot: Bot, chat: Chat, t: Texts,
                             chats: ChatRepo, transfers: Transfers, admins: AdminCache) -> None:
    sender = callback.from_user
    if sender.id != callback_data.u:
        raise NotAllowed()  # only the one who asked moves their own money
    if callback_data.to != chat.id and callback_data.to < 0:
        raise StaleButton()  # a group is funded only from inside it
    if chat.is_group:
        await _member_now(bot, admins, chat.id, sender.id)  # asked again at the tap: they may have left
        if callback_data.to == chat.id:
            await ensure_can_top_up(bot, admins, chat, sender.id)
    recipient = await chats.get(callback_data.to)
    if recipient is None:
        raise StaleButton()
    try:
        after = await transfers.move(sender.id, recipient.id, callback_data.c, callback_data.n,
                                     sender_name=user_name(sender), recipient_name=recipient.title or str(recipient.id))
    except NotEnoughBalance:
        if chat.is_group:
            raise OwnBalanceShort() from None
        raise
    # A user who received it is told in their own chat by the money news loop (bot/outbound/money_news.py): the move
    # wrote that notice with its ledger rows, so it arrives once, across 429s and restarts; a blocked bot undoes
    # nothing.
    to = recipient.title or str(recipient.id)
    if chat.is_group:
        await show(callback, t("transfer-done-group", sender=user_name(sender), amount=format_money(callback_data.c),
                               to=to))
    else:
        await show(callback, t("transfer-done", amount=format_money(callback_data.c), to=to,
                               balance=format_money(after)))


def setup() -> Router:
    router = Router(name="transfers")
    router.message.register(transfer_command, Command("transfer"), flags={"spends": True})
    router.callback_query.register(transfer_confirmed, TransferCb.filter(), flags={"spends": True})
    return router
