"""Each plan's delivery record (issue 17) as screens use it: the figures of a service's plans over the rolling
window, shown once a plan has enough rentals to mean something, the ranking they give, and plans the operator
hid. The figures are kept incrementally by storage.outcomes; reading them is one indexed query of day rows."""
from __future__ import annotations

from storage import Database
from storage.outcomes import OutcomeRepo, PlanRecord

from .offers import PricedOffer

WINDOW_DAYS = 30
MIN_RENTALS = 20  # below this a plan's figures are not shown, nor used to rank it


class DeliveryRecords:
    def __init__(self, db: Database) -> None:
        self.repo = OutcomeRepo(db)
        self._hidden: set[tuple[str, str, str]] | None = None

    async def figures(self, service_name: str) -> dict[tuple[str, str], PlanRecord]:
        """(provider, country) -> record, for the plans of this service with MIN_RENTALS in the window."""
        return {(r.provider, r.country): r
                for r in await self.repo.records(service=service_name, days=WINDOW_DAYS)
                if r.rentals >= MIN_RENTALS}

    async def of_provider(self, provider: str) -> list[PlanRecord]:
        """Every plan of the provider with rentals in the window, worst first (share, then slower first)."""
        found = await self.repo.records(provider=provider, days=WINDOW_DAYS)
        return sorted(found, key=lambda r: (r.share, -(r.median_seconds or 10**9), -r.rentals, r.service))

    async def hidden(self) -> set[tuple[str, str, str]]:
        if self._hidden is None:
            self._hidden = await self.repo.hidden()
        return self._hidden

    async def set_hidden(self, provider: str, service: str, country: str, hidden: bool, by: int) -> None:
        await self.repo.set_hidden(provider, service, country, hidden, by)
        self._hidden = None


def rank(offers: list[PricedOffer], records: dict[tuple[str, str], PlanRecord]) -> list[PricedOffer]:
    """Plans by what a received code costs: price / share of rentals that got one (docs/features.md). A plan without a
    record is taken at the average share of the plans that have one (neither helped nor hurt by having none);
    equal costs: the faster median first, then the catalogue's order (price, length)."""
    if not records:
        return offers
    known = [r.share for r in records.values()]
    prior = sum(known) / len(known)

    def key(indexed: tuple[int, PricedOffer]):
        i, priced = indexed
        record = records.get((priced.offer.provider, priced.offer.country))
        share = record.share if record is not None else prior
        cost = priced.price / share if share > 0 else float("inf")
        return (cost, record.median_seconds if record and record.median_seconds else 10**9, i)

    return [p for _, p in sorted(enumerate(offers), key=key)]
