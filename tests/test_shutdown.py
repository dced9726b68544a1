"""SIGTERM: the updates stop, what runs (handlers, jobs, their provider calls) finishes, the outbox drains,
each within SHUTDOWN_TIMEOUT."""
from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiogram.methods import SendMessage

from bot.app import App, build_bot
from bot.background import Background
from bot.outbound.pace import Limits
from playground.recording import Person, RecordingSession
from tests.conftest import TOKEN, to_confirm
from tests.test_push import rented


class SlowSends(RecordingSession):
    """Telegram takes its time with each message: an outbox of several codes takes a while to empty."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def make_request(self, bot, method, timeout=None):
        if isinstance(method, SendMessage):
            await asyncio.sleep(self.delay)
        return await super().make_request(bot, method, timeout)


async def at_confirm(alice: Person, app: App) -> None:
    await to_confirm(alice, app)


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_stop_waits_for_a_rent_whose_provider_call_is_in_flight(app, provider, session, settings, alice):
    await at_confirm(alice, app)
    provider.rent_delay = 0.5
    background = Background(app, build_bot(TOKEN, settings, session=session), Limits.unlimited())
    await background.start()
    press = asyncio.create_task(alice.press("Rent for"))
    await until(lambda: provider.rent_calls == 1)  # the provider call is under way
    assert app.inflight.count == 1

    await background.stop()

    assert press.done() and press.exception() is None  # finished before stop returned, not cut off
    [rental], _ = await app.rentals.rentals.for_chat(1001)
    assert rental.status == "active"
    assert "+1 555" in alice.screen().text  # the user saw the number
    assert app.inflight.count == 0


async def test_stop_cuts_off_what_outlives_the_timeout(app, provider, session, settings, alice, caplog):
    await at_confirm(alice, app)
    provider.rent_delay = 30
    quick = settings.model_copy(update={"shutdown_timeout": 0.3})
    app.settings = quick
    background = Background(app, build_bot(TOKEN, quick, session=session), Limits.unlimited())
    await background.start()
    press = asyncio.create_task(alice.press("Rent for"))
    await until(lambda: provider.rent_calls == 1)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bot.background"):
        await background.stop()
    assert time.monotonic() - started < 2.0
    assert "1 update(s) and job(s) still running after SHUTDOWN_TIMEOUT" in caplog.text
    press.cancel()  # what the end of the process does to it; its charge is pending, reconciled at the next start
    with pytest.raises(asyncio.CancelledError):
        await press
    row = await app.db.fetchone("SELECT COUNT(*) FROM rentals WHERE status = 'pending'")
    assert row[0] == 1


async def test_stop_waits_for_a_scheduled_job_that_runs(app, provider, session, settings):
    app.settings = settings.model_copy(update={"poll_interval": 0.05})
    background = Background(app, build_bot(TOKEN, settings, session=session), Limits.unlimited())
    finished = []
    original = provider.fetch_new_sms

    async def slow_fetch(rental_ids):
        await asyncio.sleep(0.4)
        finished.append(True)
        return await original(rental_ids)

    provider.fetch_new_sms = slow_fetch
    await rented(app)
    await background.start()  # the provider's poll loop polls an interval later
    await until(lambda: app.inflight.count == 1)
    await background.stop()
    assert finished == [True]  # the poll that ran was finished, and none started after the stop


async def test_stop_drains_the_outbox_before_closing(app, provider, settings):
    slow = SlowSends(delay=0.15)
    background = Background(app, build_bot(TOKEN, settings, session=slow), Limits.unlimited())
    rental = await rented(app)
    await background.start()
    for n in range(5):
        provider.inject_sms(rental.provider_rental_id, f"Your code is 70{n}123")
    await background.pollers[provider.name].tick()  # stored: five codes in the outbox, 0.15 s each to send

    await background.stop()

    assert len(slow.sent(1001)) == 5
    assert await app.sms_repo.outbox() == []


async def test_outbox_drain_is_bounded_by_the_timeout(app, provider, settings, caplog):
    slow = SlowSends(delay=0.5)
    quick = settings.model_copy(update={"shutdown_timeout": 0.3})
    app.settings = quick
    background = Background(app, build_bot(TOKEN, quick, session=slow), Limits.unlimited())
    rental = await rented(app)
    await background.start()
    for n in range(5):
        provider.inject_sms(rental.provider_rental_id, f"Your code is 80{n}123")
    await background.pollers[provider.name].tick()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bot.background"):
        await background.stop()
    assert time.monotonic() - started < 2.0
    assert "SMS still to send after SHUTDOWN_TIMEOUT; they go out at the next start" in caplog.text
    left = await app.sms_repo.outbox()
    assert 1 <= len(left) <= 5  # kept for the next start, none lost


async def test_updates_are_counted_in_flight_through_the_production_dispatcher(app, provider, alice):
    await at_confirm(alice, app)
    provider.rent_delay = 0.2
    press = asyncio.create_task(alice.press("Rent for"))
    await until(lambda: app.inflight.count == 1)
    assert await app.inflight.wait_idle(5.0)
    await press
    assert app.inflight.count == 0


async def test_a_rent_cut_off_by_the_end_of_the_process_stays_pending_and_is_reconciled(app, provider, alice):
    """Cancelled while the provider call ran: whether it rented is unknown, so no refund on the spot."""
    await at_confirm(alice, app)
    provider.rent_delay = 30
    press = asyncio.create_task(alice.press("Rent for"))
    await until(lambda: provider.rent_calls == 1)
    press.cancel()
    with pytest.raises(asyncio.CancelledError):
        await press
    [rental], _ = await app.rentals.rentals.for_chat(1001)
    assert rental.status == "pending" and (await app.chats.get(1001)).balance == 2000 - rental.price_charged
