"""No code, no charge: a GetAText activation that gets no SMS is cancelled at the provider before it ends and
refunded, once; every refusal and every lost answer is decided by the provider, never guessed."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import App
from bot.background import Background
from bot.outbound.pace import Limits
from bot.services.no_code import NoCodeRefunds
from playground.sandbox.getatext import FakeGetAText
from providers.getatext import GetATextClient
from tests.conftest import open_world
from tests.test_push import rented

WHOLE_TTL = timedelta(minutes=30)  # a lead longer than the fake's 10-minute activations: every one is "ending"


@pytest.fixture
async def fake():
    async with FakeGetAText(api_key="no-code-key", cancel_after_seconds=0, rate_limit_interval=0.0) as server:
        server.enforce_rate_limit = False
        server.retry_after = 0
        yield server


@pytest.fixture
async def getatext_world(settings, fake):
    """The world on the GetAText fake, on a recording session of its own."""
    client = GetATextClient("no-code-key", base_url=fake.url, timeout=0.5, backoff=0.01, rent_interval=0.0,
                            poll_interval=0.0)
    client.min_age_to_cancel = 0  # the fake cancels at once; the age rule has its own test
    async with open_world(settings, {"getatext": client}) as world:
        yield world


@pytest.fixture
def world(getatext_world):
    app = getatext_world.app
    background = Background(app, getatext_world.bot, Limits.unlimited())
    background.jobs.no_code = NoCodeRefunds(app.rentals, lead=WHOLE_TTL)
    return app, background, getatext_world.session, app.providers["getatext"]


async def balance(app: App, chat_id: int = 1001) -> int:
    return (await app.chats.get(chat_id)).balance


def refunds(app, rows) -> list:
    return [r for r in rows if r.kind == "refund"]


async def test_activation_without_sms_is_cancelled_and_refunded_once(world, fake):
    app, background, session, _ = world
    rental = await rented(app)
    assert rental.billing == "sms"
    before = await balance(app)

    assert await background.jobs.refund_no_code() == 1
    assert await background.jobs.refund_no_code() == 0  # decided: never again

    closed = await app.rentals.rentals.get(rental.id)
    assert closed.status == "cancelled" and closed.no_code == "refunded"
    assert await balance(app) == before + rental.price_charged
    assert fake.rentals[int(rental.provider_rental_id)].status == "cancelled"
    assert await background.money_news.send_once() == 1  # its notice, written with the refund
    [told] = session.sent(1001)
    assert "No code came" in told.text and "$0.50" in told.text
    assert len(refunds(app, await app.ledger_repo.recent(1001))) == 1


async def test_activation_with_a_code_is_left_alone(world, fake):
    app, background, session, _ = world
    rental = await rented(app)
    await fake.inject_code(rental.provider_rental_id, "554433")
    await background.pollers["getatext"].tick()  # the code is stored
    assert await background.jobs.refund_no_code() == 0
    assert (await app.rentals.rentals.get(rental.id)).status == "active"
    assert not [r for r in fake.requests if r[1] == "/api/v1/cancel-rental"]


async def test_not_asked_before_the_providers_minimum_age(world, fake):
    app, background, session, client = world
    client.min_age_to_cancel = 3600
    await rented(app)
    assert await background.jobs.refund_no_code() == 0
    assert not [r for r in fake.requests if r[1] == "/api/v1/cancel-rental"]


async def test_refused_because_a_code_came_first_no_refund_and_not_asked_again(world, fake):
    app, background, session, _ = world
    rental = await rented(app)
    before = await balance(app)
    await fake.inject_code(rental.provider_rental_id, "778899")  # at the provider, not yet polled by us

    assert await background.jobs.refund_no_code() == 0
    decided = await app.rentals.rentals.get(rental.id)
    assert decided.status == "active" and decided.no_code == "refused"
    assert await balance(app) == before
    cancels = len([r for r in fake.requests if r[1] == "/api/v1/cancel-rental"])
    assert await background.jobs.refund_no_code() == 0
    assert len([r for r in fake.requests if r[1] == "/api/v1/cancel-rental"]) == cancels  # not asked again
    await background.pollers["getatext"].tick()
    await background.deliverer.deliver_once()
    assert any("778899" in m.text for m in session.sent(1001))  # the code still reaches the chat


async def test_no_answer_is_asked_again_then_refunded(world, fake):
    app, background, session, _ = world
    rental = await rented(app)
    before = await balance(app)
    fake.set_mode("error500")
    assert await background.jobs.refund_no_code() == 0  # unknown: nothing decided
    undecided = await app.rentals.rentals.get(rental.id)
    assert undecided.status == "active" and undecided.no_code is None and await balance(app) == before
    fake.set_mode("ok")
    assert await background.jobs.refund_no_code() == 1
    assert await balance(app) == before + rental.price_charged


async def test_cancel_done_but_its_answer_lost_is_refunded_once_the_provider_says_so(world, fake):
    app, background, session, _ = world
    rental = await rented(app)
    before = await balance(app)
    fake.slow_seconds = 2.0  # the cancel is done at the provider; its reply comes after the client gave up
    fake.set_mode("slow")
    assert await background.jobs.refund_no_code() == 0
    assert fake.rentals[int(rental.provider_rental_id)].status == "cancelled"
    assert await balance(app) == before  # not on a guess
    fake.set_mode("ok")
    assert await background.jobs.refund_no_code() == 1  # refused ("not active"), status says cancelled
    assert await balance(app) == before + rental.price_charged


async def test_at_its_end_an_undecided_activation_follows_the_providers_status(world, fake):
    app, background, session, _ = world
    cancelled, kept = await rented(app), await rented(app, chat_id=1002)
    fake.rentals[int(cancelled.provider_rental_id)].status = "cancelled"  # our cancel went through, unheard
    no_code = background.jobs.no_code
    refund = await no_code.at_end(cancelled)
    assert refund is not None and refund.rental.status == "cancelled"
    assert await no_code.at_end(kept) is None  # not cancelled there: the provider kept the money, so do we
    assert (await app.rentals.rentals.get(kept.id)).no_code == "refused"
    assert (await app.rentals.rentals.get(kept.id)).status == "active"


async def test_expiry_job_refunds_an_activation_the_provider_cancelled_and_tells_the_chat(world, fake):
    from storage.models import db_time, utcnow

    app, background, session, _ = world
    rental = await rented(app)
    before = await balance(app)
    fake.rentals[int(rental.provider_rental_id)].status = "cancelled"
    async with app.db.transaction() as conn:  # its end passed while every cancel went unanswered
        await conn.execute("UPDATE rentals SET active_till = ? WHERE id = ?",
                           (db_time(utcnow() - timedelta(seconds=5)), rental.id))
    await background.jobs.expire()
    assert (await app.rentals.rentals.get(rental.id)).status == "cancelled"
    assert await balance(app) == before + rental.price_charged
    assert await background.money_news.send_once() == 1
    assert [m for m in session.sent(1001) if "No code came" in m.text]


async def test_the_confirm_screen_says_the_refund_rule_before_paying(world, getatext_world):
    from tests.conftest import to_confirm

    app, background, session, _ = world
    alice = getatext_world.person(1001)
    await to_confirm(alice, app, plan="GetAText")
    assert "No code, no charge" in alice.screen().text


async def test_a_duration_plan_says_its_own_rule(app, alice):
    from tests.conftest import to_confirm

    await to_confirm(alice, app)
    assert "Paid for the time" in alice.screen().text and "No code, no charge" not in alice.screen().text
