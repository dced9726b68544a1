from __future__ import annotations

from decimal import Decimal

from providers.models import to_minor_units


def price_for_chat(provider_price: Decimal, markup_percent: Decimal) -> int:
    """Provider price plus the operator's markup, in minor units, rounded up."""
    return to_minor_units(provider_price * (Decimal(100) + markup_percent) / Decimal(100))


def format_money(minor: int, currency: str = "USD") -> str:
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    symbol = "$" if currency == "USD" else ""
    suffix = "" if symbol else f" {currency}"
    return f"{sign}{symbol}{units}.{cents:02d}{suffix}"
