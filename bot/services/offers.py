"""A plan as the bot sells it (the provider's offer and the chat's price), and an offer kept in a row as JSON
(a quote, a chain's plans, a set's, an alert's): the values every service passes around, below the catalogue."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from providers import BillingType, Offer


@dataclass(frozen=True, slots=True)
class PricedOffer:
    offer: Offer
    price: int  # what the chat pays, minor units


def offer_to_dict(offer: Offer) -> dict:
    data = dataclasses.asdict(offer)
    for key in ("price", "renew_price"):
        if data[key] is not None:
            data[key] = str(data[key])
    data["billing"] = str(offer.billing)
    return data


def offer_from_dict(data: dict) -> Offer:
    values = dict(data)
    values["price"] = Decimal(values["price"])
    values["renew_price"] = Decimal(values["renew_price"]) if values.get("renew_price") is not None else None
    values["billing"] = BillingType(values["billing"])
    return Offer(**values)
