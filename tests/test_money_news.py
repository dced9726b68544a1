"""Money news: every message that reports money moved (a payment received, a refund, a renewal charged, a transfer
received) is written in the transaction that writes its ledger row and sent from that outbox by its own loop
(bot/outbound/money_news.py), so once the money moved the message follows exactly once: across a 429, a kill
between the credit and the send, a replayed update and a restart. A chat that blocked the bot gets its notice
marked undeliverable and the others go on. Through the production Dispatcher with the recording session."""
from __future__ import annotations

import asyncio

from bot.app import App
from bot.background import Background
from bot.outbound.money_news import MoneyNews
from bot.outbound.telegram_out import ChatSender
from playground.recording import Person, RecordingSession
from providers.getatext import GetATextClient
from storage.notices import MoneyNoticeRepo
from tests.conftest import open_world
from tests.test_groups_and_topups import pay
from tests.test_no_code import fake, getatext_world, world  # noqa: F401 - the no-code tests' GetAText fixtures
from tests.test_push import rented


def money_news(app: App, bot) -> MoneyNews:
    """The money news sender on this app and bot, as bot/background.py makes it (for tests with no Background)."""
    return MoneyNews(MoneyNoticeRepo(app.db), app.chats, ChatSender(bot, app.chats), app.renderer)


async def tell(app: App, bot) -> int:
    """One round of the money news sender: what a running bot does within moments of a notice being written."""
    return await money_news(app, bot).send_once()


def said(session: RecordingSession, chat_id: int, words: str) -> list[str]:
    """The texts in the chat (messages Telegram accepted, as the user sees them) that contain ``words``."""
    return [m.text for m in session.messages.get(chat_id, {}).values() if m.text and words in m.text]


async def notices(app: App, chat_id: int):
    return await MoneyNoticeRepo(app.db).for_chat(chat_id)


async def settled(app: App, chat_id: int, timeout: float = 10.0) -> None:
    """Wait until the chat's notices are sent or given up (the running loop's work)."""
    async with asyncio.timeout(timeout):
        while any(n.status in ("pending", "sending") for n in await notices(app, chat_id)):
            await asyncio.sleep(0.02)


async def test_a_payment_whose_message_meets_a_429_is_told_once_after_the_wait(app, telegram, session, alice):
    dp, bot = telegram
    background = Background(app, bot)
    loop = asyncio.create_task(background.money_news.run(idle=30))  # only a wake makes it go within the test
    try:
        await alice.send("/start")
        session.flood = [1]  # Telegram's flood limit on the next message: retry after 1 s
        await pay(dp, bot, alice, app.topups.invoice(alice.chat_id, 100), 100, "charge-429", 7000)
        assert (await app.chats.get(alice.chat_id)).balance == 130  # credited at once, whatever Telegram says
        await settled(app, alice.chat_id)
    finally:
        loop.cancel()
    assert said(session, alice.chat_id, "Payment received") == ["✅ Payment received: $1.30 added. Balance: $1.30."]
    attempts = [c for c in session.sent(alice.chat_id) if "Payment received" in c.text]
    assert len(attempts) == 2  # the one refused with the 429, and the one sent after the wait
    labels = [b.text for row in attempts[-1].reply_markup.inline_keyboard for b in row]
    assert labels == ["📱 Rent a number", "💰 Balance"]  # a way on from the payment
    assert background.outbound.flood_waits == 1
    [notice] = await notices(app, alice.chat_id)
    assert notice.status == "sent" and notice.message_id is not None and notice.text_key == "topup-done"
    assert await background.money_news.send_once() == 0  # nothing more to tell


async def test_a_kill_between_the_credit_and_the_send_tells_it_once_at_the_next_start(app, telegram, session, alice,
                                                                                      settings, provider):
    dp, bot = telegram
    await alice.send("/start")
    await pay(dp, bot, alice, app.topups.invoice(alice.chat_id, 100), 100, "charge-kill", 7100)
    await pay(dp, bot, alice, app.topups.invoice(alice.chat_id, 250), 250, "charge-kill-2", 7110)
    assert (await app.chats.get(alice.chat_id)).balance == 130 + 325
    assert said(session, alice.chat_id, "Payment received") == []  # credited; killed before any sender ran
    first, second = await notices(app, alice.chat_id)
    await MoneyNoticeRepo(app.db).mark_sending(first.id)  # ... and the first one was in flight at the kill
    await app.close()

    fresh = RecordingSession()
    try:
        async with open_world(settings, {provider.name: provider}, fresh) as restart:
            again = restart.app
            restarted = Background(again, restart.bot)
            assert await restarted.money_news.send_once() == 2
            assert await restarted.money_news.send_once() == 0
            assert said(fresh, alice.chat_id, "Payment received") == [
                "✅ Payment received: $1.30 added. Balance: $1.30.",
                "✅ Payment received: $3.25 added. Balance: $4.55."]
            assert [n.status for n in await notices(again, alice.chat_id)] == ["sent", "sent"]
            # The payment delivered again after the restart: no second credit, no second notice.
            replayed = restart.person(alice.user.id, name="Alice")
            await pay(replayed.dp, replayed.bot, replayed, app.topups.invoice(alice.chat_id, 100), 100, "charge-kill",
                      7120)
            assert await restarted.money_news.send_once() == 0
            assert (await again.chats.get(alice.chat_id)).balance == 130 + 325
            assert len(said(fresh, alice.chat_id, "Payment received")) == 2
    finally:
        await app.db.connect()  # the fixture's last check reads the same database


