"""My numbers and the number card with every action the provider supports."""
from __future__ import annotations

import logging
import math
from datetime import timedelta

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.outbound.screens import Screens
from bot.outbound.topics import NumberTopics
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
from bot.services.referrals import Referrals
from bot.services.rentals import RentalService
from bot.services.service_sets import ServiceSets
from bot.services.switches import PlanSwitches
from providers import Capability, Provider
from storage import Chat, ChatRepo, RentalRecord, SmsRepo
from storage.bans import BanRepo
from storage.forwarding import ForwardRepo

from . import keyboards, phones, views
from .bans import ensure_not_banned
from .callbacks import CONFIRMED, RENEW_CONFIRMED, CardAction, CardCb, NumbersCb, SwitchCb, SwitchPlanCb, shown_price
from .common import render_error, show, user_name
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


async def show_card(event: Message | CallbackQuery, chat: Chat, t: Texts, rental_id: int, rentals: RentalService,
                    sms_repo: SmsRepo, providers: dict[str, Provider], screens: Screens, *, new: bool = False) -> None:
    rental = await rentals.owned(chat.id, rental_id)
    text, markup = await card_view(chat, t, rental, rentals, sms_repo, providers)
    if (shown := await show(event, text, markup, new=new)) is not None:
        screens.card_shown(chat.id, shown.message_id, rental.card_id)  # a code arriving under it refreshes it


async def card_view(chat: Chat, t: Texts, rental: RentalRecord, rentals: RentalService, sms_repo: SmsRepo,
                    providers: dict[str, Provider]) -> tuple[str, InlineKeyboardMarkup]:
    """A number's card as it is now: its last codes, the actions it allows, today's price to rent it again."""
    provider = providers.get(rental.provider)
    if rental.set_id:
        return await _set_card_view(chat, t, rental, rentals, sms_repo, provider)
    codes = await sms_repo.for_rental(rental.id, limit=3)
    kept = provider is not None and provider.renews_in_place(rental.offer_id)
    can_renew_closed = (provider is not None and Capability.RENEW in provider.capabilities_for(rental.offer_id)
                        and not kept  # ended at the provider: there is nothing left to renew
                        and rental.status in ("finished", "expired", "cancelled") and bool(rental.provider_rental_id))
    actions = rentals.actions(rental, has_sms=bool(codes))
    # Today's price for Rent again, from the catalogue's cached offers: the button says what it will charge.
    renew_price = None
    if Capability.RENEW in actions or can_renew_closed:
        quote = await rentals.renewal_quote(rental)
        renew_price = quote[0] if quote else None
    has_hidden = chat.is_group and bool(await sms_repo.hidden_for_rental(rental.id, limit=1))
    forward = await ForwardRepo(sms_repo.db).target(rental.id)  # 📤 codes also to another chat or a URL
    return views.card(t, rental, codes, actions, provider.title if provider else rental.provider,
                      is_group=chat.is_group, can_renew_closed=can_renew_closed, renew_price=renew_price,
                      refund_until_sms=provider is not None and provider.refund_only_without_sms, kept=kept,
                      spoiler=chat.spoils_codes, has_hidden=has_hidden, forward=forward,
                      can_forward=rental.is_open or forward is not None,
                      refunded=provider is None or provider.cancel_refunds(rental.offer_id))


async def _set_card_view(chat: Chat, t: Texts, rental: RentalRecord, rentals: RentalService, sms_repo: SmsRepo,
                         provider: Provider | None) -> tuple[str, InlineKeyboardMarkup]:
    members = []
    cancellable = has_hidden = False
    for member in await rentals.rentals.in_set(rental.set_id):
        codes = await sms_repo.for_rental(member.id, limit=3)
        cancellable |= Capability.CANCEL in rentals.actions(member, has_sms=bool(codes))
        has_hidden |= chat.is_group and bool(await sms_repo.hidden_for_rental(member.id, limit=1))
        members.append((member, codes))
    return views.set_card(t, members, cancellable, provider.title if provider else rental.provider,
                          is_group=chat.is_group, spoiler=chat.spoils_codes, has_hidden=has_hidden)


