"""Telegram interface. Each module's setup() builds a fresh Router (a second Dispatcher in tests stays clean)."""
from aiogram import Router

from . import admin, balance, broadcasts, fallback, groups, menu, numbers, rent, sets, settings, topup, wishes


def setup_routers() -> list[Router]:
    """Routers in the order they must match: the catch-all fallback last."""
    return [groups.setup(), menu.setup(), admin.setup(), broadcasts.setup(), balance.setup(), topup.setup(), settings.setup(),
            numbers.setup(), wishes.setup(), rent.setup(), sets.setup(), fallback.setup()]
