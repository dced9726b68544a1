"""The confirm screen's optional wishes: an area code (typed), a carrier, a price cap. Choosing one never spends;
it shows the confirm screen again with the wish carried in its buttons."""
from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, ForceReply, Message

from bot.services import choosing
from bot.services.errors import StaleButton
from bot.services.fallback_chain import FallbackChains
from bot.services.pricing import format_money
from bot.services.rentals import RentalService
from providers import Choice, Provider
from storage import Chat, PromptRepo

from . import keyboards, views
from .callbacks import Wish, WishCb
from .common import prompt_answered, show
from .i18n import Texts
from .rent_outcome import confirm_view

AREA_PROMPT = "area"


class AwaitingArea(Filter):
    """Matches a text that answers the bot's "type the area code" question to this user in this chat."""

    async def __call__(self, message: Message, chat: Chat, prompts: PromptRepo) -> bool | dict[str, Any]:
        asked = await prompt_answered(message, chat, prompts, AREA_PROMPT)
        return False if asked is None else {"asked": asked}


async def wish_screen(callback: CallbackQuery, callback_data: WishCb, chat: Chat, t: Texts,
                      rentals: RentalService, providers: dict[str, Provider], prompts: PromptRepo) -> None:
    offer, price = await rentals.offer_in_snapshot(chat.id, callback_data.snap, callback_data.i)
    provider = providers.get(offer.provider)
    wishes = choosing.Wishes(area=callback_data.a, carrier=callback_data.c, cap=callback_data.x, renew=callback_data.r)
    wanted = {Wish.AREA: Choice.AREA_CODE, Wish.CARRIER: Choice.CARRIER, Wish.CAP: Choice.MAX_PRICE}[callback_data.w]
    if provider is None or wanted not in provider.choices_for(offer):
        raise StaleButton()
    snap, index = callback_data.snap, callback_data.i
    if callback_data.w is Wish.AREA:
        await prompts.ask(chat.id, callback.from_user.id, AREA_PROMPT,
                          {"snap": snap, "i": index, "c": wishes.carrier, "x": wishes.cap, "r": wishes.renew})
        text = t("area-ask", country=views.country_text(t, offer.country),
                 example=choosing.area_example(offer.country))
        await show(callback, text, keyboards.area_choice(t, snap, index, wishes))
        if chat.is_group:  # a group member answers by replying; this opens the reply for the one who asked
            await callback.message.answer(t("area-reply-here", name=callback.from_user.first_name or ""),
                                          reply_markup=ForceReply(selective=True, input_field_placeholder=
                                                                  choosing.area_example(offer.country)))
        return
    if callback_data.w is Wish.CARRIER:
        names = [views.carrier_name(name) for name in provider.carriers]
        await show(callback, t("carrier-title"), keyboards.carrier_choice(t, snap, index, wishes, names))
        return
    caps = [(cap, format_money(cap)) for cap in choosing.cap_choices(price)]
    await show(callback, t("cap-title", price=format_money(price)),
               keyboards.cap_choice(t, snap, index, wishes, format_money(price), caps))


async def area_typed(message: Message, asked: dict, chat: Chat, t: Texts, rentals: RentalService,
                     providers: dict[str, Provider], prompts: PromptRepo, chains: FallbackChains) -> None:
    code = "".join(message.text.split())
    try:
        snap, index = int(asked["snap"]), int(asked["i"])
        wishes = choosing.Wishes(area=code, carrier=int(asked.get("c", 0)), cap=int(asked.get("x", 0)),
                                 renew=bool(asked.get("r", False)))
    except (KeyError, TypeError, ValueError):
        await prompts.clear(chat.id, message.from_user.id)
        raise StaleButton() from None
    offer, _ = await rentals.offer_in_snapshot(chat.id, snap, index)
    if not choosing.area_code_valid(offer.country, code):
        await message.answer(t("error-bad-area-code", code=code[:12], country=views.country_text(t, offer.country),
                               example=choosing.area_example(offer.country)),
                             reply_markup=keyboards.area_choice(t, snap, index, wishes))
        return
    await prompts.clear(chat.id, message.from_user.id)
    await show(message, *await confirm_view(chat, t, rentals, providers, snap, index, wishes, chains))


def setup() -> Router:
    router = Router(name="wishes")
    router.callback_query.register(wish_screen, WishCb.filter())
    router.message.register(area_typed, F.text, AwaitingArea())
    return router
