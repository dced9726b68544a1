"""Codes pushed into chats: poller -> SQLite outbox -> paced delivery, exactly once."""
from __future__ import annotations

import asyncio

import httpx
import pytest
from aiogram.methods import SendMessage

from bot.app import App
from bot.background import Background
from bot.outbound.pace import Limits
from playground.recording import RecordingSession
from providers import Capability
from storage import JobState
from tests.conftest import credit, open_world


async def rented(app: App, chat_id: int = 1001, *, kind: str = "private", user: str = "@alice"):
    """A chat with one active rental through the real rent path."""
    from bot.services.catalogue import service_key
    from bot.services.rentals import RentRequest

    await app.chats.ensure(chat_id, kind, "Team" if kind != "private" else "Alice")
    await credit(app, chat_id, 1000)
    service = await app.catalogue.service(service_key("Telegram"))
    offers, _ = await app.catalogue.offers(service)
    snapshot = await app.rentals.snapshot(chat_id, service.key, service.name, [p.offer for p in offers])
    return await app.rentals.rent(RentRequest.from_plan(chat_id, 7, user, snapshot, 0, "n1"))


@pytest.fixture
def background(memory_world):
    return Background(memory_world.app, memory_world.bot)  # the world's bot: unpaced settings (tests/conftest.py)


def pushed(session: RecordingSession, chat_id: int) -> list[SendMessage]:
    return session.sent(chat_id)


async def test_code_reaches_the_chat_exactly_once(app, provider, session, background):
    rental = await rented(app)
    provider.inject_sms(rental.provider_rental_id, "Telegram code: 48213. Do not share it.")
    poller = background.pollers[provider.name]
    assert await poller.tick() == 1
    assert await background.deliverer.deliver_once() == 1
    for _ in range(3):  # the provider keeps returning it: stored once, sent once
        await poller.tick()
        await background.deliverer.deliver_once()
    [message] = pushed(session, 1001)
    first_line = message.text.splitlines()[0]
    assert "<code>48213</code>" in first_line and "Telegram" in first_line
    assert "+1 555 000 0001" in message.text and "Do not share it." in message.text
    copy, number = message.reply_markup.inline_keyboard[0][:2]
    assert copy.text == "📋 48213" and copy.copy_text.text == "48213"  # one tap: exactly the code
    assert number.text == "📱 Number"
    assert await app.sms_repo.delivered_count() == 1


async def test_sms_text_is_escaped(app, provider, session, background):
    rental = await rented(app)
    provider.inject_sms(rental.provider_rental_id, "<b>code</b> 1234 & <script>")
    await background.pollers[provider.name].tick()
    await background.deliverer.deliver_once()
    [message] = pushed(session, 1001)
    assert "&lt;b&gt;code&lt;/b&gt; 1234 &amp; &lt;script&gt;" in message.text


async def test_restart_between_fetch_and_send_delivers_once(app, provider, settings, background):
    rental = await rented(app)
    provider.inject_sms(rental.provider_rental_id, "Your code is 555111")
    await background.pollers[provider.name].tick()  # stored, then the process "dies" before sending
    await app.db.close()

    session = RecordingSession()
    try:
        async with open_world(settings, {provider.name: provider}, session) as reopened:
            again = Background(reopened.app, reopened.bot, Limits.unlimited())
            await again.pollers[provider.name].tick()  # the provider still lists it: no second copy
            assert await again.deliverer.deliver_once() == 1
            assert await again.deliverer.deliver_once() == 0
            assert len(pushed(session, 1001)) == 1 and "555111" in pushed(session, 1001)[0].text
    finally:
        await app.db.connect()  # for the fixture's ledger check


async def test_interrupted_acknowledgement_is_recovered_from_history(app, provider, session, background):
    rental = await rented(app)
    provider.inject_sms(rental.provider_rental_id, "code 909090")
    # The previous process died after the provider marked SMS read but before they were stored.
    await JobState(app.db).set(f"ack-in-flight:{provider.name}", "1")
    assert await background.pollers[provider.name].recover() == 1
    await background.deliverer.deliver_once()
    assert "909090" in pushed(session, 1001)[0].text
    assert await JobState(app.db).get(f"ack-in-flight:{provider.name}") is None


async def test_group_code_names_who_rented(app, provider, session, background):
    rental = await rented(app, -100500, kind="supergroup", user="@bob")
    provider.inject_sms(rental.provider_rental_id, "G-482913 is your Google verification code.")
    await background.pollers[provider.name].tick()
    await background.deliverer.deliver_once()
    [message] = pushed(session, -100500)
    assert "Rented by @bob" in message.text


