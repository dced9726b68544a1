"""Telegram interface. Each module's setup() builds a fresh Router (a second Dispatcher in tests stays clean)."""
from aiogram import Router

from . import (
    admin,
    alerts,
    balance,
    bans,
    broadcasts,
    exports,
    fallback_chain,
    forwarding,
    groups,
    history,
    invites,
    menu,
    numbers,
    promo,
    rent,
    sets,
    settings,
    support,
    teams,
    topup,
    transfers,
    unmatched,
    wishes,
)


def setup_routers() -> list[Router]:
    """Routers in the order they must match: the catch-all (unmatched) last."""
    return [groups.setup(), invites.setup(), menu.setup(), admin.setup(), broadcasts.setup(), balance.setup(),
            history.setup(), promo.setup(), support.setup(), forwarding.setup(), topup.setup(), settings.setup(),
            numbers.setup(), wishes.setup(), rent.setup(), fallback_chain.setup(), alerts.setup(), sets.setup(),
            bans.setup(), transfers.setup(), exports.setup(), teams.setup(), unmatched.setup()]
