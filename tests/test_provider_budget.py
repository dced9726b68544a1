"""The bot keeps its word under load: its own pacing of card actions never refuses money back, says honestly when it
is the one refusing, and rents are paced to a provider's documented limit before they are sent, not refused and
refunded after. Through the production dispatcher; GetAText's fake server enforces its documented 1 request/s."""
from __future__ import annotations

import asyncio
import time

import pytest

from bot.app import App
from bot.services.budget import NOTICE_AFTER, ProviderBudget, TooManyAtOnce
from playground.recording import Person
from playground.sandbox.getatext import FakeGetAText
from providers import errors as perr
from providers.getatext import GetATextClient
from tests.conftest import credit, open_world, to_confirm

RENT = "/api/v1/rent-a-number"


def exhausted(rate: float) -> ProviderBudget:
    """A budget with its one call taken: the next waits 1/rate seconds for it."""
    budget = ProviderBudget(rate=rate, burst=1.0, max_wait=0.0)
    assert budget.try_spend("memsms")
    return budget


async def card_of_a_rented_number(app: App, alice: Person):
    await to_confirm(alice, app)
    await alice.press("Rent for")
    [rental], _ = await app.rentals.rentals.for_chat(1001)
    return rental


# -- money back is never refused by the bot's own budget ------------------------------------------------------


async def test_money_back_waits_its_turn_first_and_the_reads_give_way():
    budget = exhausted(rate=5.0)  # a call free again in 0.2 s
    refund = asyncio.create_task(budget.spend_returning_money("memsms"))
    await asyncio.sleep(0.05)
    with pytest.raises(TooManyAtOnce):  # a read behind it gives way rather than take its call
        await budget.spend("memsms")
    await refund  # and the refund got it, never refused
    assert not budget.try_spend("memsms")  # the call it took is gone; a background read leaves it for later


async def test_cancel_and_refund_under_an_exhausted_budget_is_not_refused_and_completes(app, provider, alice):
    rental = await card_of_a_rented_number(app, alice)
    before = (await app.chats.get(1001)).balance
    await alice.press("Cancel & refund")  # asked first
    # A call free again only after a longer wait than the tap is left spinning for (set at the confirming tap:
    # the question's own time on a busy machine must not use up the wait).
    app.rentals.budget = exhausted(rate=1 / (NOTICE_AFTER + 0.5))
    started = time.monotonic()
    answer = await alice.press("Cancel it")

    assert time.monotonic() - started >= NOTICE_AFTER  # it waited its turn...
    assert "this one goes first" in answer.text  # ...told at once it was being worked on, not "busy"
    done = await app.rentals.rentals.get(rental.id)
    assert done.status == "cancelled" and provider.rentals[rental.provider_rental_id].status.value == "cancelled"
    assert (await app.chats.get(1001)).balance == before + rental.price_charged
    assert "cancelled" in alice.screen().text.lower()  # the card shows how it ended


async def test_a_short_wait_keeps_the_usual_answer_with_the_amount_returned(app, provider, alice):
    rental = await card_of_a_rented_number(app, alice)
    app.rentals.budget = exhausted(rate=5.0)  # 0.2 s: the tap's spinner, no notice
    await alice.press("Cancel & refund")  # asked first
    answer = await alice.press("Cancel it")
    assert "returned to the balance" in answer.text
    assert (await app.rentals.rentals.get(rental.id)).status == "cancelled"


async def test_a_refusal_after_the_working_answer_still_reaches_the_chat(app, provider, alice, session):
    rental = await card_of_a_rented_number(app, alice)
    app.rentals.budget = exhausted(rate=1 / (NOTICE_AFTER + 0.2))

    async def refused(rental_id):
        raise perr.ProviderRejectedError("Rental cannot be cancelled", provider=provider.name, status=422)

    provider.cancel = refused
    await alice.press("Cancel & refund")  # asked first
    answer = await alice.press("Cancel it")
    assert "this one goes first" in answer.text  # the tap was answered while it waited...
    assert "Rental cannot be cancelled" in session.sent(1001)[-1].text  # ...so the refusal comes as a message
    assert (await app.rentals.rentals.get(rental.id)).status == "active"


