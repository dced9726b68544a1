"""GetAText auctions in the operator panel, through the production Dispatcher against the fake GetAText: listed,
a bid confirmed with its total against the provider balance, checked before calling (too low, above the
balance), the provider's refusal in its own words, a double tap bidding once, and no one else let in."""
from __future__ import annotations

from decimal import Decimal

import pytest

from playground.recording import Person
from playground.sandbox.getatext import FakeGetAText
from providers.getatext import GetATextClient
from tests.conftest import ADMIN_ID, open_world


@pytest.fixture
async def world(settings, session):
    async with FakeGetAText(api_key="auction-key", rate_limit_interval=0.0) as fake:
        fake.enforce_rate_limit = False
        client = GetATextClient("auction-key", base_url=fake.url, timeout=2, backoff=0.01, rent_interval=0.0)
        async with open_world(settings, {"getatext": client}, session) as world:
            yield world.app, fake, world.person(ADMIN_ID, name="Op"), world.person(1001)


def bids(fake: FakeGetAText) -> list:
    return [body for method, path, body in fake.requests if method == "POST" and path.endswith("/bid")]


async def test_the_operator_lists_auctions_and_bids_with_the_total_confirmed(world):
    app, fake, op, _ = world
    await op.send("/admin")
    await op.press("Auctions")
    assert "#1 Whatsapp · bid $0.55 · ×100" in op.screen().text
    await op.send("/bid 1 0.60")
    assert "$0.60 × 100 = <b>$60.00</b>" in op.screen().text and "($100.00)" in op.screen().text
    assert bids(fake) == []  # only asked so far
    confirm = op.screen()
    await op.press("Bid · $60.00", confirm)
    said = op.screen().text
    assert "“Bid placed successfully”." in said and "Current bid: $0.60" in said and ".”." not in said
    assert {"🔨 Auctions", "« Menu"} <= set(op.buttons())  # a way on
    assert fake.auctions[1].current_bid == Decimal("0.60")
    await op.press("Bid · $60.00", confirm)  # the same button again: now at the current bid, refused before calling
    assert len(bids(fake)) == 1


async def test_a_bid_is_checked_before_the_provider_is_asked(world):
    app, fake, op, _ = world
    await op.send("/bid 1 0.50")
    assert "above the current bid, $0.55" in op.screen().text
    await op.send("/bid 1 2.00")
    assert "$200.00 is above the provider balance $100.00" in op.screen().text
    await op.send("/bid 7 1")
    assert "Auction #7 is not active any more" in op.screen().text
    await op.send("/bid one")
    assert "Usage: /bid" in op.screen().text
    assert bids(fake) == []


async def test_the_providers_refusal_is_shown_in_its_words(world, monkeypatch):
    app, fake, op, _ = world
    await op.send("/bid 1 0.60")
    confirm = op.screen()
    quote = app.auctions.quote

    async def quoted(*args):  # the checks pass with the figures of a moment ago; the provider then refuses
        result = await quote(*args)
        fake.fail_next(400, {"status": "error", "errors": "Insufficient funds for this bid"})
        return result

    monkeypatch.setattr(app.auctions, "quote", quoted)
    answer = await op.press("Bid · $60.00", confirm)
    shown = (answer.text or "") + op.screen().text
    assert "refused the bid: “Insufficient funds for this bid”" in shown
    assert fake.auctions[1].current_bid == Decimal("0.55")


async def test_no_one_but_the_operator_sees_or_bids(world):
    app, fake, op, alice = world
    await alice.send("/bid 1 0.60")
    assert "Usage" not in alice.screen().text and bids(fake) == []
    await op.send("/bid 1 0.60")
    forged = op.data_of("Bid", op.screen())
    await alice.send("/start")
    await alice.press_data(forged, alice.screen())
    assert bids(fake) == []


async def test_russian_auction_screens(world):
    app, fake, op, _ = world
    ru = Person(op.dp, op.bot, op.session, ADMIN_ID, name="Op", language="ru")
    await ru.send("/start")
    await ru.send("/bid 1 0.60")
    assert "Ставка на аукцион #1" in ru.screen().text and "✅ Поставить · $60.00" in ru.buttons()


async def test_a_bid_without_an_answer_is_unknown_and_not_sent_again(world, monkeypatch):
    app, fake, op, _ = world
    await op.send("/bid 1 0.60")
    confirm = op.screen()
    quote = app.auctions.quote

    async def checked_then_slow(*args):  # the checks answer; the bid's reply comes after the client gave up
        result = await quote(*args)
        fake.slow_seconds = 3.0
        fake.set_mode("slow")
        return result

    monkeypatch.setattr(app.auctions, "quote", checked_then_slow)
    answer = await op.press("Bid · $60.00", confirm)
    fake.set_mode("ok")
    assert "whether the bid was placed is not known" in (answer.text or "") + op.screen().text
    assert len(bids(fake)) == 1  # never retried
