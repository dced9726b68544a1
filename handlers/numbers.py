"""My numbers and the number card with every action the provider supports."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.services.budget import OnWait
from bot.services.cooldowns import CoolingDown
from bot.services.errors import (
    ActionUnavailable,
    AlreadyRequested,
    RenewPriceChanged,
    StaleButton,
    UserFacingError,
)
from bot.services.pricing import format_money
from bot.services.rentals import RentalService
from bot.services.switches import PlanSwitches
from providers import Capability, Provider
from storage import Chat, RentalRecord, SmsRepo

from . import keyboards, phones, views
from .bans import ensure_not_banned
from .callbacks import CONFIRMED, RENEW_CONFIRMED, CardAction, CardCb, NumbersCb, SwitchCb, SwitchPlanCb, shown_price
from .common import render_error, show, user_name
from .context import Ctx
from .i18n import Texts
from .permissions import AdminCache, OnlyAdmins, OnlyAdminsManage, ensure_can_spend

log = logging.getLogger(__name__)
PRIVATE_CODES = 5  # the hidden codes "show privately" sends, newest first
HIDDEN_CODES_START = "codes-"  # /start codes-<rental>: the deep link a member who never started the bot gets


class OnlyRenterOrAdmins(UserFacingError):
    key = "error-only-renter-or-admins"


class PrivateRefused(UserFacingError):
    key = "error-private-refused"


class PrivateTooSoon(UserFacingError):
    key = "error-private-too-soon"


# Actions that spend or return the chat's money: in groups only those allowed to spend may press them.
SPENDING = {CardAction.CANCEL, CardAction.FINISH, CardAction.RENEW, CardAction.AUTO_ON, CardAction.AUTO_OFF,
            CardAction.SWITCH}


async def show_earlier(callback: CallbackQuery, chat: Chat, t: Texts, rentals: RentalService,
                       pressed: AlreadyRequested) -> None:
    """A Rent button pressed again (a plan's, an alert's, a set's): what that tap did then, and the way to its
    number; while the first tap is still at work, its short notice (the screen is that tap's to change)."""
    earlier = await rentals.rentals.get(pressed.params.get("rental_id", 0))
    if earlier is None or earlier.chat_id != chat.id or earlier.status == "pending":
        raise pressed
    await show(callback, views.already_rented(t, earlier), keyboards.to_card(t, earlier.id))


async def show_card(event: Message | CallbackQuery, ctx: Ctx, rental_id: int, *, new: bool = False) -> None:
    """The number's card as it is now (``new``: as a new message, leaving the one tapped as it is)."""
    chat, services = ctx.chat, ctx.services
    rental = await services.rentals.owned(chat.id, rental_id)
    facts = await services.number_cards.of(rental, chat.is_group)
    if (shown := await show(event, *views.number_card(chat, ctx.t, facts), new=new)) is not None:
        services.screens.card_shown(chat.id, shown.message_id, rental.card_id)  # a code arriving under it refreshes it


async def _set_cancel_question(ctx: Ctx, first: RentalRecord) -> tuple[str, InlineKeyboardMarkup]:
    """Cancel for a number shared by several services, asked first: which services stop, and what comes back."""
    t, services = ctx.t, ctx.services
    members = await services.sets.cancellable(ctx.chat.id, first.set_id)
    if not members:
        raise ActionUnavailable()
    back = format_money(sum(m.price_charged for m in members if services.rentals.cancel_refunds(m)))
    phone = phones.display(next((m.phone for m in members if m.phone), first.phone or ""))
    text = t("set-cancel-confirm", phone=phone, services=", ".join(m.service_name for m in members), price=back)
    return text, keyboards.cancel_confirm(t, first.id, back)


def renew_now_question(t: Texts, chat: Chat, rental: RentalRecord, price: int) -> tuple[str, InlineKeyboardMarkup]:
    """Renew now, asked first: at most what it takes, until when it then runs, the balance after, and that
    ending early gives nothing back. A button that showed no price (older) is asked at today's renewal price."""
    price = price if price >= 0 else rental.renewal_price
    if chat.balance < price:  # said before the tap that would be refused: what is missing, and the way to top up
        return (t("renew-now-short", service=rental.service_name, phone=phones.display(rental.phone or ""),
                  price=format_money(price), balance=format_money(chat.balance),
                  missing=format_money(price - chat.balance)), keyboards.renew_short(t, rental.id))
    minutes = rental.duration_minutes or 0
    until = rental.active_till + timedelta(minutes=minutes) if rental.active_till and minutes else None
    text = t("renew-now-confirm", service=rental.service_name, phone=phones.display(rental.phone or ""),
             price=format_money(price), balance=format_money(chat.balance),
             after=format_money(chat.balance - price),
             until=views.when(t, until) if until else "—", zone=views.zone_of(t, until) if until else "")
    return text, keyboards.renew_now_confirm(t, rental.id, price)


async def numbers_screen(event: Message | CallbackQuery, chat: Chat, t: Texts, rentals: RentalService,
                         page: int) -> None:
    per = keyboards.NUMBERS_PER_PAGE
    items, total = await rentals.rentals.for_chat(chat.id, offset=max(page, 0) * per, limit=per)
    if total == 0:
        await show(event, t("numbers-empty"), keyboards.main_menu(t))
        return
    pages = math.ceil(total / per)
    names = await rentals.rentals.set_names([r.set_id for r in items if r.set_id])
    labels = [(r.id, views.number_label(t, r, names.get(r.set_id))) for r in items]
    title = t("numbers-title", page=min(page, pages - 1) + 1, pages=pages) if pages > 1 else t("numbers-title-one")
    rows = "\n".join(views.number_row(t, r, names.get(r.set_id)) for r in items)
    await show(event, f"{title}\n{rows}", keyboards.numbers(t, labels, page, pages))


async def numbers_command(message: Message, chat: Chat, t: Texts, rentals: RentalService) -> None:
    await numbers_screen(message, chat, t, rentals, 0)


async def numbers_page(callback: CallbackQuery, callback_data: NumbersCb, chat: Chat, t: Texts,
                       rentals: RentalService) -> None:
    await numbers_screen(callback, chat, t, rentals, callback_data.page)


async def _under_pushed_code(callback: CallbackQuery, rental_id: int, sms_repo: SmsRepo) -> bool:
    message = callback.message
    if message is None or isinstance(message, InaccessibleMessage):
        return False
    return await sms_repo.is_pushed_message(rental_id, message.message_id)


@dataclass(frozen=True, slots=True)
class CardTap:
    """A tap on a number card's button, checked: the rental is this chat's, the person may do what it costs."""
    callback: CallbackQuery
    data: CardCb
    answer: CallbackAnswer
    ctx: Ctx
    rental: RentalRecord
    new: bool  # under a pushed code: answered with a new message, the code stays in the chat

    @property
    def confirmed(self) -> bool:
        return self.data.n == CONFIRMED

    def working(self) -> OnWait:
        """For an action that gives money back and waits its turn for the provider: the tap is answered at once
        ("working on it") rather than left spinning; the card then shows how it ended."""
        callback, answer, t = self.callback, self.answer, self.ctx.t

        async def working() -> None:
            if answer.answered or answer.disabled:
                return  # said already
            answer.disable()  # answered here: the middleware must not answer it again
            try:
                await callback.answer(t("card-working"))
            except TelegramAPIError as err:  # the action goes on either way
                log.info("the working notice was not shown: %s", err)
        return working

    async def ask(self, text: str, markup: InlineKeyboardMarkup) -> None:
        """A question before the action (or a screen of its own): the card waits."""
        await show(self.callback, text, markup, new=self.new)

    async def done(self, notice: str = "", rental_id: int | None = None) -> None:
        """The tap's short answer, then the card as it is now (``rental_id``: a renewal's new rental)."""
        if notice:
            self.answer.text = notice[:200]
        await show_card(self.callback, self.ctx, rental_id or self.rental.id, new=self.new)


async def card_tap(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer,
                   ctx: Ctx) -> CardTap:
    """Checked before any card action: the rental is this chat's (a forged id is not), renting more is not for
    the banned, and what spends or manages a group's number is for those who may, asked at this moment."""
    action, chat, services = callback_data.a, ctx.chat, ctx.services
    rental = await services.rentals.owned(chat.id, callback_data.id)
    if action in (CardAction.RENEW, CardAction.SWITCH, CardAction.AUTO_ON):  # renting more: not while banned
        await ensure_not_banned(services.bans, chat.id, callback.from_user.id)
    if action in SPENDING:
        try:
            # Cancelling, finishing, auto-renew off spend nothing more: a member within a limit may (no budget).
            await ensure_can_spend(ctx.bot, services.admins, chat, callback.from_user.id,
                                   budgeted=action in (CardAction.CANCEL, CardAction.FINISH, CardAction.AUTO_OFF))
        except OnlyAdmins:
            # The reason that fits the button: renting again spends; the others manage the group's number.
            raise (OnlyAdmins() if action in (CardAction.RENEW, CardAction.SWITCH) else OnlyAdminsManage()) from None
    # A pushed code stays in the chat: its buttons answer with a new message instead of editing it.
    new = await _under_pushed_code(callback, rental.id, services.sms_repo)
    return CardTap(callback, callback_data, callback_answer, ctx, rental, new)


async def card_shown(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer,
                     ctx: Ctx) -> None:
    await (await card_tap(callback, callback_data, callback_answer, ctx)).done()


async def card_refresh(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer,
                       ctx: Ctx) -> None:
    tap = await card_tap(callback, callback_data, callback_answer, ctx)
    rentals, chat_id = ctx.services.rentals, ctx.chat.id
    if tap.rental.set_id and tap.rental.id == tap.rental.set_id:  # a number shared by several services: all of them
        for member in await ctx.services.sets.members(tap.rental):
            if member.status == "active":
                await rentals.refresh(chat_id, member.id)
    else:
        await rentals.refresh(chat_id, tap.rental.id)
    await tap.done(ctx.t("card-refreshed"))


async def card_cancel(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer,
                      ctx: Ctx) -> None:
    """Asked first (the number stops receiving codes, and what comes back, or that nothing does), then done."""
    tap = await card_tap(callback, callback_data, callback_answer, ctx)
    chat, t, rentals, rental = ctx.chat, ctx.t, ctx.services.rentals, tap.rental
    if rental.set_id and rental.id == rental.set_id:  # a number shared by several services: Cancel is for all
        if not tap.confirmed:
            await tap.ask(*await _set_cancel_question(ctx, rental))
            return
        _, back = await ctx.services.sets.cancel(chat.id, rental.set_id, tap.working())
        await tap.done(t("cancelled", price=format_money(back)))
        await _close_topic(ctx)
        return
    if not tap.confirmed:
        rental = await rentals.cancellable(chat.id, rental.id)
        phone = phones.display(rental.phone or "")
        if rentals.cancel_refunds(rental):
            price = format_money(rental.price_charged)
            await tap.ask(t("cancel-confirm", service=rental.service_name, phone=phone, price=price),
                          keyboards.cancel_confirm(t, rental.id, price))
        else:
            await tap.ask(t("end-confirm", service=rental.service_name, phone=phone,
                            when=views.when(t, rental.active_till), zone=views.zone_of(t, rental.active_till)),
                          keyboards.end_confirm(t, rental.id))
        return
    refunds = rentals.cancel_refunds(rental)
    done = await rentals.cancel(chat.id, rental.id, tap.working())
    await tap.done(t("cancelled", price=format_money(done.price_charged)) if refunds else t("ended"))
    await _close_topic(ctx)


async def card_finish(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer,
                      ctx: Ctx) -> None:
    """Asked first: the number stops taking codes and nothing comes back (before a code, Cancel would)."""
    tap = await card_tap(callback, callback_data, callback_answer, ctx)
    chat, t, rentals = ctx.chat, ctx.t, ctx.services.rentals
    if not tap.confirmed:
        rental = await rentals.active_with(chat.id, tap.rental.id, Capability.FINISH)
        price = format_money(rental.price_charged)
        text = t("finish-confirm", service=rental.service_name, phone=phones.display(rental.phone or ""),
                 price=price)
        has_sms = bool(await ctx.services.sms_repo.for_rental(rental.id, limit=1))
        if Capability.CANCEL in rentals.actions(rental, has_sms=has_sms) and rentals.cancel_refunds(rental):
            text += "\n" + t("finish-confirm-no-code", price=price)
        await tap.ask(text, keyboards.finish_confirm(t, rental.id))
        return
    await rentals.finish(chat.id, tap.rental.id, tap.working())
    await tap.done(t("finished"))
    await _close_topic(ctx)


async def card_auto_renew(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer,
                          ctx: Ctx) -> None:
    """On: said first, what each renewal charges and when the first one comes. Off: at once."""
    tap = await card_tap(callback, callback_data, callback_answer, ctx)
    chat, t, rental = ctx.chat, ctx.t, tap.rental
    turn_on = callback_data.a is CardAction.AUTO_ON
    if turn_on and not tap.confirmed:
        price = format_money(rental.renewal_price)
        await tap.ask(t("auto-renew-confirm", service=rental.service_name, phone=phones.display(rental.phone or ""),
                        price=price, when=views.when(t, rental.active_till), zone=views.zone_of(t, rental.active_till),
                        balance=format_money(chat.balance)),
                      keyboards.auto_renew_confirm(t, rental.id, price))
        return
    done = await ctx.services.rentals.set_auto_renew(chat.id, rental.id, turn_on, tap.working())
    await tap.done(t("auto-renew-set-on" if done.auto_renew else "auto-renew-set-off"))


async def card_wake(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer,
                    ctx: Ctx) -> None:
    tap = await card_tap(callback, callback_data, callback_answer, ctx)
    await ctx.services.rentals.wake_up(ctx.chat.id, tap.rental.id)  # its reply ("Wake up request sent.") says no more
    await tap.done(ctx.t("woken"))


async def card_renew(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer,
                     ctx: Ctx) -> None:
    """At the price the button showed; a button without one (older) shows today's price first. A long number
    renewed in place charges a whole period at once: asked first, with what it buys."""
    tap = await card_tap(callback, callback_data, callback_answer, ctx)
    chat, t, services, rental = ctx.chat, ctx.t, ctx.services, tap.rental
    provider = services.providers.get(rental.provider)
    if (not callback_data.n.startswith(RENEW_CONFIRMED) and provider is not None
            and provider.renews_in_place(rental.offer_id)):
        await tap.ask(*renew_now_question(t, chat, rental, shown_price(callback_data.n)))
        return
    try:
        fresh = await services.rentals.renew(chat.id, callback.from_user.id, user_name(callback.from_user),
                                             rental.id, callback_data.n or "card",
                                             shown_price=shown_price(callback_data.n))
    except RenewPriceChanged as changed:  # nothing charged: the card comes back with today's price
        await tap.done(render_error(t, changed))
        return
    if fresh.renewing:
        await tap.done(t("renewal-pending"))
    elif fresh.id == rental.id:  # one more period of the same number
        await tap.done(t("renewed", price=format_money(fresh.renewal_price)))
    else:
        await tap.done(t("renewed", price=format_money(fresh.price_charged)), fresh.id)


async def card_switch(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer,
                      ctx: Ctx) -> None:
    """The longer plans this number can switch to."""
    tap = await card_tap(callback, callback_data, callback_answer, ctx)
    t, providers = ctx.t, ctx.services.providers
    rental, snapshot, longer = await ctx.services.switches.offers(ctx.chat.id, tap.rental.id)
    labels = [views.offer_label(t, p, providers[p.offer.provider].title) for p in longer]
    await tap.ask(t("switch-title", service=rental.service_name, phone=rental.phone or ""),
                  keyboards.switch_plans(t, rental.id, snapshot, labels))


async def card_history(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer,
                       ctx: Ctx) -> None:
    tap = await card_tap(callback, callback_data, callback_answer, ctx)
    messages = await ctx.services.rentals.history(ctx.chat.id, tap.rental.id)
    await tap.ask(*views.history(ctx.t, tap.rental, messages, spoiler=ctx.chat.spoils_codes))


async def card_private(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer,
                       ctx: Ctx) -> None:
    """The codes deleted from the group, sent privately to the renter or an admin who taps."""
    tap = await card_tap(callback, callback_data, callback_answer, ctx)
    try:
        callback_answer.text = await send_hidden_privately(ctx, ctx.chat, tap.rental, callback.from_user.id)
    except PrivateRefused as refused:  # never started the bot: Telegram opens it, Start then sends the codes
        me = await ctx.bot.me()
        callback_answer.text, callback_answer.show_alert = render_error(ctx.t, refused), True
        callback_answer.url = f"https://t.me/{me.username}?start={HIDDEN_CODES_START}{tap.rental.id}"


async def _close_topic(ctx: Ctx) -> None:
    """A number ended: its topic closed now (the job would, within 30 s); best effort."""
    if ctx.chat.topic_per_number:
        await ctx.services.number_topics.close_ended(ctx.bot)


async def send_hidden_privately(ctx: Ctx, chat: Chat, rental: RentalRecord, user_id: int) -> str:
    """The codes deleted from the group ``chat``, in a private message to the member who rented the number or an
    admin (asked of Telegram at the tap: a demoted admin gets nothing). Returns the tap's answer."""
    bot, t, rentals, sms_repo, admins = (ctx.bot, ctx.t, ctx.services.rentals, ctx.services.sms_repo,
                                         ctx.services.admins)
    if not chat.is_group:
        raise OnlyRenterOrAdmins()
    members = await rentals.rentals.in_set(rental.set_id) if rental.set_id else [rental]
    renters = {member.user_id for member in members}
    if user_id not in renters and not await admins.is_admin(bot, chat.id, user_id):
        raise OnlyRenterOrAdmins()
    # A private message per tap: paced per person and number (Telegram's limits are the bot's, shared by all).
    try:
        rentals.cooldowns.take(rental.id, f"private:{user_id}")
    except CoolingDown as wait:
        raise PrivateTooSoon(seconds=wait.params["seconds"]) from None
    hidden = []
    for member in members:
        hidden += [(sms, member) for sms in await sms_repo.hidden_for_rental(member.id, limit=PRIVATE_CODES)]
    if not hidden:
        return t("private-codes-none")
    hidden.sort(key=lambda pair: pair[0].id, reverse=True)
    texts = []
    for member in {m.id: m for _, m in hidden}.values():
        mine = [sms for sms, m in hidden[:PRIVATE_CODES] if m.id == member.id]
        if mine:
            texts.append(views.private_codes(t, member, mine, chat.title))
    try:
        await bot.send_message(user_id, "\n\n".join(texts))
    except (TelegramForbiddenError, TelegramBadRequest) as err:  # never started the bot, or blocked it
        log.info("hidden codes of rental %d: private message to %d refused: %s", rental.id, user_id, err.message)
        me = await bot.me()
        raise PrivateRefused(bot=me.username or "") from None
    return t("private-codes-sent")


async def start_for_hidden_codes(message: Message, command: CommandObject, ctx: Ctx) -> None:
    """/start codes-<rental> from the hidden codes' tap of a member who had never started the bot: the codes
    are sent now, with the same checks as the tap (the payload is the user's to forge)."""
    if message.chat.type != "private" or message.from_user is None:
        return
    services = ctx.services
    await services.referrals.started(message.from_user.id, None)
    rental_id = command.args.removeprefix(HIDDEN_CODES_START)
    rental = await services.rentals.rentals.get(int(rental_id)) if rental_id.isdigit() else None
    group = await services.chats.get(rental.chat_id) if rental is not None else None
    if rental is None or group is None:
        raise StaleButton()
    await send_hidden_privately(ctx, group, rental, message.from_user.id)


async def switch_confirm(callback: CallbackQuery, callback_data: SwitchPlanCb, bot: Bot, chat: Chat, t: Texts,
                         switches: PlanSwitches, providers: dict[str, Provider], admins: AdminCache) -> None:
    """The price, the new plan and its end, stated before anything is charged."""
    await ensure_can_spend(bot, admins, chat, callback.from_user.id)
    quote = await switches.quote(chat.id, callback_data.id, callback_data.snap, callback_data.i)
    rental, offer = quote.rental, quote.offer
    if chat.balance < quote.price:
        text = t("confirm-short", service=rental.service_name, price=format_money(quote.price),
                 balance=format_money(chat.balance), missing=format_money(quote.price - chat.balance))
        await show(callback, text, keyboards.to_card(t, rental.id))
        return
    provider = providers.get(rental.provider)
    text = t("switch-confirm", service=rental.service_name, phone=rental.phone or "",
             provider=provider.title if provider else rental.provider,
             duration=views.duration_text(t, offer.billing, offer.duration_label, offer.duration_minutes),
             price=format_money(quote.price), ends=views.when(t, quote.ends_about),
             zone=views.zone_of(t, quote.ends_about),
             after=format_money(chat.balance - quote.price))
    await show(callback, text, keyboards.switch_confirm(t, rental.id, callback_data.snap, callback_data.i,
                                                        format_money(quote.price)))


async def switch_plan(callback: CallbackQuery, callback_data: SwitchCb, callback_answer: CallbackAnswer,
                      ctx: Ctx) -> None:
    chat, services = ctx.chat, ctx.services
    await ensure_can_spend(ctx.bot, services.admins, chat, callback.from_user.id)
    done = await services.switches.switch(chat.id, callback.from_user.id, callback_data.id, callback_data.snap,
                                          callback_data.i, callback_data.n)
    duration = views.duration_text(ctx.t, done.billing, done.duration_label, done.duration_minutes)
    callback_answer.text = ctx.t("switched", duration=duration)[:200]
    await show_card(callback, ctx, done.id)


def setup() -> Router:
    router = Router(name="numbers")
    router.message.register(numbers_command, Command("numbers"))
    router.callback_query.register(numbers_page, NumbersCb.filter())
    for handler, actions in ((card_shown, (CardAction.SHOW,)), (card_refresh, (CardAction.REFRESH,)),
                             (card_cancel, (CardAction.CANCEL,)), (card_finish, (CardAction.FINISH,)),
                             (card_auto_renew, (CardAction.AUTO_ON, CardAction.AUTO_OFF)),
                             (card_wake, (CardAction.WAKE,)), (card_renew, (CardAction.RENEW,)),
                             (card_switch, (CardAction.SWITCH,)), (card_history, (CardAction.HISTORY,)),
                             (card_private, (CardAction.PRIVATE,))):
        router.callback_query.register(handler, CardCb.filter(F.a.in_(actions)))
    router.callback_query.register(switch_confirm, SwitchPlanCb.filter())
    router.callback_query.register(switch_plan, SwitchCb.filter(), flags={"spends": True})
    return router