async def test_finishing_is_never_refused_either(app, provider, alice):
    rental = await card_of_a_rented_number(app, alice)
    app.rentals.budget = exhausted(rate=1 / (NOTICE_AFTER + 0.2))
    await alice.press("Finish")  # asked first
    await alice.press("Finish, no more codes")
    assert (await app.rentals.rentals.get(rental.id)).status == "finished"


# -- a refused read says whose refusal it was ------------------------------------------------------------------


async def test_a_refresh_refused_by_the_bots_own_budget_says_so_not_that_the_provider_is_busy(app, provider, alice):
    await card_of_a_rented_number(app, alice)
    app.rentals.budget = exhausted(rate=0.001)
    answer = await alice.press("Refresh")
    assert answer.text == "Too many taps at once across the bot — try again in a moment."


async def test_the_provider_is_busy_only_when_the_provider_says_so(app, provider, alice):
    await card_of_a_rented_number(app, alice)

    async def rate_limited(rental_id):
        raise perr.RateLimitedError("Too Many Attempts.", provider=provider.name, status=429)

    provider.get_rental = rate_limited
    answer = await alice.press("Refresh")
    assert answer.text.startswith("The provider is busy with many requests right now.")


# -- rents paced to the provider's documented limit ------------------------------------------------------------


@pytest.fixture
async def getatext(settings, session):
    """The bot on GetAText's fake, which refuses (429) a renting call within 1 s of the last, as documented;
    the client as production builds it, its pace from the document (Provider.rent_interval)."""
    async with FakeGetAText(api_key="paced-key", rate_limit_interval=1.0) as fake:
        client = GetATextClient("paced-key", base_url=fake.url, timeout=5, backoff=0.01, poll_interval=0.0)
        assert client.rent_interval == 1.0
        async with open_world(settings, {"getatext": client}, session) as world:
            yield world.app, fake, world.dp, world.bot


async def at_getatext_confirm(app, people: list[Person]) -> None:
    """Each person with $20 on the confirm screen of GetAText's Telegram plan."""
    for person in people:
        await person.send("/start")
        await credit(app, person.chat_id, 2000)
        for label in ("Rent a number", "Telegram", "$0.50 · GetAText"):
            await person.press(label)


async def test_a_burst_of_rents_is_paced_before_sending_and_none_is_refused_or_refunded(getatext, session):
    app, fake, dp, bot = getatext
    people = [Person(dp, bot, session, 2001 + n, name=f"User{n}") for n in range(4)]
    await at_getatext_confirm(app, people)

    await asyncio.gather(*(person.press("Rent for") for person in people))  # four taps at once

    arrivals = [at for endpoint, at in fake.limited_arrivals if endpoint == RENT]
    assert len(arrivals) == 4 and fake.rate_limited_count == 0
    assert all(b - a >= 1.0 for a, b in zip(arrivals, arrivals[1:])), arrivals  # as the provider counts them
    rows = await app.db.fetchall("SELECT status FROM rentals")
    assert [r[0] for r in rows] == ["active"] * 4
    assert await app.db.fetchall("SELECT id FROM ledger WHERE kind = 'refund'") == []


async def test_rents_beyond_what_a_person_waits_for_are_refused_before_any_charge(getatext, session, monkeypatch):
    import bot.services.rentals as rentals_module

    monkeypatch.setattr(rentals_module, "RENT_QUEUE_MAX_WAIT", 2.0)  # two waiting at GetAText's 1 s pace
    app, fake, dp, bot = getatext
    people = [Person(dp, bot, session, 3001 + n, name=f"User{n}") for n in range(6)]
    await at_getatext_confirm(app, people)

    await asyncio.gather(*(person.press("Rent for") for person in people))  # six taps at once

    refusals = [a for a in session.callback_answers() if "Nothing was charged" in (a.text or "")]
    rows = await app.db.fetchall("SELECT chat_id, status FROM rentals")
    assert len(rows) == 3 and {r[1] for r in rows} == {"active"}  # the first three waited their turn
    assert len(refusals) == 3  # the others were told at once, not after a wait nobody would sit through
    renters = {r[0] for r in rows}
    for person in people:
        if person.chat_id not in renters:
            assert (await app.chats.get(person.chat_id)).balance == 2000  # nothing charged, nothing to refund
    assert await app.db.fetchall("SELECT id FROM ledger WHERE kind = 'refund'") == []
    assert fake.rate_limited_count == 0