async def test_a_replayed_successful_payment_credits_once_and_tells_once(app, telegram, session, alice):
    dp, bot = telegram
    await alice.send("/start")
    for update_id in (7200, 7210, 7220):  # Telegram delivers the same payment three times
        await pay(dp, bot, alice, app.topups.invoice(alice.chat_id, 100), 100, "charge-replay", update_id)
    assert await tell(app, bot) == 1
    # and once after the tell
    await pay(dp, bot, alice, app.topups.invoice(alice.chat_id, 100), 100, "charge-replay", 7230)
    assert await tell(app, bot) == 0
    assert (await app.chats.get(alice.chat_id)).balance == 130
    assert [e.kind for e in await app.ledger_repo.recent(alice.chat_id)] == ["topup"]
    assert said(session, alice.chat_id, "Payment received") == ["✅ Payment received: $1.30 added. Balance: $1.30."]
    assert len(await notices(app, alice.chat_id)) == 1


async def test_the_notice_is_rendered_in_the_chats_language_when_it_is_sent(app, telegram, session, alice):
    dp, bot = telegram
    await alice.send("/start")
    await pay(dp, bot, alice, app.topups.invoice(alice.chat_id, 100), 100, "charge-ru", 7300)
    await app.chats.set_language(alice.chat_id, "ru")  # changed before the message went out
    assert await tell(app, bot) == 1
    assert said(session, alice.chat_id, "Платёж получен") == ["✅ Платёж получен: зачислено $1.30. Баланс: $1.30."]


async def test_a_chat_that_blocked_the_bot_is_marked_undeliverable_and_the_others_are_told(app, telegram, session,
                                                                                          alice):
    dp, bot = telegram
    bob = Person(dp, bot, session, 1002, name="Bob")
    for person in (alice, bob):
        await person.send("/start")
    await pay(dp, bot, bob, app.topups.invoice(bob.chat_id, 100), 100, "charge-bob", 7400)
    await pay(dp, bot, alice, app.topups.invoice(alice.chat_id, 100), 100, "charge-alice", 7410)
    session.blocked.add(bob.chat_id)  # Bob blocked the bot after paying

    assert await tell(app, bot) == 1
    [bobs] = await notices(app, bob.chat_id)
    assert bobs.status == "undeliverable" and bobs.last_error == "chat unreachable"
    assert not (await app.chats.get(bob.chat_id)).active
    assert (await app.chats.get(bob.chat_id)).balance == 130  # the money stays his
    assert said(session, alice.chat_id, "Payment received") == ["✅ Payment received: $1.30 added. Balance: $1.30."]
    await pay(dp, bot, alice, app.topups.invoice(alice.chat_id, 250), 250, "charge-alice-2", 7420)
    assert await tell(app, bot) == 1  # the loop goes on: Alice's next one, Bob's not tried again
    assert len(said(session, alice.chat_id, "Payment received")) == 2
    assert len([c for c in session.sent(bob.chat_id) if "Payment received" in c.text]) == 1


async def test_a_transfer_received_is_told_to_the_recipient_once(app, telegram, session, alice):
    dp, bot = telegram
    bob = Person(dp, bot, session, 1002, name="Bob")
    for person in (alice, bob):
        await person.send("/start")
    await pay(dp, bot, alice, app.topups.invoice(alice.chat_id, 1000), 1000, "charge-transfer", 7500)
    await alice.send("/transfer 5 1002")
    confirm = alice.screen()
    await alice.press("Move $5.00", confirm)
    await alice.press("Move $5.00", confirm)  # the same button again moves nothing, tells nothing
    assert await tell(app, bot) == 2  # Alice's payment, Bob's transfer
    assert said(session, bob.chat_id, "sent you") == ["💸 @alice sent you $5.00. It is on your balance."]
    assert await tell(app, bot) == 0


async def test_a_no_code_refund_is_told_once_across_a_restart(world, fake, settings):  # noqa: F811
    app, background, session, _ = world
    rental = await rented(app)
    assert await background.jobs.refund_no_code() == 1  # refunded, its notice written with the refund
    assert not [m for m in session.sent(1001) if "No code came" in (m.text or "")]  # killed before it was sent
    [notice] = await notices(app, 1001)
    assert notice.ledger_key == f"refund:rental:{rental.id}" and notice.status == "pending"
    await app.close()

    client = GetATextClient("no-code-key", base_url=fake.url, timeout=0.5, backoff=0.01, rent_interval=0.0,
                            poll_interval=0.0)
    fresh = RecordingSession()
    try:
        async with open_world(settings, {"getatext": client}, fresh) as restart:
            again = restart.app
            restarted = Background(again, restart.bot)
            assert await restarted.jobs.refund_no_code() == 0  # decided before the kill: not again
            assert await restarted.money_news.send_once() == 1
            assert await restarted.money_news.send_once() == 0
            [told] = said(fresh, 1001, "No code came")
            assert "$0.50" in told
            assert [e.kind for e in await again.ledger_repo.recent(1001)].count("refund") == 1
    finally:
        await app.db.connect()  # the fixture's last check reads the same database
