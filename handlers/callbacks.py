"""All callback data in one place: short ids and enum actions only (Telegram allows 64 bytes)."""
from __future__ import annotations

import enum
import secrets

from aiogram.filters.callback_data import CallbackData


def nonce() -> str:
    """Marks one rendering of a spending button, so a double tap spends once."""
    return secrets.token_hex(3)


class Screen(enum.StrEnum):
    HOME = "home"
    RENT = "rent"
    NUMBERS = "numbers"
    BALANCE = "balance"
    HELP = "help"
    TOPUP = "topup"
    SETTINGS = "settings"


class MenuCb(CallbackData, prefix="m"):
    to: Screen


class ServicesCb(CallbackData, prefix="sv"):
    page: int = 0
    q: str = ""  # search text, cut to fit the 64-byte limit


class ServiceCb(CallbackData, prefix="s"):
    key: str


class OfferCb(CallbackData, prefix="o"):
    snap: int
    i: int


class RentCb(CallbackData, prefix="r"):
    snap: int
    i: int
    n: str


class NumbersCb(CallbackData, prefix="n"):
    page: int = 0


class CardAction(enum.StrEnum):
    SHOW = "show"
    REFRESH = "ref"
    CANCEL = "cancel"
    FINISH = "fin"
    RENEW = "renew"
    AUTO_ON = "aon"
    AUTO_OFF = "aoff"
    WAKE = "wake"
    SWITCH = "sw"
    HISTORY = "hist"


class CardCb(CallbackData, prefix="c"):
    id: int
    a: CardAction = CardAction.SHOW
    n: str = ""


class SwitchCb(CallbackData, prefix="t"):
    id: int
    snap: int
    i: int
    n: str


class TopUpCb(CallbackData, prefix="u"):
    stars: int


class LangCb(CallbackData, prefix="l"):
    code: str


class GroupRentCb(CallbackData, prefix="g"):
    all: bool


class PanelCb(CallbackData, prefix="p"):
    days: int
