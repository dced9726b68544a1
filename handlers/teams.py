"""Groups as teams: a member's request for a number (posted in the group with Approve / Decline for admins), the
admins' decision, the group's ledger with who spent and who approved, a member's own spending."""
from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.services.choosing import Wishes
from bot.services.errors import NotAllowed, UserFacingError
from bot.services.offers import offer_from_dict
from bot.services.pricing import format_money
from bot.services.teams import Teams
from storage import Chat, LedgerRepo
from storage.teams import SpendRequest

from . import keyboards, views
from .callbacks import DecideCb, RequestCb
from .common import show, user_name
from .context import Ctx
from .i18n import Texts
from .permissions import AdminCache, OnlyMembers, is_member
from .team_ledger import ledger_lines
from .topics import open_with_card

log = logging.getLogger(__name__)
LEDGER_ROWS = 20
STATUS_KEYS = {"renting": "request-renting", "approved": "request-approved", "declined": "request-declined",
               "expired": "request-expired", "failed": "request-failed"}


class OnlyAdminsDecide(UserFacingError):
    key = "error-only-admins-decide"


def request_text(t: Texts, found: SpendRequest, *, price: int | None = None) -> str:
    """The request as posted: who asks, the plan and its price, until when; then what became of it."""
    offer = offer_from_dict(found.offer)
    lines = [t("request-title", member=found.user_name, service=offer.service_name),
             t("request-plan", duration=views.duration_text(t, offer.billing, offer.duration_label,
                                                             offer.duration_minutes),
               country=views.country_text(t, offer.country), price=format_money(found.price))]
    if found.status == "open":
        lines.append(t("request-until", when=views.when(t, found.expires_at), zone=views.zone_of(t, found.expires_at)))
        if price is not None:
            lines.append(t("request-price-rose", price=format_money(price), old=format_money(found.price)))
    else:
        lines.append(t(STATUS_KEYS[found.status], admin=found.decided_name, member=found.user_name))
    return "\n".join(lines)


def request_markup(t: Texts, found: SpendRequest, price: int | None = None) -> InlineKeyboardMarkup | None:
    if found.status == "open":
        shown = found.price if price is None else price
        return keyboards.request_decision(t, found.id, format_money(shown), 0 if price is None else price)
    if found.rental_id and found.status == "approved":
        return keyboards.to_card(t, found.rental_id)
    return None


async def request_number(callback: CallbackQuery, callback_data: RequestCb, callback_answer: CallbackAnswer,
                         bot: Bot, chat: Chat, t: Texts, teams: Teams, admins: AdminCache) -> None:
    """Anyone in the group may ask; the request is one new message, the confirm screen stays as it was."""
    if not chat.is_group:
        raise NotAllowed()
    member = await admins.member(bot, chat.id, callback.from_user.id, fresh=True)
    if member is None or not is_member(member):
        raise OnlyMembers()
    found = await teams.ask(chat, callback.from_user.id, user_name(callback.from_user), callback_data.snap,
                            callback_data.i, Wishes(area=callback_data.a, carrier=callback_data.c,
                                                     cap=callback_data.x, renew=callback_data.r), callback_data.n)
    posted = await show(callback, request_text(t, found), request_markup(t, found), new=True)
    if posted is not None:
        await teams.requests.set_message(found.id, posted.message_id)
    callback_answer.text = t("request-sent")


async def decide(callback: CallbackQuery, callback_data: DecideCb, callback_answer: CallbackAnswer, ctx: Ctx) -> None:
    chat, t, services = ctx.chat, ctx.t, ctx.services
    teams = services.teams
    if not chat.is_group or not await services.admins.is_admin(ctx.bot, chat.id, callback.from_user.id):
        raise OnlyAdminsDecide()  # asked at the tap: a demoted admin decides nothing
    name = user_name(callback.from_user)
    if not callback_data.ok:
        decision = await teams.decline(chat, callback_data.id, callback.from_user.id, name)
    else:
        decision = await teams.approve(chat, callback_data.id, callback.from_user.id, name, callback_data.p)
    found = decision.request
    if decision.outcome == "price":
        callback_answer.text = t("request-price-rose-short", price=format_money(decision.price))
        await show(callback, request_text(t, found, price=decision.price), request_markup(t, found, decision.price))
        return
    if decision.outcome == "closed":
        callback_answer.text = t("request-decided-before")
    elif decision.outcome == "expired":
        callback_answer.text = t("request-expired-short")
    await show(callback, request_text(t, found), request_markup(t, found))
    if decision.outcome == "approved" and decision.rental is not None and decision.rental.status == "active":
        # A topic per number: the approved number gets its topic, its card there (the request stays here).
        await open_with_card(ctx, decision.rental)


async def group_ledger(message: Message, chat: Chat, t: Texts, ledger_repo: LedgerRepo, teams: Teams) -> None:
    """/ledger in a group: its recent rows, each rent with the member who rented and the admin who approved."""
    entries = await ledger_repo.recent(chat.id, limit=LEDGER_ROWS)
    lines = [t("team-ledger-title", title=chat.title, balance=format_money(chat.balance))]
    lines += ledger_lines(t, entries, await teams.who_spent(entries)) or [t("balance-empty-ledger")]
    await message.answer("\n".join(lines))


def setup() -> Router:
    router = Router(name="teams")
    router.callback_query.register(request_number, RequestCb.filter(), flags={"spends": True})
    router.callback_query.register(decide, DecideCb.filter(), flags={"spends": True})
    return router
