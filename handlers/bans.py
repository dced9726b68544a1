"""Bans: the operator's /ban and /unban, and the gate in front of every handler flagged as spending or topping
up (aiogram flags "spends", "tops_up"). A banned user or group is told why once; balances and ledger stay."""
from __future__ import annotations

from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.dispatcher.flags import get_flag
from aiogram.filters import Command, CommandObject
from aiogram.types import Message, TelegramObject

from bot.services.errors import BadArguments, NotAllowed, UserFacingError
from bot.services.wallet import Wallet
from storage.bans import BanRepo

from .balance import CHAT_ID
from .i18n import Html, Texts


class Banned(UserFacingError):
    key = "error-banned"


class BannedAgain(UserFacingError):
    key = "error-banned-again"


async def ensure_not_banned(bans: BanRepo, chat_id: int, user_id: int | None) -> None:
    ban = await bans.find(chat_id, user_id)
    if ban is None:
        return
    if not ban.told:
        await bans.mark_told(ban.target)
        raise Banned(reason=ban.reason or "—")
    raise BannedAgain()


class BanGate(BaseMiddleware):
    """Inner middleware: handlers flagged "spends" or "tops_up" do not run for a banned user or chat."""

    def __init__(self, bans: BanRepo) -> None:
        self.bans = bans

    async def __call__(self, handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if get_flag(data, "spends") or get_flag(data, "tops_up"):
            user = data.get("event_from_user")
            chat = data.get("chat")
            user_id = user.id if user else None
            await ensure_not_banned(self.bans, chat.id if chat is not None else user_id, user_id)
        return await handler(event, data)


def _target(args: str | None) -> tuple[int, str]:
    parts = (args or "").split(maxsplit=1)
    if not parts or not CHAT_ID.fullmatch(parts[0]) or int(parts[0]) == 0:
        raise ValueError
    return int(parts[0]), parts[1] if len(parts) > 1 else ""


async def ban_command(message: Message, command: CommandObject, t: Texts, wallet: Wallet, bans: BanRepo) -> None:
    if not wallet.is_admin(message.from_user.id):
        raise NotAllowed()
    try:
        target, reason = _target(command.args)
    except ValueError:
        raise BadArguments(usage=Html(t("ban-usage"))) from None
    if command.command == "unban":
        done = await bans.unban(target)
        await message.answer(t("unbanned" if done else "not-banned", target=target))
        return
    if wallet.is_admin(target):
        raise BadArguments(usage=Html(t("ban-usage")))
    await bans.ban(target, reason, message.from_user.id)
    await message.answer(t("banned", target=target, reason=reason or "—"))


def setup() -> Router:
    router = Router(name="bans")
    router.message.register(ban_command, Command("ban", "unban"))
    return router