async def test_telegram_429_is_waited_out_not_dropped(app, provider, session, background):
    rental = await rented(app)
    provider.inject_sms(rental.provider_rental_id, "code 1111")
    session.flood = [1]
    await background.pollers[provider.name].tick()
    assert await background.deliverer.deliver_once() == 1
    assert background.outbound.flood_waits == 1  # waited out in the chat's lane of the one outbound path
    assert len(pushed(session, 1001)) == 2  # the refused attempt and the one that went through
    assert await app.sms_repo.delivered_count() == 1


async def test_long_flood_wait_is_left_to_the_outbox(app, provider, session, background):
    rental = await rented(app)
    provider.inject_sms(rental.provider_rental_id, "code 1212")
    session.flood = [11, 11, 11]  # long waits: the code's lane waits them out, keeping the code
    background.outbound.max_flood_wait = 0  # do not really sleep 33 s in a test
    await background.pollers[provider.name].tick()
    assert await background.deliverer.deliver_once() == 1
    assert background.outbound.flood_waits == 3
    assert await app.sms_repo.delivered_count() == 1


async def test_handler_reply_waits_out_a_short_flood_limit(app, alice, session):
    session.flood = [1]
    await alice.send("/start")
    assert len(session.sent(alice.chat_id)) == 2 and "Virtual numbers" in alice.screen().text


async def test_blocked_chat_is_marked_inactive_and_keeps_history(app, provider, session, background):
    rental = await rented(app)
    provider.inject_sms(rental.provider_rental_id, "code 2222")
    session.blocked.add(1001)
    await background.pollers[provider.name].tick()
    assert await background.deliverer.deliver_once() == 0
    assert not (await app.chats.get(1001)).active
    [stored] = await app.sms_repo.for_rental(rental.id)
    assert stored.code == "2222" and stored.delivered_at is None
    assert await app.sms_repo.outbox() == []  # not retried forever


async def test_sms_for_unknown_rental_waits_as_orphan_then_is_delivered(app, provider, session, background):
    from providers import Sms

    poller = background.pollers[provider.name]
    await poller.store([Sms(provider.name, "w1", "777", "code 3333", "3333")])
    assert await app.sms_repo.outbox() == []
    rental = await rented(app)
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE rentals SET provider_rental_id = '777' WHERE id = ?", (rental.id,))
    await background.jobs.reconcile()
    await background.deliverer.deliver_once()
    assert "3333" in pushed(session, 1001)[0].text


async def test_expired_rental_is_closed_and_announced(app, provider, session, background):
    rental = await rented(app)
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE rentals SET active_till = '2000-01-01T00:00:00+00:00' WHERE id = ?", (rental.id,))
    assert await background.jobs.expire() == 1
    assert (await app.rentals.rentals.get(rental.id)).status == "expired"
    assert "has expired" in pushed(session, 1001)[-1].text


async def test_auto_renewal_warning_when_balance_is_short(app, provider, session, background):
    rental = await rented(app)
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE rentals SET auto_renew = 1, active_till = datetime('now', '+5 hours')"
                           " WHERE id = ?", (rental.id,))
        await conn.execute("UPDATE chats SET balance = 0 WHERE id = 1001")
        await conn.execute("INSERT INTO ledger (chat_id, amount, balance_after, kind, reference)"
                           " VALUES (1001, -890, 0, 'adjustment', 'test')")
    assert await background.jobs.warn_renewals() == 1
    assert "renews automatically" in pushed(session, 1001)[-1].text
    assert await background.jobs.warn_renewals() == 0  # warned once


async def test_webhook_refuses_wrong_secret_and_stores_good_payload(app, session, settings):
    from bot.web.webhook import WebhookServer, webhook_app

    received = []

    async def on_sms(sms):
        received.append(sms)

    server = WebhookServer(webhook_app("s3cret", frozenset(), on_sms), "127.0.0.1", 0)
    port = await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            payload = {"id": 12345, "code": 654321, "received_at": "2025-07-06 15:43:37", "number": "1234567890",
                       "service_name": "Whatsapp", "status": "active", "cost": "0.91"}
            assert (await client.post("/getatext/wrong", json=payload)).status_code == 404
            assert (await client.post("/getatext/s3cret", content=b"<html>")).status_code == 400
            assert (await client.post("/getatext/s3cret", json=payload)).status_code == 200
        assert [(s.rental_id, s.code) for s in received] == [("12345", "654321")]
    finally:
        await server.stop()
    allow = WebhookServer(webhook_app("s3cret", frozenset({"104.198.170.54"}), on_sms), "127.0.0.1", 0)
    port = await allow.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.post("/getatext/s3cret", json={})).status_code == 403
    finally:
        await allow.stop()


