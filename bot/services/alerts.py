"""Alerts (issue 17): from a plan list, "tell me when it is back / under $X".

Set by a tap, no provider call: a plan that sold out (a stock alert on that plan) or the service in the list's
country at or under a price (a price alert). Bounded per chat (ALERTS_PER_CHAT) and ending unfired after
ALERT_HOURS. A background round reads each service with open alerts once, from the catalogue's cached offers
(Catalogue.offers, 60 s), whatever the number of alerts on it; a read that needs a provider call draws on the
provider budget without waiting (ProviderBudget.try_spend: a card action is never held up, polling never draws
from it), or waits for the next round. An alert fires once (open -> fired in one UPDATE): one message with a
Rent button naming the offer it found at the price it found; the tap rents through RentalService.rent with the
quote lock (handlers/alerts.py)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from storage.alerts import Alert, AlertRepo

from . import localize
from .catalogue import Catalogue
from .offers import PricedOffer, offer_to_dict

log = logging.getLogger(__name__)

PRICE_STEPS = (90, 80, 70)  # "under $X" choices: these percent of the cheapest price shown, whole cents down


class AlertsFull(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Fired:
    alert: Alert
    offer: PricedOffer


def price_steps(cheapest: int) -> list[int]:
    """Prices under the cheapest shown, each at least a cent apart and above zero."""
    steps: list[int] = []
    for percent in PRICE_STEPS:
        value = cheapest * percent // 100
        if 0 < value < cheapest and value not in steps:
            steps.append(value)
    return steps


def in_stock(catalogue: Catalogue, priced: PricedOffer) -> bool:
    """Numbers to rent: the provider's stock where it says one (a fresh listing), else no recent sold-out mark."""
    if priced.offer.stock is not None:
        return priced.offer.stock > 0
    return not catalogue.is_sold_out(priced.offer)


class Alerts:
    def __init__(self, repo: AlertRepo, catalogue: Catalogue, budget, per_chat: int, hours: int,
                 services_per_check: int = 20) -> None:
        self.repo = repo
        self.catalogue = catalogue
        self.budget = budget
        self.per_chat = per_chat
        self.hours = hours
        self.services_per_check = services_per_check

    async def create(self, chat_id: int, service_key: str, service_name: str, country: str, kind: str, *,
                     provider: str = "", offer_id: str = "", plan: str = "", below: int = 0) -> Alert:
        made = await self.repo.create(chat_id, service_key, service_name, country, kind, provider=provider,
                                      offer_id=offer_id, plan=plan, below=below, hours=self.hours,
                                      limit=self.per_chat)
        if made is None:
            raise AlertsFull()
        return made

    async def _readable(self, service) -> bool:
        """The service's offers can be read now: cached for every provider, or a call free in their budget."""
        for name, service_id in service.ids.items():
            if name not in self.catalogue.providers:
                continue
            if await self.catalogue.cache.get(f"offers:{name}:{service_id}") is not None:
                continue
            if not self.budget.try_spend(name):
                return False
        return True

    async def check(self) -> list[Fired]:
        """One round: expired ones closed; each service with open alerts read once; the alerts met fired."""
        await self.repo.expire_due()
        fired: list[Fired] = []
        for key in (await self.repo.due_services())[:self.services_per_check]:
            try:
                service = await self.catalogue.service(key)
                if service is None or not await self._readable(service):
                    continue
                offers, _ = await self.catalogue.offers(service)
            except Exception:  # noqa: BLE001 - one service's failure leaves the others' alerts to be checked
                log.exception("alerts: reading %s failed; tried again next round", key)
                continue
            live = [p for p in offers if in_stock(self.catalogue, p)]
            for alert in await self.repo.open_for_service(key):
                found = self._met(alert, live)
                if found is not None and await self.repo.fire(alert.id, offer_to_dict(found.offer), found.price):
                    fired.append(Fired(await self.repo.get(alert.id), found))
        return fired

    @staticmethod
    def _met(alert: Alert, live: list[PricedOffer]) -> PricedOffer | None:
        if alert.kind == "stock":  # that plan back; with no plan named (the service had none), any plan of it
            return next((p for p in live if not alert.provider
                         or (p.offer.provider == alert.provider and p.offer.id == alert.offer_id)), None)
        there = [p for p in live if not alert.country or localize.country_key(p.offer.country) == alert.country]
        return next((p for p in there if p.price <= alert.below), None)  # offers come cheapest first
