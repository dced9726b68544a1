"""Alerts (issue 17): 🔔 from a plan list, "tell me when it is back / under $X", through the production dispatcher
against the sandbox's MemoryProvider. One message when it happens, with a Rent button at the price found (the
quote lock: a rise by the tap asks again); expiry; the per-chat limit; one catalogue read per service a round."""
from __future__ import annotations

from decimal import Decimal

import pytest

from bot.app import App
from bot.jobs import Jobs
from bot.outbound.telegram_out import ChatSender
from playground.recording import Person
from storage.models import db_time, utcnow
from tests.conftest import credit, open_world

BELL = "Tell me when it's cheaper / back"


async def time_passes(app: App, seconds: float) -> None:
    """The catalogue's cached offers grow ``seconds`` older."""
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE catalogue_cache SET expires_at = expires_at - ?", (seconds,))
    app.catalogue.cache.forget()  # what the bot read before is read again, as it is now


async def balance(app: App, chat_id: int = 1001) -> int:
    return (await app.chats.get(chat_id)).balance


@pytest.fixture
def jobs(app, telegram) -> Jobs:
    _, bot = telegram
    return Jobs(app.db, app.rentals, app.chats, app.sms_repo, ChatSender(bot, app.chats),
                app.renderer, alerts=app.alerts)


async def to_plans(alice: Person, app: App, balance: int = 2000) -> None:
    await alice.send("/start")
    await credit(app, alice.chat_id, balance)
    await alice.press("Rent a number")
    await alice.press("Telegram")


def alert_messages(session, chat_id: int = 1001) -> list[str]:
    return [m.text for m in session.sent(chat_id) if m.text.startswith("🔔 <b>")
            and (" is back: " in m.text or " is under " in m.text)]


async def test_a_sold_out_plan_alert_fires_once_when_stock_returns_and_rents_in_one_tap(app, alice, provider, jobs,
                                                                                          session):
    provider.set_stock("tg", 0)
    await to_plans(alice, app)
    assert "⛔ $1.10 · MemSMS · 1 day" in alice.buttons()
    await alice.press(BELL)
    assert "I'll message you once" in alice.screen().text and "a sold-out plan to hear" in alice.screen().text
    await alice.press("1 day back in stock")
    assert "Done: Telegram · 1 day back" in alice.screen().text
    calls = provider.rent_calls
    assert await jobs.check_alerts() == 0  # still none in stock
    provider.set_stock("tg", 3)
    assert await jobs.check_alerts() == 0  # the cached list (60 s) is what a round reads
    await time_passes(app, 61)
    assert await jobs.check_alerts() == 1
    assert alert_messages(session) == ["🔔 <b>Telegram</b> is back: $1.10 · MemSMS · 1 day"]
    await time_passes(app, 61)
    assert await jobs.check_alerts() == 0  # fired once, then done
    assert len(alert_messages(session)) == 1
    assert provider.rent_calls == calls
    fired = alice.screen()
    await alice.press("Rent for $1.10", fired)
    assert "+1 555 000 0001" in alice.screen().text
    assert await balance(app) == 2000 - 110
    await alice.press("Rent for $1.10", fired)  # the same button again: rents once
    assert provider.rent_calls == calls + 1 and await balance(app) == 2000 - 110
    assert await app.ledger_repo.totals_mismatch() == []


async def test_an_under_price_alert_fires_once_and_its_rent_asks_again_when_the_price_rose(app, alice, provider,
                                                                                           jobs, session):
    await to_plans(alice, app)
    await alice.press(BELL)
    assert {"🔔 Under $0.99", "🔔 Under $0.88", "🔔 Under $0.77"} <= set(alice.buttons())
    assert not any("back in stock" in b for b in alice.buttons())  # nothing sold out on this list
    # One offer: the screen names today's cheapest and asks for a lower price, which is what every button is.
    text = alice.screen().text
    assert "the cheapest plan now costs $1.10" in text and "Pick a lower price" in text, text
    assert "sold-out" not in text and "less than $1.10" not in text
    under = [Decimal(b.split("$")[1]) for b in alice.buttons() if b.startswith("🔔 Under")]
    assert under and all(price < Decimal("1.10") for price in under)
    await alice.press("Under $0.99")
    assert "Telegram under $0.99" in alice.screen().text
    await time_passes(app, 61)
    assert await jobs.check_alerts() == 0  # still $1.10
    provider.raise_price("tg", "0.80")  # $0.88 with the markup
    await time_passes(app, 61)
    assert await jobs.check_alerts() == 1
    assert alert_messages(session) == ["🔔 <b>Telegram</b> is under $0.99: $0.88 · MemSMS · 1 day"]
    provider.raise_price("tg", "0.95")  # $1.05 by the tap
    await time_passes(app, 16)  # the quote lock re-reads a price older than 15 s
    assert await jobs.check_alerts() == 0
    await alice.press("Rent for $0.88", alice.screen())
    screen = alice.screen()
    assert "The price went up" in screen.text and "$0.88 → $1.05" in screen.text
    assert provider.rent_calls == 0 and await balance(app) == 2000
    await alice.press("Rent for $1.05")
    assert "+1 555 000 0001" in alice.screen().text
    assert await balance(app) == 2000 - 105
    assert len(alert_messages(session)) == 1
    assert await app.ledger_repo.totals_mismatch() == []