async def test_one_failing_poller_does_not_stop_the_others(app, provider, background):
    async def broken(rental_ids):
        raise RuntimeError("boom")

    provider.fetch_new_sms = broken
    await rented(app)  # a number to poll for
    # Each provider polls in a loop of its own (bot/poll_loop.py): a failed poll is logged, the next one runs.
    [poll] = background.polls
    runs = []
    poll.listeners, poll.interval = (runs.append,), 0.01
    task = asyncio.create_task(poll.run())
    while len(runs) < 2:
        await asyncio.sleep(0.01)
    poll.stop()
    await task
    assert all(isinstance(run.exception, RuntimeError) for run in runs)
    assert Capability.WEBHOOK not in provider.capabilities


async def test_webhook_believes_forwarded_addresses_only_from_trusted_proxies():
    from bot.web.webhook import WebhookServer, webhook_app

    received = []

    async def on_sms(sms):
        received.append(sms)

    payload = {"id": 1, "code": 111, "number": "1", "service_name": "Whatsapp"}
    source = {"X-Forwarded-For": "104.198.170.54"}
    untrusted = WebhookServer(webhook_app("s3cret", frozenset({"104.198.170.54"}), on_sms), "127.0.0.1", 0)
    port = await untrusted.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            # No trusted proxy: a forwarded header is someone's claim, not the source.
            assert (await client.post("/getatext/s3cret", json=payload, headers=source)).status_code == 403
    finally:
        await untrusted.stop()
    behind_proxy = WebhookServer(webhook_app("s3cret", frozenset({"104.198.170.54"}), on_sms,
                                             trusted_proxies=frozenset({"127.0.0.1"})), "127.0.0.1", 0)
    port = await behind_proxy.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.post("/getatext/s3cret", json=payload, headers=source)).status_code == 200
            spoofed = {"X-Forwarded-For": "104.198.170.54, 10.9.9.9"}  # the proxy appended the real peer
            assert (await client.post("/getatext/s3cret", json=payload, headers=spoofed)).status_code == 403
            assert (await client.post("/getatext/s3cret", json=payload)).status_code == 403  # the proxy itself
        assert len(received) == 1
    finally:
        await behind_proxy.stop()


def test_wrong_webhook_paths_are_slowed_and_counted_in_one_line_a_minute(caplog):
    from bot.web.webhook import GuessGuard

    now = [0.0]
    guard = GuessGuard(clock=lambda: now[0])
    delays = [guard.delay_for("1.2.3.4") for _ in range(12)]
    assert delays[:5] == [0.0] * 5 and delays[5] > 0 and delays[-1] == GuessGuard.MAX_DELAY
    assert guard.delay_for("5.6.7.8") == 0.0  # another source starts free
    with caplog.at_level("WARNING", logger="bot.web.webhook"):
        for _ in range(2000):
            guard.delay_for("1.2.3.4")
        now[0] += 61
        guard.delay_for("1.2.3.4")
    lines = [r for r in caplog.records if "wrong secret paths" in r.getMessage()]
    assert len(lines) == 1 and "2013 wrong secret paths from 2 sources" in lines[0].getMessage()


async def test_a_code_sent_while_the_next_round_reads_the_outbox_is_not_sent_again(app, provider, session, background):
    """A round reads the outbox (an await) while a chat's task sends and marks its code: the round's rows are then
    stale for that chat, and it must not start the chat again (seen as codes sent twice in the soak benchmark)."""
    import asyncio

    rental = await rented(app)
    provider.inject_sms(rental.provider_rental_id, "Telegram code: 31337")
    await background.pollers[provider.name].tick()
    gate = asyncio.Event()
    send = background.sender.send

    async def held_send(*args, **kwargs):
        await gate.wait()
        return await send(*args, **kwargs)

    background.sender.send = held_send
    [first] = await background.deliverer.start_round()  # the chat's task, holding the code at the send
    read = background.deliverer.sms.outbox

    async def stale_read(limit=500):
        rows = await read(limit)  # the code, still unsent
        gate.set()
        await first  # the task sends it, marks it and ends while this round is still reading
        return rows

    background.deliverer.sms.outbox = stale_read
    again = await background.deliverer.start_round()
    await asyncio.gather(*again)
    assert again == [] and await first == 1
    assert sum("31337" in m.text for m in pushed(session, 1001)) == 1
