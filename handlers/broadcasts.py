"""The operator's broadcasts: /broadcast, the preview, the audience, the confirm, the progress message, Cancel.

/broadcast followed by the text (or as a photo's caption), or sent as a reply to the message to send: the bot
answers with that exact message (the preview) and, under it, who should get it. A last line
``Label | https://example.com`` becomes one URL button. Sending is in the background (bot/outbound/broadcaster.py)."""
from __future__ import annotations

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.services.broadcasts import BroadcastGone, Broadcasts, parse
from bot.services.errors import NotAllowed
from bot.services.wallet import Wallet
from storage import Chat
from storage.broadcasts import Broadcast, Counts

from . import keyboards
from .callbacks import BroadcastAct, BroadcastCb
from .common import show
from .i18n import Texts


def _require_admin(wallet: Wallet, user_id: int) -> None:
    if not wallet.is_admin(user_id):
        raise NotAllowed()


AUDIENCE_NAMES = {"all": "broadcast-to-all", "private": "broadcast-to-private", "groups": "broadcast-to-groups"}


def audience_name(t: Texts, audience: str) -> str:
    return t(AUDIENCE_NAMES[audience])


def progress_view(t: Texts, broadcast: Broadcast, counts: Counts) -> tuple[str, InlineKeyboardMarkup | None]:
    """The one message that follows a broadcast: sending, done or cancelled, with its counts."""
    if broadcast.status == "cancelled" and not broadcast.audience:
        return t("broadcast-dropped", id=broadcast.id), None
    state = {"sending": "broadcast-sending", "done": "broadcast-done"}.get(broadcast.status, "broadcast-cancelled")
    text = t(state, id=broadcast.id, audience=audience_name(t, broadcast.audience or "all"), total=counts.total,
             sent=counts.sent, failed=counts.failed, blocked=counts.blocked, left=counts.pending)
    markup = keyboards.broadcast_running(t, broadcast.id) if broadcast.status == "sending" else None
    return text, markup


async def _choice_view(t: Texts, broadcasts: Broadcasts, broadcast: Broadcast) -> tuple[str, InlineKeyboardMarkup]:
    sizes = await broadcasts.audience_sizes()
    return (t("broadcast-choose", id=broadcast.id),
            keyboards.broadcast_audience(t, broadcast.id, sizes))


async def broadcast_command(message: Message, t: Texts, chat: Chat, wallet: Wallet, broadcasts: Broadcasts) -> None:
    """The preview (the exact message) and the audience choice under it."""
    _require_admin(wallet, message.from_user.id)
    source = message.reply_to_message
    if source is not None:  # the message replied to is the one to send, as it is
        photo = source.photo[-1].file_id if source.photo else ""
        content = parse(source.html_text, photo, strip_command=False)
    else:
        photo = message.photo[-1].file_id if message.photo else ""
        content = parse(message.html_text, photo)
    draft = await broadcasts.draft(message.from_user.id, chat.id, chat.language, content)
    link = keyboards.broadcast_link(content.button_text, content.button_url)
    try:
        if content.photo:
            await message.answer_photo(content.photo, caption=content.text, reply_markup=link)
        else:
            await message.answer(content.text, reply_markup=link)
    except TelegramBadRequest as err:  # the preview is the real message: what Telegram refuses here, it would refuse
        await broadcasts.cancel(draft.id)
        await message.answer(t("broadcast-refused", reply=err.message[:200]))
        return
    text, markup = await _choice_view(t, broadcasts, draft)
    await message.answer(text, reply_markup=markup)


async def broadcast_button(callback: CallbackQuery, callback_data: BroadcastCb, t: Texts, wallet: Wallet,
                           broadcasts: Broadcasts) -> None:
    _require_admin(wallet, callback.from_user.id)  # at the tap, not only when the button was made
    broadcast = await broadcasts.get(callback_data.id)
    act = callback_data.act
    if act is BroadcastAct.STOP or (act is BroadcastAct.DROP and broadcast.status != "draft"):
        stopped = await broadcasts.cancel(broadcast.id)
        await show(callback, *progress_view(t, stopped, await broadcasts.counts(stopped.id)))
        return
    if broadcast.status != "draft":  # an old preview's button: the broadcast has gone on since
        await show(callback, *progress_view(t, broadcast, await broadcasts.counts(broadcast.id)))
        raise BroadcastGone()
    if act is BroadcastAct.DROP:
        dropped = await broadcasts.cancel(broadcast.id)
        await show(callback, *progress_view(t, dropped, await broadcasts.counts(dropped.id)))
    elif act is BroadcastAct.BACK or not callback_data.to:
        await show(callback, *await _choice_view(t, broadcasts, broadcast))
    elif act is BroadcastAct.PICK:
        count = (await broadcasts.audience_sizes())[callback_data.to]
        await show(callback, t("broadcast-confirm", id=broadcast.id, audience=audience_name(t, callback_data.to),
                               count=count),
                   keyboards.broadcast_confirm(t, broadcast.id, callback_data.to, count))
    elif act is BroadcastAct.SEND:
        message_id = callback.message.message_id if callback.message else None
        started = await broadcasts.start(broadcast.id, callback_data.to, message_id)
        await show(callback, *progress_view(t, started, await broadcasts.counts(started.id)))


def setup() -> Router:
    router = Router(name="broadcasts")
    router.message.register(broadcast_command, Command("broadcast"))
    router.callback_query.register(broadcast_button, BroadcastCb.filter())
    return router