async def _set_cancel_question(chat: Chat, t: Texts, first: RentalRecord, rentals: RentalService,
                               sets: ServiceSets) -> tuple[str, InlineKeyboardMarkup]:
    """Cancel for a number shared by several services, asked first: which services stop, and what comes back."""
    members = await sets.cancellable(chat.id, first.set_id)
    if not members:
        raise ActionUnavailable()
    back = format_money(sum(m.price_charged for m in members if rentals.cancel_refunds(m)))
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


def told_working(callback: CallbackQuery, callback_answer: CallbackAnswer, t: Texts) -> OnWait:
    """For an action that gives money back and waits its turn for the provider: the tap is answered at once
    ("working on it") rather than left spinning; the card then shows how it ended."""
    async def working() -> None:
        if callback_answer.answered or callback_answer.disabled:
            return  # said already
        callback_answer.disable()  # answered here: the middleware must not answer it again
        try:
            await callback.answer(t("card-working"))
        except TelegramAPIError as err:  # the action goes on either way
            log.info("the working notice was not shown: %s", err)
    return working


async def card_action(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer, bot: Bot,
                      chat: Chat, t: Texts, rentals: RentalService, sms_repo: SmsRepo,
                      providers: dict[str, Provider], admins: AdminCache, switches: PlanSwitches,
                      screens: Screens, sets: ServiceSets, bans: BanRepo, number_topics: NumberTopics) -> None:
    action, rental_id = callback_data.a, callback_data.id
    rental = await rentals.owned(chat.id, rental_id)
    if action in (CardAction.RENEW, CardAction.SWITCH, CardAction.AUTO_ON):  # renting more: not while banned
        await ensure_not_banned(bans, chat.id, callback.from_user.id)
    if action in SPENDING:
        try:
            # Cancelling, finishing, auto-renew off spend nothing more: a member within a limit may (no budget).
            await ensure_can_spend(bot, admins, chat, callback.from_user.id,
                                   budgeted=action in (CardAction.CANCEL, CardAction.FINISH, CardAction.AUTO_OFF))
        except OnlyAdmins:
            # The reason that fits the button: renting again spends; the others manage the group's number.
            raise (OnlyAdmins() if action in (CardAction.RENEW, CardAction.SWITCH) else OnlyAdminsManage()) from None
    # A pushed code stays in the chat: its buttons answer with a new message instead of editing it.
    new = await _under_pushed_code(callback, rental_id, sms_repo)
    notice = ""
    working = told_working(callback, callback_answer, t)
    if rental.set_id and action in (CardAction.REFRESH, CardAction.CANCEL) and rental.id == rental.set_id:
        # The card of a number shared by several services: its buttons act on all of them.
        if action is CardAction.CANCEL and callback_data.n != CONFIRMED:
            await show(callback, *await _set_cancel_question(chat, t, rental, rentals, sets), new=new)
            return
        if action is CardAction.CANCEL:
            _, back = await sets.cancel(chat.id, rental.set_id, working)
            notice = t("cancelled", price=format_money(back))
        else:
            for member in await sets.members(rental):
                if member.status == "active":
                    await rentals.refresh(chat.id, member.id)
            notice = t("card-refreshed")
    elif action is CardAction.REFRESH:
        await rentals.refresh(chat.id, rental_id)
        notice = t("card-refreshed")
    elif action is CardAction.CANCEL and callback_data.n != CONFIRMED:
        # Asked first: the number stops receiving codes, and what comes back (or that nothing does).
        rental = await rentals.cancellable(chat.id, rental_id)
        phone = phones.display(rental.phone or "")
        if rentals.cancel_refunds(rental):
            price = format_money(rental.price_charged)
            text = t("cancel-confirm", service=rental.service_name, phone=phone, price=price)
            markup = keyboards.cancel_confirm(t, rental.id, price)
        else:
            text = t("end-confirm", service=rental.service_name, phone=phone,
                     when=views.when(t, rental.active_till), zone=views.zone_of(t, rental.active_till))
            markup = keyboards.end_confirm(t, rental.id)
        await show(callback, text, markup, new=new)
        return
    elif action is CardAction.CANCEL:
        refunds = rentals.cancel_refunds(rental)
        done = await rentals.cancel(chat.id, rental_id, working)
        notice = t("cancelled", price=format_money(done.price_charged)) if refunds else t("ended")
    elif action is CardAction.FINISH and callback_data.n != CONFIRMED:
        # Asked first: the number stops taking codes and nothing comes back (before a code, Cancel would).
        rental = await rentals.active_with(chat.id, rental_id, Capability.FINISH)
        price = format_money(rental.price_charged)
        text = t("finish-confirm", service=rental.service_name, phone=phones.display(rental.phone or ""), price=price)
        if (Capability.CANCEL in rentals.actions(rental, has_sms=bool(await sms_repo.for_rental(rental.id, limit=1)))
                and rentals.cancel_refunds(rental)):
            text += "\n" + t("finish-confirm-no-code", price=price)
        await show(callback, text, keyboards.finish_confirm(t, rental.id), new=new)
        return
    elif action is CardAction.FINISH:
        await rentals.finish(chat.id, rental_id, working)
        notice = t("finished")
    elif action is CardAction.AUTO_ON and callback_data.n != CONFIRMED:
        # Said before it is on: what each renewal charges and when the first one comes.
        text = t("auto-renew-confirm", service=rental.service_name, phone=phones.display(rental.phone or ""),
                 price=format_money(rental.renewal_price), when=views.when(t, rental.active_till),
                 zone=views.zone_of(t, rental.active_till), balance=format_money(chat.balance))
        await show(callback, text, keyboards.auto_renew_confirm(t, rental.id, format_money(rental.renewal_price)),
                   new=new)
        return
    elif action in (CardAction.AUTO_ON, CardAction.AUTO_OFF):
        done = await rentals.set_auto_renew(chat.id, rental_id, action is CardAction.AUTO_ON, working)
        notice = t("auto-renew-set-on" if done.auto_renew else "auto-renew-set-off")
    elif action is CardAction.WAKE:
        await rentals.wake_up(chat.id, rental_id)  # the provider's reply ("Wake up request sent.") says no more
        notice = t("woken")
    elif (action is CardAction.RENEW and not callback_data.n.startswith(RENEW_CONFIRMED)
          and (provider := providers.get(rental.provider)) is not None and provider.renews_in_place(rental.offer_id)):
        # Renewing a long number in place charges a whole period at once: asked first, with what it buys.
        await show(callback, *renew_now_question(t, chat, rental, shown_price(callback_data.n)), new=new)
        return
    elif action is CardAction.RENEW:
        try:  # at the price the button showed; a button without one (older) shows today's price first
            fresh = await rentals.renew(chat.id, callback.from_user.id, user_name(callback.from_user), rental_id,
                                        callback_data.n or "card", shown_price=shown_price(callback_data.n))
        except RenewPriceChanged as changed:  # nothing charged: the card comes back with today's price
            notice = render_error(t, changed)
        else:
            if fresh.renewing:
                notice = t("renewal-pending")
            elif fresh.id == rental_id:  # one more period of the same number
                notice = t("renewed", price=format_money(fresh.renewal_price))
            else:
                rental_id, notice = fresh.id, t("renewed", price=format_money(fresh.price_charged))
    elif action is CardAction.SWITCH:
        rental, snapshot, longer = await switches.offers(chat.id, rental_id)
        labels = [views.offer_label(t, p, providers[p.offer.provider].title) for p in longer]
        await show(callback, t("switch-title", service=rental.service_name, phone=rental.phone or ""),
                   keyboards.switch_plans(t, rental.id, snapshot, labels), new=new)
        return
    elif action is CardAction.HISTORY:
        messages = await rentals.history(chat.id, rental_id)
        await show(callback, *views.history(t, rental, messages, spoiler=chat.spoils_codes), new=new)
        return
    elif action is CardAction.PRIVATE:
        try:
            callback_answer.text = await send_hidden_privately(bot, chat, t, rental, callback.from_user.id,
                                                               sms_repo, admins, rentals)
        except PrivateRefused as refused:  # never started the bot: Telegram opens it, Start then sends the codes
            me = await bot.me()
            callback_answer.text, callback_answer.show_alert = render_error(t, refused), True
            callback_answer.url = f"https://t.me/{me.username}?start={HIDDEN_CODES_START}{rental.id}"
        return
    if notice:
        callback_answer.text = notice[:200]
    await show_card(callback, chat, t, rental_id, rentals, sms_repo, providers, screens, new=new)
    if action in (CardAction.CANCEL, CardAction.FINISH) and chat.topic_per_number:
        await number_topics.close_ended(bot)  # its topic closed now (the job would, within 30 s); best effort


