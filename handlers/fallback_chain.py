"""The fallback chain's card (bot/services/fallback_chain.py): drawn again, or stopped."""
from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer

from .callbacks import ChainAction, ChainCb
from .context import Ctx
from .permissions import ensure_can_spend
from .rent_outcome import show_chain


async def chain_card(callback: CallbackQuery, callback_data: ChainCb, callback_answer: CallbackAnswer,
                     ctx: Ctx) -> None:
    chat, t, services = ctx.chat, ctx.t, ctx.services
    chains = services.chains
    chain = await chains.owned(chat.id, callback_data.id)  # another chat's chain: a stale or forged button
    if callback_data.a is ChainAction.STOP and chain.is_open:
        # Stopping spends nothing: whoever may spend here (a member within a limit too) may stop it.
        await ensure_can_spend(ctx.bot, services.admins, chat, callback.from_user.id, budgeted=True)
        chain = await chains.stop(chat.id, chain.id)
        callback_answer.text = t("chain-stopped-answer" if chain.status != "stopping" else "chain-stopping-answer")
    await show_chain(callback, chat, t, chains, services.providers, chain.id)


def setup() -> Router:
    router = Router(name="fallback_chain")
    router.callback_query.register(chain_card, ChainCb.filter())
    return router
