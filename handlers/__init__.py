"""Telegram interface. Each module's setup() builds a fresh Router (a second Dispatcher in tests stays clean)."""
from aiogram import Router

from . import balance, fallback, menu, numbers, rent


def setup_routers() -> list[Router]:
    """Routers in the order they must match: the catch-all fallback last."""
    return [menu.setup(), balance.setup(), numbers.setup(), rent.setup(), fallback.setup()]
