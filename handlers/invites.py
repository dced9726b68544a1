"""Referrals: the invite screen (link, invited count, earnings) and the /start that came through a link.
The rules are in bot/services/referrals.py."""
from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message

from bot.services.pricing import format_money
from bot.services.referrals import Referrals
from storage import Chat

from . import keyboards
from .callbacks import MenuCb, Screen
from .common import show
from .i18n import Texts
from .menu import start
from .numbers import HIDDEN_CODES_START, start_for_hidden_codes


async def invite_view(bot: Bot, t: Texts, referrals: Referrals, user_id: int):
    link = await referrals.link(bot, user_id)
    summary = await referrals.summary(user_id)
    rule = (t("invite-rule", percent=f"{referrals.percent.normalize():f}") if referrals.enabled
            else t("invite-rule-off"))
    text = t("invite-title") + "\n" + rule + "\n\n" + t("invite-link", link=link) + "\n" + t(
        "invite-stats", invited=summary.invited, earned=format_money(summary.earned))
    return text, keyboards.invite(t, link)


async def invite_command(message: Message, bot: Bot, chat: Chat, t: Texts, referrals: Referrals) -> None:
    if chat.is_group:  # a person's link and earnings: shown in their private chat, not to the group
        me = await bot.me()
        await message.answer(t("invite-in-private", bot=me.username or ""))
        return
    await show(message, *await invite_view(bot, t, referrals, message.from_user.id))


async def invite_button(callback: CallbackQuery, bot: Bot, chat: Chat, t: Texts, referrals: Referrals) -> None:
    if chat.is_group:
        me = await bot.me()
        await callback.answer(t("invite-in-private", bot=me.username or ""), show_alert=True)
        return
    await show(callback, *await invite_view(bot, t, referrals, callback.from_user.id))


async def start_invited(message: Message, command: CommandObject, chat: Chat, t: Texts,
                        referrals: Referrals) -> None:
    """/start <code> from an invite link: the inviter is recorded if this is the user's first /start."""
    if not chat.is_group and message.from_user is not None:
        await referrals.started(message.from_user.id, command.args)
    await start(message, chat, t)


async def start_plain(message: Message, chat: Chat, t: Texts, referrals: Referrals) -> None:
    """/start without a link: recorded as the first start (no inviter), so a link opened later sets none."""
    if not chat.is_group and message.from_user is not None:
        await referrals.started(message.from_user.id, None)
    await start(message, chat, t)


def setup() -> Router:
    router = Router(name="invites")
    router.message.register(start_for_hidden_codes,
                            CommandStart(deep_link=True, magic=F.args.startswith(HIDDEN_CODES_START)))
    router.message.register(start_invited, CommandStart(deep_link=True))
    router.message.register(start_plain, CommandStart())
    router.message.register(invite_command, Command("invite"))
    router.callback_query.register(invite_button, MenuCb.filter(F.to == Screen.INVITE))
    return router
