"""📤 Forward codes of a number (issue 18): its screen, the chat or URL typed in answer, the chat's secret.

Only the member who rented the number, or a group's admin (asked of Telegram at each press), sets it. The rules
are in bot/services/forwarding.py; the sending in bot/outbound/forwarding.py."""
from __future__ import annotations

import logging
import re
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, ChatMember, ForceReply, Message, ReplyKeyboardRemove
from aiogram.utils.callback_answer import CallbackAnswer

from bot.services.errors import UserFacingError
from bot.services.forwarding import Forwarding
from storage import Chat, PromptRepo, RentalRecord

from . import keyboards, phones, views
from .callbacks import ForwardAction, ForwardCb
from .common import prompt_answered, show
from .context import Ctx
from .i18n import Texts
from .permissions import ADMIN_STATUSES, AdminCache, is_member

log = logging.getLogger(__name__)
FORWARD_PROMPT = "forward"
CHAT_ID = re.compile(r"-?[0-9]{1,20}")
ME = ("me", "я")


class ForwardNotAllowed(UserFacingError):
    key = "error-forward-not-allowed"


class ForwardChatInvalid(UserFacingError):
    key = "error-forward-chat-invalid"


class ForwardChatSame(UserFacingError):
    key = "error-forward-chat-same"


class ForwardChatNotYours(UserFacingError):
    key = "error-forward-chat-not-yours"


class ForwardChatUnreachable(UserFacingError):
    key = "error-forward-chat-unreachable"


class ForwardChatNotAdmin(UserFacingError):
    key = "error-forward-chat-not-admin"


class ForwardChatCannotPost(UserFacingError):
    key = "error-forward-chat-cannot-post"


class ForwardSecretRefused(UserFacingError):
    key = "error-private-refused"


async def ensure_may_forward(bot: Bot, admins: AdminCache, chat: Chat, rental: RentalRecord, user_id: int) -> None:
    """A private chat's own numbers; in a group the member who rented the number or an admin (asked now)."""
    if chat.is_group and rental.user_id != user_id and not await admins.is_admin(bot, chat.id, user_id):
        raise ForwardNotAllowed()


def bot_may_post(member: ChatMember | None, chat_type: str) -> bool:
    if member is None:
        return False
    if member.status == "creator":
        return True
    if member.status == "administrator":
        return chat_type != "channel" or bool(getattr(member, "can_post_messages", False))
    if chat_type == "channel":
        return False
    if member.status == "restricted":
        return is_member(member) and bool(getattr(member, "can_send_messages", False))
    return member.status == "member"


async def chat_target(bot: Bot, admins: AdminCache, chat: Chat, user_id: int, text: str) -> int:
    """The chat typed ("me": the person's private chat with the bot), if the person may send codes there and the
    bot can write there: the person an admin of that group, the bot a member allowed to post."""
    text = text.strip()
    if text.lower() in ME:
        target = user_id
    elif CHAT_ID.fullmatch(text):
        target = int(text)
    else:
        raise ForwardChatInvalid()
    if target == chat.id:
        raise ForwardChatSame()
    if target > 0 and target != user_id:
        raise ForwardChatNotYours()  # someone else's private chat: they did not ask for it
    try:
        found = await bot.get_chat(target)
    except (TelegramBadRequest, TelegramForbiddenError) as err:
        log.info("forward target %d refused by Telegram: %s", target, err.message)
        raise ForwardChatUnreachable() from None
    if target < 0:
        member = await admins.member(bot, target, user_id, fresh=True)
        if member is None or member.status not in ADMIN_STATUSES:
            raise ForwardChatNotAdmin()
        me = await bot.me()
        if not bot_may_post(await admins.member(bot, target, me.id, fresh=True), found.type):
            raise ForwardChatCannotPost()
    return target


async def forward_view(t: Texts, chat: Chat, rental: RentalRecord, forwarding: Forwarding, *,
                       secret: str = "") -> tuple[str, Any]:
    target = await forwarding.target(rental.id)
    if target is None:
        state = t("forward-state-none")
    else:
        state = views.forward_line(t, target)
    lines = [t("forward-title", service=rental.service_name, phone=phones.display(rental.phone or "")), state, "",
             t("forward-help")]
    if secret:
        lines += ["", t("forward-secret", secret=secret)]
    return "\n".join(lines), keyboards.forward_menu(t, rental.id, on=target is not None, group=chat.is_group,
                                                    secret_shown=bool(secret))


async def send_secret_privately(bot: Bot, t: Texts, chat: Chat, user_id: int, secret: str) -> None:
    try:
        await bot.send_message(user_id, t("forward-secret-private", title=chat.title, secret=secret))
    except (TelegramForbiddenError, TelegramBadRequest) as err:
        log.info("forward secret of chat %d: private message to %d refused: %s", chat.id, user_id, err.message)
        raise ForwardSecretRefused() from None


