"""An in-memory Provider for flow tests: same interface, programmable failures, no HTTP.

Rent wishes: it takes those given as ``rent_choices`` (none by default) and records the last ``RentChoice``
it got in ``last_choice``. It honours an area code (the phone takes it) and a price cap (an offer above it is
refused as nothing available); a carrier is only recorded.
"""
from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from providers import (
    BillingType,
    Capability,
    Choice,
    Offer,
    Provider,
    Rental,
    RentalStatus,
    RentChoice,
    Service,
    Sms,
    errors,
)
from providers.codes import extract_code


class MemoryProvider(Provider):
    def __init__(self, name: str = "memsms", title: str = "MemSMS", *,
                 capabilities: Sequence[Capability] = (Capability.CANCEL, Capability.FINISH, Capability.RENEW,
                                                        Capability.AUTO_RENEW, Capability.HISTORY),
                 min_age_to_cancel: float = 0.0, rent_choices: Sequence[Choice] = (),
                 carriers: Sequence[str] = ()) -> None:
        self.name, self.title = name, title
        self.capabilities = frozenset(capabilities)
        self.rent_choices = frozenset(rent_choices)
        self.carriers = tuple(carriers)
        self.last_choice: RentChoice | None = None  # what the last rent() was given
        self.min_age_to_cancel = min_age_to_cancel
        self.services = [Service("tg", "Telegram"), Service("wa", "WhatsApp"), Service("gg", "Google")]
        self.prices = {"tg": Decimal("1.00"), "wa": Decimal("0.55"), "gg": Decimal("2.10")}
        self.stock: dict[str, int] = {}  # service id -> numbers left (listed as the plans' stock); unset: unknown
        self.rentals: dict[str, Rental] = {}
        self.unread: list[Sms] = []
        self.fail_rent: Exception | None = None  # raised by the next rent()
        self.rent_delay = 0.0
        self.rent_calls = 0
        self.surcharge = Decimal(0)  # charged on a rent above the listed price (the rent reply says so)
        self.balance = Decimal("100")
        self.closed = False
        self._ids = itertools.count(1)

    async def list_services(self) -> list[Service]:
        return list(self.services)

    async def list_offers(self, service: Service) -> list[Offer]:
        price = self.prices[service.id]
        stock = self.stock.get(service.id)
        return [
            Offer(self.name, f"{service.id}-day", service.id, service.name, price, BillingType.DURATION, 1440,
                  "1 day", "USA", renew_price=price, stock=stock),
            Offer(self.name, f"{service.id}-month", service.id, service.name, price * 10, BillingType.DURATION,
                  43200, "1 month", "USA", renew_price=price * 10, stock=stock),
        ]

    async def get_balance(self) -> Decimal:
        return self.balance

    async def rent(self, offer: Offer, choice: RentChoice | None = None) -> Rental:
        self.rent_calls += 1
        self.last_choice = choice
        self._check_choice(choice)
        if self.rent_delay:
            await asyncio.sleep(self.rent_delay)
        if self.fail_rent is not None:
            failure, self.fail_rent = self.fail_rent, None
            raise failure
        if self.stock.get(offer.service_id) == 0:
            raise errors.NothingAvailableError("sold out", provider=self.name)
        charged = offer.price + self.surcharge
        if choice is not None and choice.max_price is not None and charged > choice.max_price:
            raise errors.NothingAvailableError("no number at or below the price cap", provider=self.name)
        rental_id = str(next(self._ids))
        self.balance -= charged
        now = datetime.now(UTC)
        area = (choice.area_code or "").strip() if choice is not None else ""
        rental = Rental(self.name, rental_id, f"+1{area or '555'}000{int(rental_id):04d}", offer.service_name,
                        RentalStatus.ACTIVE, charged, now, now + timedelta(minutes=offer.duration_minutes or 20),
                        plan_id=offer.id)
        self.rentals[rental_id] = rental
        return rental

    def raise_price(self, service_id: str, price: Decimal | str) -> None:
        """List and charge the service's plans at ``price`` (a day; a month ten times it) from now on."""
        self.prices[service_id] = Decimal(price)

    def set_stock(self, service_id: str, count: int | None) -> None:
        """The service's plans list ``count`` numbers left (0: sold out, renting finds none); None: unknown."""
        if count is None:
            self.stock.pop(service_id, None)
        else:
            self.stock[service_id] = count

    async def get_rental(self, rental_id: str) -> Rental:
        if rental_id not in self.rentals:
            raise errors.NotFoundError("no such rental", provider=self.name, status=404)
        return self.rentals[rental_id]

    async def list_active_rentals(self) -> list[Rental]:
        return [r for r in self.rentals.values() if r.status is RentalStatus.ACTIVE]

    async def fetch_new_sms(self, rental_ids: Sequence[str]) -> list[Sms]:
        wanted = set(rental_ids)
        return [s for s in self.unread if s.rental_id in wanted]

    def inject_sms(self, rental_id: str, body: str, code: str | None = None) -> Sms:
        sms = Sms(self.name, f"m{next(self._ids)}", rental_id, body, extract_code(body, code), datetime.now(UTC),
                  "+100")
        self.unread.append(sms)
        return sms

    async def cancel(self, rental_id: str) -> Rental:
        return self._set(rental_id, RentalStatus.CANCELLED)

    async def finish(self, rental_id: str) -> Rental:
        return self._set(rental_id, RentalStatus.FINISHED)

    async def renew(self, rental_id: str) -> Rental:
        old = await self.get_rental(rental_id)
        new_id = str(next(self._ids))
        service_id, _, length = (old.plan_id or "").partition("-")
        price = self.prices.get(service_id, old.price) * (10 if length == "month" else 1)  # today's price
        self.rentals[new_id] = Rental(self.name, new_id, old.phone, old.service_name, RentalStatus.ACTIVE,
                                      price, datetime.now(UTC), datetime.now(UTC) + timedelta(days=1))
        return self.rentals[new_id]

    async def set_auto_renew(self, rental_id: str, enabled: bool) -> bool:
        rental = await self.get_rental(rental_id)
        self.rentals[rental_id] = Rental(**{**{f: getattr(rental, f) for f in rental.__slots__}, "auto_renew": enabled})
        return enabled

    async def history(self, rental_id: str) -> list[Sms]:
        return [s for s in self.unread if s.rental_id == rental_id]

    async def aclose(self) -> None:
        self.closed = True

    def _set(self, rental_id: str, status: RentalStatus) -> Rental:
        if rental_id not in self.rentals:
            raise errors.NotFoundError("no such rental", provider=self.name, status=404)
        rental = self.rentals[rental_id]
        self.rentals[rental_id] = Rental(**{**{f: getattr(rental, f) for f in rental.__slots__}, "status": status})
        return self.rentals[rental_id]
