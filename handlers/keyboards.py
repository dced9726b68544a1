"""Pure functions from data to inline keyboards."""
from __future__ import annotations

from collections.abc import Iterable

from aiogram.types import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup

from bot.services.pricing import format_money
from providers import Capability

from . import phones
from .callbacks import (CardAction, CardCb, FavouriteCb, MenuCb, NumbersCb, OfferCb, RentCb, Screen, ServiceCb, ServicesCb,
                        SwitchCb, SwitchPlanCb, nonce, priced_nonce)
from .i18n import Texts

SERVICES_PER_PAGE = 12
NUMBERS_PER_PAGE = 6
OFFERS_SHOWN = 10


def _button(text: str, data) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _grid(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i:i + width] for i in range(0, len(buttons), width)]


def _markup(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """Rows as given, empty ones left out. (aiogram's builder deep-copies every button on export, which showed
    in the profile of a button press, for keyboards that are built fresh each time anyway.)"""
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def main_menu(t: Texts) -> InlineKeyboardMarkup:
    return _markup(
        [_button(t("menu-rent"), ServicesCb(page=0))],
        [_button(t("menu-numbers"), NumbersCb(page=0))],
        [_button(t("menu-balance"), MenuCb(to=Screen.BALANCE)), _button(t("menu-help"), MenuCb(to=Screen.HELP))],
        [_button(t("menu-settings"), MenuCb(to=Screen.SETTINGS))],
    )


def balance(t: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_button(t("menu-topup"), MenuCb(to=Screen.TOPUP))],
        [_button(t("home"), MenuCb(to=Screen.HOME))],
    ])


def back_home(t: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(t("home"), MenuCb(to=Screen.HOME))]])


def _pager(t: Texts, page: int, pages: int, make) -> list[InlineKeyboardButton]:
    row = []
    if page > 0:
        row.append(_button(t("prev-page"), make(page - 1)))
    if page + 1 < pages:
        row.append(_button(t("next-page"), make(page + 1)))
    return row


def services(t: Texts, items: Iterable[tuple[str, str]], page: int, pages: int, query: str = "") -> InlineKeyboardMarkup:
    """items: (service key, name) for this page."""
    names = [_button(name, ServiceCb(key=key)) for key, name in items]
    return _markup(*_grid(names, 3), _pager(t, page, pages, lambda p: ServicesCb(page=p, q=query)),
                   [_button(t("home"), MenuCb(to=Screen.HOME))])


def offers(t: Texts, snapshot_id: int, labels: list[str], service_key: str = "",
           starred: bool = False) -> InlineKeyboardMarkup:
    star = [_button(t("btn-fav-remove" if starred else "btn-fav-add"), FavouriteCb(key=service_key))] if service_key else []
    return _markup(*([_button(label, OfferCb(snap=snapshot_id, i=index))] for index, label in enumerate(labels)),
                   [_button(t("back"), ServicesCb(page=0)), *star])


def confirm(t: Texts, snapshot_id: int, index: int, service_key: str, price: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_button(t("confirm-rent", price=price), RentCb(snap=snapshot_id, i=index, n=nonce()))],
        [_button(t("back"), ServiceCb(key=service_key))],
    ])


def short_of_money(t: Texts, service_key: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_button(t("menu-topup"), MenuCb(to=Screen.TOPUP))],
        [_button(t("back"), ServiceCb(key=service_key))],
    ])


CARD_BUTTONS: list[tuple[Capability | None, CardAction, str]] = [
    (None, CardAction.REFRESH, "btn-refresh"),
    (Capability.WAKE_UP, CardAction.WAKE, "btn-wake"),
    (Capability.CANCEL, CardAction.CANCEL, "btn-cancel"),
    (Capability.FINISH, CardAction.FINISH, "btn-finish"),
    (Capability.RENEW, CardAction.RENEW, "btn-renew"),
    (Capability.TRANSITION, CardAction.SWITCH, "btn-switch"),
    (Capability.HISTORY, CardAction.HISTORY, "btn-history"),
]


def copy_button(label: str, value: str) -> InlineKeyboardButton:
    """Telegram's copy_text button: one tap puts ``value`` on the clipboard, no round trip to the bot."""
    return InlineKeyboardButton(text=label, copy_text=CopyTextButton(text=value))


def copy_number(t: Texts, phone: str | None) -> list[InlineKeyboardButton]:
    """The number in both forms a service may ask for: international and national."""
    if not phone:
        return []
    buttons = [copy_button(t("btn-copy", value=phones.international(phone)), phones.international(phone))]
    if (local := phones.national(phone)) and local != phones.international(phone):
        buttons.append(copy_button(t("btn-copy", value=local), local))
    return buttons


def card(t: Texts, rental_id: int, actions: set[Capability], *, open_: bool, auto_renew: bool,
         can_renew_closed: bool, renew_price: int | None = None, phone: str | None = None) -> InlineKeyboardMarkup:
    """Only buttons for actions this provider and this rental's state allow. Rent again says today's price
    (``renew_price``) and is left out when the plan is not on sale now."""
    buttons = []
    for capability, action, key in CARD_BUTTONS:
        shown = capability is None and open_ or capability in actions
        if action is CardAction.RENEW:
            if renew_price is None or not (shown or can_renew_closed):
                continue
            buttons.append(_button(t("btn-renew", price=format_money(renew_price)),
                                   CardCb(id=rental_id, a=action, n=priced_nonce(renew_price))))
            continue
        if shown:
            buttons.append(_button(t(key), CardCb(id=rental_id, a=action, n=nonce())))
    if Capability.AUTO_RENEW in actions:
        action, key = (CardAction.AUTO_OFF, "btn-auto-off") if auto_renew else (CardAction.AUTO_ON, "btn-auto-on")
        buttons.append(_button(t(key), CardCb(id=rental_id, a=action)))
    return _markup(copy_number(t, phone), *_grid(buttons, 2),
                   [_button(t("menu-numbers"), NumbersCb(page=0)), _button(t("home"), MenuCb(to=Screen.HOME))])


def numbers(t: Texts, items: Iterable[tuple[int, str]], page: int, pages: int) -> InlineKeyboardMarkup:
    return _markup(*([_button(label, CardCb(id=rental_id))] for rental_id, label in items),
                   _pager(t, page, pages, lambda p: NumbersCb(page=p)),
                   [_button(t("menu-rent"), ServicesCb(page=0)), _button(t("home"), MenuCb(to=Screen.HOME))])


def switch_plans(t: Texts, rental_id: int, snapshot_id: int, labels: list[str]) -> InlineKeyboardMarkup:
    return _markup(*([_button(label, SwitchPlanCb(id=rental_id, snap=snapshot_id, i=index))]
                     for index, label in enumerate(labels)),
                   [_button(t("btn-card"), CardCb(id=rental_id))])


def switch_confirm(t: Texts, rental_id: int, snapshot_id: int, index: int, price: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_button(t("switch-confirm-button", price=price), SwitchCb(id=rental_id, snap=snapshot_id, i=index,
                                                                    n=nonce()))],
        [_button(t("btn-card"), CardCb(id=rental_id))],
    ])


def to_card(t: Texts, rental_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(t("btn-card"), CardCb(id=rental_id))]])