async def forward_press(callback: CallbackQuery, callback_data: ForwardCb, callback_answer: CallbackAnswer,
                        ctx: Ctx) -> None:
    chat, t, bot, services = ctx.chat, ctx.t, ctx.bot, ctx.services
    forwarding = services.forwarding
    rental = await services.rentals.owned(chat.id, callback_data.id)  # a forged or foreign id: "out of date"
    user_id = callback.from_user.id
    await ensure_may_forward(bot, services.admins, chat, rental, user_id)
    action, secret = callback_data.a, ""
    if action in (ForwardAction.CHAT, ForwardAction.URL):
        await services.prompts.ask(chat.id, user_id, FORWARD_PROMPT, {"rental": rental.id, "kind": action.value})
        picker = action is ForwardAction.CHAT and not chat.is_group  # Telegram's chat picker: private chats only
        ask = "forward-ask-url" if action is ForwardAction.URL else "forward-ask-chat" if picker else \
            "forward-ask-chat-group"
        await show(callback, t(ask), keyboards.forward_prompt(t, rental.id))
        if picker and callback.message is not None:
            await callback.message.answer(t("forward-picker-placeholder"),
                                          reply_markup=keyboards.forward_chat_picker(t))
        if chat.is_group and callback.message is not None:  # a member answers by replying
            placeholder = t("forward-placeholder-chat" if action is ForwardAction.CHAT else "forward-placeholder-url")
            await callback.message.answer(t("forward-reply-here", name=callback.from_user.first_name or ""),
                                          reply_markup=ForceReply(selective=True, input_field_placeholder=placeholder))
        return
    if action is ForwardAction.STOP:
        await forwarding.stop(rental.id)
        callback_answer.text = t("forward-stopped")
    elif action in (ForwardAction.SECRET, ForwardAction.ROTATE):
        if action is ForwardAction.ROTATE:
            secret = await forwarding.rotate(chat.id)
            callback_answer.text = t("forward-secret-rotated")
        else:
            secret = await forwarding.secret(chat.id)
        if chat.is_group:  # never on a screen the whole group sees
            await send_secret_privately(bot, t, chat, user_id, secret)
            callback_answer.text = t("forward-secret-sent")
            secret = ""
    text, markup = await forward_view(t, chat, rental, forwarding, secret=secret)
    await show(callback, text, markup)


class AwaitingForward(Filter):
    """A text answering "send the chat / the URL" from this user in this chat (in a group: a reply to the bot)."""

    async def __call__(self, message: Message, chat: Chat, prompts: PromptRepo) -> bool | dict[str, Any]:
        asked = await prompt_answered(message, chat, prompts, FORWARD_PROMPT)
        return False if asked is None else {"forward_asked": asked}


class ForwardChatPicked(Filter):
    """A chat picked with the picker's group button, answering "pick the chat" (private chats only)."""

    async def __call__(self, message: Message, chat: Chat, prompts: PromptRepo) -> bool | dict[str, Any]:
        shared = message.chat_shared
        if shared is None or shared.request_id != keyboards.FORWARD_PICK_REQUEST or message.from_user is None:
            return False
        asked = await prompts.pending(chat.id, message.from_user.id)
        if asked is None or asked[0] != FORWARD_PROMPT or asked[1].get("kind") != ForwardAction.CHAT.value:
            return False
        return {"forward_asked": asked[1]}


async def target_typed(message: Message, forward_asked: dict, ctx: Ctx) -> None:
    chat, t, bot, services = ctx.chat, ctx.t, ctx.bot, ctx.services
    forwarding = services.forwarding
    # One answer: a refused one is asked again from the screen.
    await services.prompts.clear(chat.id, message.from_user.id)
    rental = await services.rentals.owned(chat.id, int(forward_asked["rental"]))
    user_id = message.from_user.id
    await ensure_may_forward(bot, services.admins, chat, rental, user_id)
    if forward_asked.get("kind") == ForwardAction.URL.value:
        done = await forwarding.set_url(chat.id, rental.id, message.text, user_id)
        notice = t("forward-set-url", target=views.forward_target_text(done))
    else:
        target = await chat_target(bot, services.admins, chat, user_id, message.text)
        done = await forwarding.set_chat(rental.id, target, user_id)
        notice = t("forward-set-chat", target=views.forward_target_text(done))
    await _told_set(message, t, chat, rental, forwarding, notice,
                    picker=forward_asked.get("kind") == ForwardAction.CHAT.value)


async def target_picked(message: Message, forward_asked: dict, ctx: Ctx) -> None:
    """The group picked in Telegram's picker: checked as a typed id is (Telegram filtered it by the same rules,
    but the update is the sender's to forge)."""
    chat, t, bot, services = ctx.chat, ctx.t, ctx.bot, ctx.services
    forwarding = services.forwarding
    await services.prompts.clear(chat.id, message.from_user.id)
    rental = await services.rentals.owned(chat.id, int(forward_asked["rental"]))
    user_id = message.from_user.id
    await ensure_may_forward(bot, services.admins, chat, rental, user_id)
    target = await chat_target(bot, services.admins, chat, user_id, str(message.chat_shared.chat_id))
    done = await forwarding.set_chat(rental.id, target, user_id)
    await _told_set(message, t, chat, rental, forwarding, t("forward-set-chat", target=views.forward_target_text(done)),
                    picker=True)


async def _told_set(message: Message, t: Texts, chat: Chat, rental: RentalRecord, forwarding: Forwarding,
                    notice: str, *, picker: bool) -> None:
    """Said where the codes now go; in a private chat the chat picker's keyboard goes away with it (a message
    carries one keyboard: the notice takes the removal, the screen its buttons)."""
    text, markup = await forward_view(t, chat, rental, forwarding)
    if chat.is_group or not picker:
        await message.answer(notice + "\n\n" + text, reply_markup=markup)
        return
    await message.answer(notice, reply_markup=ReplyKeyboardRemove())
    await message.answer(text, reply_markup=markup)


def setup() -> Router:
    router = Router(name="forwarding")
    router.callback_query.register(forward_press, ForwardCb.filter())
    router.message.register(target_typed, F.text, AwaitingForward())
    router.message.register(target_picked, F.chat_shared, ForwardChatPicked())
    return router
