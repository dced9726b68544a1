"""The quote lock (issue 17): the price on the confirm screen is the most the chat pays. A provider price rise
between the screen and the tap asks again (nothing charged until agreed); GetAText is sent the quote's price as
``max_price``; a rent reply above the quote is cancelled and refunded, or absorbed by the operator where it
cannot be; Rent again follows the same lock. Through the production dispatcher against the sandbox providers."""
from __future__ import annotations

from decimal import Decimal

import pytest

from bot.app import App
from bot.services.catalogue import QUOTE_FRESH
from playground.sandbox.getatext import FakeGetAText
from playground.sandbox.gotsms import FakeGotSms
from providers.getatext import GetATextClient
from providers.gotsms import GotSmsClient
from tests.conftest import credit, open_world, to_confirm


async def time_passes(app: App, seconds: float = QUOTE_FRESH + 1) -> None:
    """The catalogue's cached offers grow ``seconds`` older (still within their TTL)."""
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE catalogue_cache SET expires_at = expires_at - ?", (seconds,))
    app.catalogue.cache.forget()  # what the bot read before is read again, as it is now


async def balance(app: App, chat_id: int = 1001) -> int:
    return (await app.chats.get(chat_id)).balance


async def kinds(app: App, chat_id: int = 1001) -> list[str]:
    return [e.kind for e in await app.ledger_repo.recent(chat_id)]


@pytest.fixture
async def gotsms_world(settings, session):
    async with FakeGotSms(balance="1000") as fake:
        client = GotSmsClient(fake.api_key, base_url=fake.url, timeout=5, backoff=0.01)
        async with open_world(settings, {"gotsms": client}, session) as world:
            yield world.app, fake, world.person(1001, name="Alice")


@pytest.fixture
async def getatext_world(settings, session):
    async with FakeGetAText(api_key="lock-key", rate_limit_interval=0.0) as fake:
        fake.enforce_rate_limit = False
        client = GetATextClient("lock-key", base_url=fake.url, timeout=5, backoff=0.01, rent_interval=0.0,
                                poll_interval=0.0)
        async with open_world(settings, {"getatext": client}, session) as world:
            yield world.app, fake, world.person(1001, name="Alice")


async def test_a_price_rise_between_screen_and_tap_asks_again_and_charges_nothing_until_agreed(app, alice,
                                                                                               provider):
    await to_confirm(alice, app)
    assert "✅ Rent for $1.10" in alice.buttons()
    provider.raise_price("tg", "2.00")  # $2.20 with the 10 % markup
    await time_passes(app)
    await alice.press("Rent for $1.10")
    screen = alice.screen()
    assert "The price went up" in screen.text and "$1.10 → $2.20" in screen.text
    assert "✅ Rent for $2.20" in alice.buttons()
    assert provider.rent_calls == 0 and await balance(app) == 2000 and await kinds(app) == ["adjustment"]
    await alice.press("Rent for $2.20")
    assert "+1 555 000 0001" in alice.screen().text
    assert await balance(app) == 2000 - 220
    assert await app.ledger_repo.totals_mismatch() == []


async def test_a_price_read_moments_ago_is_not_read_again(app, alice, provider):
    """Within QUOTE_FRESH the cached price stands: the rent call's own guard is the backstop (below)."""
    await to_confirm(alice, app)
    provider.raise_price("tg", "2.00")
    await alice.press("Rent for $1.10")
    assert await balance(app) == 2000 - 110  # rented at the quote: MemSMS charges what it is asked


async def test_a_lower_price_at_the_tap_charges_the_quote_never_more(app, alice, provider):
    await to_confirm(alice, app)
    provider.raise_price("tg", "0.50")
    await time_passes(app)
    await alice.press("Rent for $1.10")
    assert await balance(app) == 2000 - 110


async def test_a_plan_gone_at_the_tap_charges_nothing(app, alice, provider):
    await to_confirm(alice, app)
    provider.services = [s for s in provider.services if s.id != "tg"]
    provider.prices.pop("tg")
    await time_passes(app)
    await alice.press("Rent for $1.10")
    assert provider.rent_calls == 0 and await balance(app) == 2000