async def send_hidden_privately(bot: Bot, chat: Chat, t: Texts, rental: RentalRecord, user_id: int,
                                sms_repo: SmsRepo, admins: AdminCache, rentals: RentalService) -> str:
    """The codes deleted from the group, in a private message to the member who rented the number or an admin
    (asked of Telegram at the tap: a demoted admin gets nothing). Returns the tap's answer."""
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


async def start_for_hidden_codes(message: Message, command: CommandObject, bot: Bot, t: Texts, chats: ChatRepo,
                                 sms_repo: SmsRepo, admins: AdminCache, rentals: RentalService,
                                 referrals: Referrals) -> None:
    """/start codes-<rental> from the hidden codes' tap of a member who had never started the bot: the codes
    are sent now, with the same checks as the tap (the payload is the user's to forge)."""
    if message.chat.type != "private" or message.from_user is None:
        return
    await referrals.started(message.from_user.id, None)
    rental_id = command.args.removeprefix(HIDDEN_CODES_START)
    rental = await rentals.rentals.get(int(rental_id)) if rental_id.isdigit() else None
    group = await chats.get(rental.chat_id) if rental is not None else None
    if rental is None or group is None:
        raise StaleButton()
    await send_hidden_privately(bot, group, t, rental, message.from_user.id, sms_repo, admins, rentals)


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


async def switch_plan(callback: CallbackQuery, callback_data: SwitchCb, callback_answer: CallbackAnswer, bot: Bot,
                      chat: Chat, t: Texts, rentals: RentalService, sms_repo: SmsRepo,
                      providers: dict[str, Provider], admins: AdminCache, switches: PlanSwitches,
                      screens: Screens) -> None:
    await ensure_can_spend(bot, admins, chat, callback.from_user.id)
    done = await switches.switch(chat.id, callback.from_user.id, callback_data.id, callback_data.snap,
                                 callback_data.i, callback_data.n)
    duration = views.duration_text(t, done.billing, done.duration_label, done.duration_minutes)
    callback_answer.text = t("switched", duration=duration)[:200]
    await show_card(callback, chat, t, done.id, rentals, sms_repo, providers, screens)


def setup() -> Router:
    router = Router(name="numbers")
    router.message.register(numbers_command, Command("numbers"))
    router.callback_query.register(numbers_page, NumbersCb.filter())
    router.callback_query.register(card_action, CardCb.filter())
    router.callback_query.register(switch_confirm, SwitchPlanCb.filter())
    router.callback_query.register(switch_plan, SwitchCb.filter(), flags={"spends": True})
    return router
