"""Pure functions from data to inline keyboards."""
from __future__ import annotations

from collections.abc import Iterable

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from providers import Capability

from .callbacks import (CardAction, CardCb, MenuCb, NumbersCb, OfferCb, RentCb, Screen, ServiceCb, ServicesCb,
                        SwitchCb, SwitchPlanCb, nonce)
from .i18n import Texts

SERVICES_PER_PAGE = 12
NUMBERS_PER_PAGE = 6
OFFERS_SHOWN = 10


def _button(text: str, data) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def main_menu(t: Texts) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.add(_button(t("menu-rent"), ServicesCb(page=0)))
    b.add(_button(t("menu-numbers"), NumbersCb(page=0)))
    b.add(_button(t("menu-balance"), MenuCb(to=Screen.BALANCE)))
    b.add(_button(t("menu-help"), MenuCb(to=Screen.HELP)))
    b.add(_button(t("menu-settings"), MenuCb(to=Screen.SETTINGS)))
    b.adjust(1, 1, 2, 1)
    return b.as_markup()


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
    b = InlineKeyboardBuilder()
    for key, name in items:
        b.add(_button(name, ServiceCb(key=key)))
    b.adjust(3)
    b.row(*_pager(t, page, pages, lambda p: ServicesCb(page=p, q=query)))
    b.row(_button(t("home"), MenuCb(to=Screen.HOME)))
    return b.as_markup()


def offers(t: Texts, snapshot_id: int, labels: list[str]) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for index, label in enumerate(labels):
        b.row(_button(label, OfferCb(snap=snapshot_id, i=index)))
    b.row(_button(t("back"), ServicesCb(page=0)))
    return b.as_markup()


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


def card(t: Texts, rental_id: int, actions: set[Capability], *, open_: bool, auto_renew: bool,
         can_renew_closed: bool) -> InlineKeyboardMarkup:
    """Only buttons for actions this provider and this rental's state allow."""
    b = InlineKeyboardBuilder()
    for capability, action, key in CARD_BUTTONS:
        shown = capability is None and open_ or capability in actions
        if action is CardAction.RENEW:
            shown = shown or can_renew_closed
        if shown:
            b.add(_button(t(key), CardCb(id=rental_id, a=action, n=nonce())))
    if Capability.AUTO_RENEW in actions:
        action, key = (CardAction.AUTO_OFF, "btn-auto-off") if auto_renew else (CardAction.AUTO_ON, "btn-auto-on")
        b.add(_button(t(key), CardCb(id=rental_id, a=action)))
    b.adjust(2)
    b.row(_button(t("menu-numbers"), NumbersCb(page=0)), _button(t("home"), MenuCb(to=Screen.HOME)))
    return b.as_markup()


def numbers(t: Texts, items: Iterable[tuple[int, str]], page: int, pages: int) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for rental_id, label in items:
        b.row(_button(label, CardCb(id=rental_id)))
    b.row(*_pager(t, page, pages, lambda p: NumbersCb(page=p)))
    b.row(_button(t("menu-rent"), ServicesCb(page=0)), _button(t("home"), MenuCb(to=Screen.HOME)))
    return b.as_markup()


def switch_plans(t: Texts, rental_id: int, snapshot_id: int, labels: list[str]) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for index, label in enumerate(labels):
        b.row(_button(label, SwitchPlanCb(id=rental_id, snap=snapshot_id, i=index)))
    b.row(_button(t("btn-card"), CardCb(id=rental_id)))
    return b.as_markup()


def switch_confirm(t: Texts, rental_id: int, snapshot_id: int, index: int, price: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_button(t("switch-confirm-button", price=price), SwitchCb(id=rental_id, snap=snapshot_id, i=index,
                                                                    n=nonce()))],
        [_button(t("btn-card"), CardCb(id=rental_id))],
    ])


def to_card(t: Texts, rental_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(t("btn-card"), CardCb(id=rental_id))]])
