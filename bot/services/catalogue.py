"""Services and offers merged across every enabled provider, cached briefly."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from providers import Offer, Provider, ProviderError, Service
from storage import CatalogueCache, RentalRepo

from .delivery_record import DeliveryRecords
from .offers import PricedOffer, offer_from_dict, offer_to_dict
from .pricing import price_for_chat
from .search import fold, match

log = logging.getLogger(__name__)

SERVICES_TTL = 600.0
OFFERS_TTL = 60.0
# The quote lock (docs/money.md): at a Rent tap the plan's price is the provider's as read at most this long ago.
QUOTE_FRESH = 15.0
SOLD_OUT_SECONDS = 600.0  # a plan that just sold out is marked so on plan lists for this long
SOLD_OUT_MAX = 500  # bounded: the oldest marks go first
# Shown first when our own rental counts do not decide the order yet.
WELL_KNOWN = ("telegram", "whatsapp", "google", "facebook", "instagram", "tiktok", "discord", "microsoft",
              "amazon", "apple", "uber", "twitter", "viber", "signal", "openai", "paypal")


def service_key(name: str) -> str:
    """One key per service whoever spells it, in any script ("Telegram", "Телеграм"): it travels in callback data."""
    return fold(name)[:24] or "x"


def _spelling_rank(name: str) -> tuple[int, str]:
    """Which of two spellings of one service to show: the brand's capitals ('WhatsApp' over 'Whatsapp'),
    then a fixed order, so the choice does not depend on which provider answered first."""
    return sum(c.isupper() for c in name), name


POPULARITY_SECONDS = 10.0  # the services' order (most rented first) is this fresh


@dataclass(frozen=True, slots=True)
class CatalogueService:
    key: str
    name: str
    ids: dict[str, str]  # provider name -> that provider's service id


class Catalogue:
    def __init__(self, providers: dict[str, Provider], cache: CatalogueCache, rentals: RentalRepo,
                 markup_percent: Decimal, alerts_offered: bool = True) -> None:
        self.providers = providers
        self.cache = cache
        self.rentals = rentals
        self.markup_percent = markup_percent  # the operator's /markup changes it while the bot runs
        self.alerts_offered = alerts_offered  # 🔔 under plan lists (off when ALERTS_PER_CHAT is 0)
        self._sold_out: OrderedDict[tuple[str, str], float] = OrderedDict()  # (provider, offer id) -> until
        self.records = DeliveryRecords(cache.db)
        self._popularity: tuple[float, dict[str, int]] = (float("-inf"), {})  # (read at, rentals per service)

    async def sold_out(self, offer: Offer) -> None:
        """A rent found no number for this plan: plan lists mark it for a while and are read afresh."""
        key = (offer.provider, offer.id)
        self._sold_out[key] = time.monotonic() + SOLD_OUT_SECONDS
        self._sold_out.move_to_end(key)
        while len(self._sold_out) > SOLD_OUT_MAX:
            self._sold_out.popitem(last=False)
        await self.cache.drop(f"offers:{offer.provider}:{offer.service_id}")

    def is_sold_out(self, offer: Offer) -> bool:
        until = self._sold_out.get((offer.provider, offer.id))
        if until is not None and until <= time.monotonic():
            del self._sold_out[(offer.provider, offer.id)]
            return False
        return until is not None

    def price(self, offer: Offer) -> int:
        return price_for_chat(offer.price, self.markup_percent)

    async def services(self, search: str = "") -> list[CatalogueService]:
        merged: dict[str, CatalogueService] = {}
        for name, services in (await self._services_by_provider()).items():
            for service in services:
                key = service_key(service.name)
                entry = merged.setdefault(key, CatalogueService(key, service.name, {}))
                if _spelling_rank(service.name) > _spelling_rank(entry.name):
                    entry = merged[key] = CatalogueService(key, service.name, entry.ids)
                entry.ids[name] = service.id
        popularity = await self._rentals_per_service()
        # Folded like the keys: "гугл" or "телеграм" is searched as Latin letters, nicknames included.
        needle = fold(search)
        if search.strip() and not needle:
            return []  # no letter or digit to search by: nothing found, not everything
        matches = {s.key: match(needle, s.key) for s in merged.values()} if needle else {}
        found = [s for s in merged.values() if matches[s.key][0]] if needle else list(merged.values())

        def rank(service: CatalogueService):
            known = WELL_KNOWN.index(service.key) if service.key in WELL_KNOWN else len(WELL_KNOWN)
            starts = 0 if needle and matches[service.key][1] else 1
            return (starts, -popularity.get(service.name.lower(), 0), known, service.name.lower())

        return sorted(found, key=rank)

    async def _rentals_per_service(self) -> dict[str, int]:
        """The order of the service list, read again every few seconds, not at every screen."""
        read_at, popularity = self._popularity
        if time.monotonic() - read_at >= POPULARITY_SECONDS:
            popularity = await self.rentals.popularity()
            self._popularity = (time.monotonic(), popularity)
        return popularity

    async def service(self, key: str) -> CatalogueService | None:
        return next((s for s in await self.services() if s.key == key), None)

    async def offers(self, service: CatalogueService) -> tuple[list[PricedOffer], list[str]]:
        """Offers of every provider, cheapest first, and the providers that failed to answer."""
        names = [n for n in service.ids if n in self.providers]
        results = await asyncio.gather(
            *(self._offers_of(n, Service(service.ids[n], service.name)) for n in names), return_exceptions=True
        )
        offers: list[PricedOffer] = []
        failed: list[str] = []
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, ProviderError):
                    raise result
                log.warning("offers from %s failed: %s", name, result)
                failed.append(self.providers[name].title)
                continue
            # One display name per service, whichever provider sells it: the card, the pushed code and the
            # ledger all take the rental's name from here.
            offers.extend(PricedOffer(dataclasses.replace(o, service_name=service.name), self.price(o))
                          for o in result)
        hidden = await self.records.hidden()
        if hidden:  # plans the operator hid are offered nowhere
            offers = [p for p in offers if (p.offer.provider, service.name, p.offer.country) not in hidden]
        offers.sort(key=lambda p: (p.price, p.offer.duration_minutes or 0))
        return offers, failed

    async def set_offers(self, name: str) -> list[PricedOffer]:
        """Every plan of this provider that may share a number with others, named as the catalogue names the
        service (so a set's card, codes and ledger spell it as its plan list does), cached like offers."""
        key = f"setoffers:{name}"
        cached = await self.cache.get(key)
        if cached is None:
            offers = await self.providers[name].list_set_offers()
            await self.cache.put(key, [offer_to_dict(o) for o in offers], OFFERS_TTL)
        else:
            offers = [offer_from_dict(d) for d in cached]
        names = {s.key: s.name for s in await self.services()}
        named = [dataclasses.replace(o, service_name=names.get(service_key(o.service_name), o.service_name))
                 for o in offers]
        return [PricedOffer(o, self.price(o)) for o in named]

    async def _services_by_provider(self) -> dict[str, list[Service]]:
        result: dict[str, list[Service]] = {}
        for name, provider in self.providers.items():
            cached = await self.cache.get(f"services:{name}")
            if cached is None:
                try:
                    services = await provider.list_services()
                except ProviderError as err:
                    log.warning("services from %s failed: %s", name, err)
                    continue
                cached = [[s.id, s.name] for s in services]
                await self.cache.put(f"services:{name}", cached, SERVICES_TTL)
            result[name] = [Service(sid, sname) for sid, sname in cached]
        return result

    async def current_offer(self, offer: Offer, max_age: float = QUOTE_FRESH) -> Offer | None:
        """The plan as its provider sells it now (read at most ``max_age`` seconds ago), named as ``offer``;
        None when the provider no longer lists it. A ProviderError when the provider cannot be asked."""
        if offer.provider not in self.providers:
            return None
        fresh = await self._offers_of(offer.provider, Service(offer.service_id, offer.service_name), max_age)
        found = next((o for o in fresh if o.id == offer.id), None)
        return dataclasses.replace(found, service_name=offer.service_name) if found is not None else None

    async def _offers_of(self, name: str, service: Service, max_age: float | None = None) -> list[Offer]:
        key = f"offers:{name}:{service.id}"
        cached = (await self.cache.get(key) if max_age is None
                  else await self.cache.get_fresh(key, OFFERS_TTL, max_age))
        if cached is None:
            offers = await self.providers[name].list_offers(service)
            await self.cache.put(key, [offer_to_dict(o) for o in offers], OFFERS_TTL)
            return offers
        return [offer_from_dict(d) for d in cached]
