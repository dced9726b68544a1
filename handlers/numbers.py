"""My numbers and the number card with every action the provider supports."""
from __future__ import annotations

import math

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.services.pricing import format_money
from bot.services.rentals import RentalService
from providers import Capability, Provider
from storage import Chat, SmsRepo

from . import keyboards, views
from .callbacks import CardAction, CardCb, NumbersCb, SwitchCb
from .common import show, user_name
from .i18n import Texts
from .permissions import AdminCache, ensure_can_spend

# Actions that spend or return the chat's money: in groups only those allowed to spend may press them.
SPENDING = {CardAction.CANCEL, CardAction.FINISH, CardAction.RENEW, CardAction.AUTO_ON, CardAction.AUTO_OFF,
            CardAction.SWITCH}


async def show_card(event: Message | CallbackQuery, chat: Chat, t: Texts, rental_id: int, rentals: RentalService,
                    sms_repo: SmsRepo, providers: dict[str, Provider]) -> None:
    rental = await rentals.owned(chat.id, rental_id)
    provider = providers.get(rental.provider)
    codes = await sms_repo.for_rental(rental.id, limit=3)
    can_renew_closed = (provider is not None and provider.supports(Capability.RENEW)
                        and rental.status in ("finished", "expired", "cancelled") and bool(rental.provider_rental_id))
    text, markup = views.card(t, rental, codes, rentals.actions(rental), provider.title if provider else rental.provider,
                              is_group=chat.is_group, can_renew_closed=can_renew_closed)
    await show(event, text, markup)


async def numbers_screen(event: Message | CallbackQuery, chat: Chat, t: Texts, rentals: RentalService,
                         page: int) -> None:
    per = keyboards.NUMBERS_PER_PAGE
    items, total = await rentals.rentals.for_chat(chat.id, offset=max(page, 0) * per, limit=per)
    if total == 0:
        await show(event, t("numbers-empty"), keyboards.main_menu(t))
        return
    pages = math.ceil(total / per)
    labels = [(r.id, views.number_label(t, r)) for r in items]
    await show(event, t("numbers-title", page=min(page, pages - 1) + 1, pages=pages),
               keyboards.numbers(t, labels, page, pages))


async def numbers_command(message: Message, chat: Chat, t: Texts, rentals: RentalService) -> None:
    await numbers_screen(message, chat, t, rentals, 0)


async def numbers_page(callback: CallbackQuery, callback_data: NumbersCb, chat: Chat, t: Texts,
                       rentals: RentalService) -> None:
    await numbers_screen(callback, chat, t, rentals, callback_data.page)


async def card_action(callback: CallbackQuery, callback_data: CardCb, callback_answer: CallbackAnswer, bot: Bot,
                      chat: Chat, t: Texts, rentals: RentalService, sms_repo: SmsRepo,
                      providers: dict[str, Provider], admins: AdminCache) -> None:
    action, rental_id = callback_data.a, callback_data.id
    rental = await rentals.owned(chat.id, rental_id)
    if action in SPENDING:
        await ensure_can_spend(bot, admins, chat, callback.from_user.id)
    notice = ""
    if action is CardAction.REFRESH:
        await rentals.refresh(chat.id, rental_id)
        notice = t("card-refreshed")
    elif action is CardAction.CANCEL:
        done = await rentals.cancel(chat.id, rental_id)
        notice = t("cancelled", price=format_money(done.price_charged))
    elif action is CardAction.FINISH:
        await rentals.finish(chat.id, rental_id)
        notice = t("finished")
    elif action in (CardAction.AUTO_ON, CardAction.AUTO_OFF):
        done = await rentals.set_auto_renew(chat.id, rental_id, action is CardAction.AUTO_ON)
        notice = t("auto-renew-set-on" if done.auto_renew else "auto-renew-set-off")
    elif action is CardAction.WAKE:
        notice = t("woken", message=await rentals.wake_up(chat.id, rental_id))
    elif action is CardAction.RENEW:
        new = await rentals.renew(chat.id, callback.from_user.id, user_name(callback.from_user), rental_id,
                                 callback_data.n or "card")
        rental_id, notice = new.id, t("renewed")
    elif action is CardAction.SWITCH:
        await switch_screen(callback, chat, t, rentals, providers, rental_id)
        return
    elif action is CardAction.HISTORY:
        messages = await rentals.history(chat.id, rental_id)
        await show(callback, *views.history(t, rental, messages))
        return
    if notice:
        callback_answer.text = notice[:200]
    await show_card(callback, chat, t, rental_id, rentals, sms_repo, providers)


async def switch_screen(callback: CallbackQuery, chat: Chat, t: Texts, rentals: RentalService,
                        providers: dict[str, Provider], rental_id: int) -> None:
    rental, snapshot, monthly = await rentals.transition_offers(chat.id, rental_id)
    labels = [views.offer_label(t, p, providers[p.offer.provider].title) for p in monthly]
    await show(callback, t("switch-title", service=rental.service_name, phone=rental.phone or ""),
               keyboards.switch_plans(t, rental.id, snapshot, labels))


async def switch_plan(callback: CallbackQuery, callback_data: SwitchCb, callback_answer: CallbackAnswer, bot: Bot,
                      chat: Chat, t: Texts, rentals: RentalService, sms_repo: SmsRepo,
                      providers: dict[str, Provider], admins: AdminCache) -> None:
    await ensure_can_spend(bot, admins, chat, callback.from_user.id)
    done = await rentals.transition(chat.id, callback.from_user.id, callback_data.id, callback_data.snap,
                                    callback_data.i, callback_data.n)
    callback_answer.text = t("switched", duration=done.duration_label)[:200]
    await show_card(callback, chat, t, done.id, rentals, sms_repo, providers)


def setup() -> Router:
    router = Router(name="numbers")
    router.message.register(numbers_command, Command("numbers"))
    router.callback_query.register(numbers_page, NumbersCb.filter())
    router.callback_query.register(card_action, CardCb.filter())
    router.callback_query.register(switch_plan, SwitchCb.filter())
    return router