async def test_an_alert_ends_unfired_after_its_hours(app, alice, provider, jobs, session):
    await to_plans(alice, app)
    await alice.press(BELL)
    await alice.press("Under $0.99")
    await alice.send("/alerts")
    assert "Telegram under $0.99" in alice.screen().text
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE price_alerts SET expires_at = ?", (db_time(utcnow()),))
    provider.raise_price("tg", "0.50")
    await time_passes(app, 61)
    assert await jobs.check_alerts() == 0
    assert alert_messages(session) == []
    row = await app.db.fetchone("SELECT status FROM price_alerts")
    assert row["status"] == "expired"
    await alice.send("/alerts")
    assert "No alerts" in alice.screen().text


async def test_at_most_n_alerts_per_chat_and_a_cancelled_one_frees_its_place(app, alice, provider, jobs, session):
    app.alerts.per_chat = 2
    await to_plans(alice, app)
    for price in ("0.99", "0.88"):
        await alice.press(BELL)
        await alice.press(f"Under ${price}")
        await alice.press("Back")
    await alice.press(BELL)
    await alice.press("Under $0.99")  # the same one again: still two
    assert "Done" in alice.screen().text
    await alice.press("Back")
    await alice.press(BELL)
    await alice.press("Under $0.77")
    assert "You already have 2 alerts" in alice.screen().text
    await alice.press("My alerts")
    assert "Your alerts</b> (2 of 2)" in alice.screen().text
    await alice.press("✖ Telegram under $0.99")
    assert "(1 of 2)" in alice.screen().text
    await alice.send("/rent telegram")
    await alice.press("Telegram")
    await alice.press(BELL)
    await alice.press("Under $0.77")
    assert "Done" in alice.screen().text
    provider.raise_price("tg", "0.60")  # $0.66: both open alerts met, one message each
    await time_passes(app, 61)
    assert await jobs.check_alerts() == 2
    assert len(alert_messages(session)) == 2
    assert await app.ledger_repo.totals_mismatch() == []


async def test_one_catalogue_read_per_service_a_round_whatever_the_alerts(app, alice, provider, jobs, session):
    reads = 0
    listed = provider.list_offers

    async def counting(service):
        nonlocal reads
        reads += 1
        return await listed(service)

    provider.list_offers = counting
    await to_plans(alice, app)
    for price in ("0.99", "0.88", "0.77"):
        await alice.press(BELL)
        await alice.press(f"Under ${price}")
        await alice.press("Back")
    await time_passes(app, 61)
    before = reads
    assert await jobs.check_alerts() == 0
    assert reads == before + 1


async def test_a_round_that_needs_a_provider_call_waits_when_the_budget_has_none(app, alice, provider, jobs, session):
    from bot.services.budget import ProviderBudget

    await to_plans(alice, app)
    await alice.press(BELL)
    await alice.press("Under $0.99")
    provider.raise_price("tg", "0.50")
    await time_passes(app, 61)  # the cached list expired: the round would call the provider
    spent = app.alerts.budget
    app.alerts.budget = ProviderBudget(rate=1e-6, burst=0.0)  # the card actions took every call
    calls = provider.rent_calls
    assert await jobs.check_alerts() == 0
    assert alert_messages(session) == []
    app.alerts.budget = spent
    assert await jobs.check_alerts() == 1
    assert provider.rent_calls == calls


def unlisted(provider, service_id: str):
    """The provider lists no plan of this service (it still names the service): what it listed before, to restore."""
    listed = provider.list_offers

    async def offers(service):
        return [] if service.id == service_id else await listed(service)

    provider.list_offers = offers
    return listed


async def test_a_service_with_no_plans_offers_an_alert_that_fires_once_the_first_plan_is_listed(app, alice,
                                                                                                 provider, jobs,
                                                                                                 session):
    listed = unlisted(provider, "tg")
    await to_plans(alice, app)
    assert "no numbers available right now" in alice.screen().text
    assert "🔔 Tell me when it's back" in alice.buttons()
    await alice.press("Tell me when it's back")
    assert "Done: Telegram back" in alice.screen().text
    await alice.press("Back")
    await alice.press("Tell me when it's back")
    assert "Done: Telegram back" in alice.screen().text
    assert len(await app.alerts.repo.open_of(1001)) == 1  # the same alert twice: one
    assert await jobs.check_alerts() == 0
    provider.list_offers = listed
    await time_passes(app, 61)
    assert await jobs.check_alerts() == 1
    assert alert_messages(session) == ["🔔 <b>Telegram</b> is back: $1.10 · MemSMS · 1 day"]
    await time_passes(app, 61)
    assert await jobs.check_alerts() == 0  # fired once
    await alice.press("Rent for $1.10", alice.screen())
    assert "+1 555 000 0001" in alice.screen().text and await balance(app) == 2000 - 110
    assert await app.ledger_repo.totals_mismatch() == []


def alerts_off(settings):
    """ALERTS_PER_CHAT=0: the operator offers no alerts."""
    return settings.model_copy(update={"alerts_per_chat": 0})


async def test_no_alert_for_a_service_without_plans_when_alerts_are_off(settings, provider, session):
    async with open_world(alerts_off(settings), {provider.name: provider}, session) as world:
        app, alice = world.app, world.person(1001, name="Alice")
        unlisted(provider, "tg")
        await to_plans(alice, app)
        assert "no numbers available right now" in alice.screen().text
        assert not any("🔔" in b for b in alice.buttons())


async def test_no_bell_when_alerts_are_off(settings, provider, session):
    async with open_world(alerts_off(settings), {provider.name: provider}, session) as world:
        app, alice = world.app, world.person(1001, name="Alice")
        await to_plans(alice, app)
        assert not any(BELL in b for b in alice.buttons())


async def test_settings_lead_to_the_alerts(app, alice):
    await to_plans(alice, app)
    await alice.press(BELL)
    await alice.press("Under $0.99")
    await alice.send("/settings")
    await alice.press("My alerts")
    assert "Telegram under $0.99" in alice.screen().text
