"""Each plan's delivery record (issue 17): kept incrementally from the bot's own outcomes (a rental's first code,
a rental ending without one), shown on plan lists once a plan has 20 rentals in 30 days, ranking plans by price
per received code; the operator sees it per provider, worst first, and can hide a plan."""
from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.app import App
from bot.services.delivery_record import MIN_RENTALS, rank
from bot.services.offers import PricedOffer
from playground.recording import Person
from playground.sandbox.memory import MemoryProvider
from providers import BillingType, Offer
from storage import RentalRepo
from storage.db import WrongStateError
from storage.models import utcnow
from storage.outcomes import PlanRecord
from tests.conftest import ADMIN_ID, credit, open_world

_keys = itertools.count(1)


async def past_rental(app: App, provider: str, *, code_after: float | None, days_ago: float = 1,
                      service: str = "Telegram", country: str = "USA") -> int:
    """A rental as the bot's own flow leaves it: rented, a code after ``code_after`` seconds (or none), ended."""
    start = utcnow() - timedelta(days=days_ago)
    async with app.db.transaction() as conn:
        rental = await RentalRepo.insert_pending(
            conn, chat_id=1001, user_id=1001, user_name="A", provider=provider, offer_id="tg-day",
            service_name=service, billing="duration", duration_label="1 day", country=country,
            duration_minutes=1440, price_charged=0, period_price=0, provider_cost="1", request_key=f"k{next(_keys)}")
        await RentalRepo.move(conn, rental.id, "active", phone="+15550001", provider_rental_id=f"p{rental.id}",
                              active_from=start)
    if code_after is not None:
        n = next(_keys)
        await app.rentals.sms.store(provider=provider, provider_message_id=f"m{n}", rental_id=rental.id,
                                    body="code 1234", code="1234", received_at=start + timedelta(seconds=code_after))
        await app.rentals.sms.store(provider=provider, provider_message_id=f"m{n}b", rental_id=rental.id,
                                    body="code 5678", code="5678", received_at=start + timedelta(seconds=400))
    await app.rentals.close(rental.id, "finished")
    return rental.id


@pytest.fixture
async def two_providers(settings, session):
    memsms, cheap = MemoryProvider(), MemoryProvider("cheapsms", "CheapSMS")
    cheap.prices = {k: v - Decimal("0.10") for k, v in memsms.prices.items()}  # $0.99 against $1.10
    async with open_world(settings, {"memsms": memsms, "cheapsms": cheap}, session) as world:
        await world.app.chats.ensure(1001, "private", "Alice")
        yield world.app, world.person(1001, name="Alice")


async def plans(alice: Person) -> tuple[str, list[str]]:
    await alice.send("/start")
    await alice.press("Rent a number")
    await alice.press("Telegram")
    return alice.screen().text, alice.buttons()


async def test_figures_appear_after_the_threshold_and_change_the_ranking(two_providers):
    app, alice = two_providers
    for i in range(MIN_RENTALS - 1):  # CheapSMS: cheaper, but 1 code in 4
        await past_rental(app, "cheapsms", code_after=29 if i % 4 == 0 else None)
    for i in range(MIN_RENTALS - 1):  # MemSMS: a code nearly every time, in about 20 s
        await past_rental(app, "memsms", code_after=18 if i else None)
    text, buttons = await plans(alice)
    assert "📊" not in text  # 19 rentals each: nothing shown, price decides
    assert buttons[0].startswith("🏷 $0.99 · CheapSMS")

    await past_rental(app, "cheapsms", code_after=None)
    await past_rental(app, "memsms", code_after=21)
    text, buttons = await plans(alice)
    assert "📊 MemSMS: 95% · 20 s" in text and "📊 CheapSMS: 25% · 30 s" in text
    # $1.10 / 95 % = $1.16 a received code against $0.99 / 25 % = $3.96: MemSMS first now
    assert buttons[0].startswith("$1.10 · MemSMS · 1 day")
    assert await app.ledger_repo.totals_mismatch() == []


async def test_the_window_is_rolling_and_failed_or_repriced_rentals_do_not_count(two_providers):
    app, alice = two_providers
    for _ in range(MIN_RENTALS):
        await past_rental(app, "memsms", code_after=10, days_ago=31)  # out of the window
    [record] = await app.catalogue.records.repo.records(provider="memsms", days=60)
    assert record.rentals == MIN_RENTALS and record.delivered == MIN_RENTALS
    assert await app.catalogue.records.figures("Telegram") == {}
    rental_id = await past_rental(app, "memsms", code_after=None)
    with pytest.raises(WrongStateError):  # ended twice: refused, and counted once
        async with app.db.transaction() as conn:
            await RentalRepo.move(conn, rental_id, "cancelled")
    async with app.db.transaction() as conn:
        rental = await RentalRepo.insert_pending(
            conn, chat_id=1001, user_id=1001, user_name="A", provider="memsms", offer_id="tg-day",
            service_name="Telegram", billing="duration", duration_label="1 day", country="USA",
            duration_minutes=1440, price_charged=0, period_price=0, provider_cost="1", request_key="failed")
        await RentalRepo.move(conn, rental.id, "failed")
    [record] = await app.catalogue.records.repo.records(provider="memsms", days=30)
    assert (record.rentals, record.delivered) == (1, 0)


async def test_a_rental_refused_above_the_quote_says_nothing_of_the_plan(app, alice, provider):
    from tests.conftest import to_confirm
    provider.surcharge = Decimal("0.50")
    await to_confirm(alice, app)
    await alice.press("Rent for $1.10")
    assert "charged more than quoted" in alice.screen().text
    assert await app.catalogue.records.repo.records(provider="memsms") == []


async def test_operator_sees_worst_first_and_hides_a_plan(two_providers):
    app, alice = two_providers
    await app.chats.ensure(ADMIN_ID, "private", "Op")
    admin = Person(alice.dp, alice.bot, alice.session, ADMIN_ID, name="Op")
    for i in range(MIN_RENTALS):
        await past_rental(app, "cheapsms", code_after=30 if i % 2 else None)
        await past_rental(app, "cheapsms", code_after=12, service="WhatsApp")
    await admin.send("/plans")
    text = admin.session.last(ADMIN_ID).text
    assert text.index("Telegram · USA: 20 rentals, 50%") < text.index("WhatsApp · USA: 20 rentals, 100%")
    await admin.send("/hide cheapsms;Telegram;USA")
    assert "Hidden from users" in admin.session.last(ADMIN_ID).text
    await credit(app, 1001, 1000)
    _, buttons = await plans(alice)
    assert not any("CheapSMS" in b for b in buttons) and any("MemSMS" in b for b in buttons)
    await admin.send("/unhide cheapsms;Telegram;USA")
    _, buttons = await plans(alice)
    assert any("CheapSMS" in b for b in buttons)


def test_ranking_takes_plans_without_a_record_at_the_average_share():
    def offer(provider: str, cents: int) -> PricedOffer:
        return PricedOffer(Offer(provider, "x", "s", "Telegram", Decimal(1), BillingType.SMS, 20, "", "USA"), cents)

    a, b, c = offer("a", 100), offer("b", 110), offer("c", 120)
    records = {("a", "USA"): PlanRecord("a", "Telegram", "USA", 40, 20, 30),  # 50 %: $2.00 a code
               ("c", "USA"): PlanRecord("c", "Telegram", "USA", 40, 40, 30)}  # 100 %: $1.20 a code
    # b has no record: taken at 75 %, $1.47 a code
    assert rank([a, b, c], records) == [c, b, a]
    assert rank([a, b, c], {}) == [a, b, c]