async def test_gotsms_rise_asks_again_then_a_reply_above_the_quote_is_cancelled_and_refunded(gotsms_world):
    app, fake, alice = gotsms_world
    await alice.send("/start")
    await credit(app, alice.chat_id, 2000)
    for label in ("Rent a number", "Telegram", "United States", "1 day"):
        await alice.press(label)
    assert "✅ Rent for $1.10" in alice.buttons()
    fake.raise_price(fake.find_plan("Telegram", "day", 1), "1.50")  # $1.65
    await time_passes(app)
    await alice.press("Rent for $1.10")
    assert "$1.10 → $1.65" in alice.screen().text and not fake.rents and await balance(app) == 2000

    # The list says $1.50, but the provider charges 50 cents more when it rents: cancelled at once, refunded.
    fake.surcharge = Decimal("0.50")
    await alice.press("Rent for $1.65")
    screen = alice.screen()
    assert "The provider charged more than quoted" in screen.text and "$2.20 instead of $1.65" in screen.text
    [rent] = fake.rents.values()
    assert rent["status"] == "finished"  # refunded at GotSMS
    assert fake.balance == Decimal("1000")  # the operator paid nothing
    assert await balance(app) == 2000 and await kinds(app) == ["refund", "charge", "adjustment"]
    assert app.rentals.refused_above_quote == {"gotsms": 1}

    # Asked again at what GotSMS charges: agreed, it rents at that price and the reply is within the quote.
    assert "✅ Rent for $2.20" in alice.buttons()
    await alice.press("Rent for $2.20")
    assert "active" in alice.screen().text
    assert await balance(app) == 2000 - 220
    assert app.rentals.absorbed == {}


async def test_a_reply_above_the_quote_that_cannot_be_cancelled_is_absorbed_and_counted(app, alice, provider):
    provider.cancel_refunds = lambda plan_id: False  # cancelling gives nothing back at this provider
    provider.surcharge = Decimal("0.30")
    await to_confirm(alice, app)
    await alice.press("Rent for $1.10")
    assert "active" in alice.screen().text
    assert await balance(app) == 2000 - 110  # never above the quote
    assert app.rentals.absorbed == {"memsms": 143 - 110}  # $1.30 + 10 % = $1.43: the operator's
    [rental], _ = await app.rentals.rentals.for_chat(1001)
    assert rental.provider_cost == "1.30"  # what the provider really took, on the record


async def test_getatext_rent_carries_the_quotes_provider_price_as_max_price(getatext_world):
    app, fake, alice = getatext_world
    await alice.send("/start")
    await credit(app, alice.chat_id, 1000)
    for label in ("Rent a number", "Telegram", "$0.50"):
        await alice.press(label)
    fake.raise_price("telegram", "0.60")  # $0.66
    await time_passes(app)
    await alice.press("Rent for $0.50")
    assert "$0.50 → $0.66" in alice.screen().text and fake.last_rent_body is None
    await alice.press("Rent for $0.66")
    assert fake.last_rent_body == {"service": "telegram", "max_price": 0.6}
    assert await balance(app) == 1000 - 66


async def test_getatext_refuses_a_rise_inside_the_fresh_window_and_nothing_stays_charged(getatext_world):
    app, fake, alice = getatext_world
    await alice.send("/start")
    await credit(app, alice.chat_id, 1000)
    for label in ("Rent a number", "Telegram", "$0.50"):
        await alice.press(label)
    fake.raise_price("telegram", "0.60")  # the cached price still says $0.45: max_price holds GetAText to it
    await alice.press("Rent for $0.50")
    assert fake.last_rent_body == {"service": "telegram", "max_price": 0.45}
    assert await balance(app) == 1000 and fake.balance == Decimal("100.00")


async def test_rent_again_reads_the_price_afresh_at_the_tap(app, alice, provider):
    await to_confirm(alice, app)
    await alice.press("Rent for $1.10")
    card = alice.screen()
    provider.raise_price("tg", "2.00")
    await time_passes(app)
    before = await balance(app)
    answer = await alice.press("Rent again · $1.10", card)
    assert "The price is now $2.20" in answer.text and await balance(app) == before
    assert provider.rent_calls == 1
    await alice.press("Rent again · $2.20")
    assert await balance(app) == before - 220


async def test_rent_again_at_a_lower_price_charges_the_lower(app, alice, provider):
    await to_confirm(alice, app)
    await alice.press("Rent for $1.10")
    card = alice.screen()
    provider.raise_price("tg", "0.50")
    await time_passes(app)
    before = await balance(app)
    await alice.press("Rent again · $1.10", card)
    assert await balance(app) == before - 55
