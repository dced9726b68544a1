"""Every GotSMS action is reachable from the number card: real client, fake GotSMS server, production Dispatcher."""
from __future__ import annotations

import pytest

from bot.app import App, build_bot, build_dispatcher
from providers.gotsms import GotSmsClient
from tests.conftest import TOKEN, credit
from tests.fakes.gotsms_server import FakeGotSms
from tests.recording import Person


@pytest.fixture
async def gotsms_world(settings, session):
    async with FakeGotSms(balance="1000") as fake:
        client = GotSmsClient(fake.api_key, base_url=fake.url, timeout=5, backoff=0.01)
        app = await App.open(settings, providers={"gotsms": client})
        try:
            dp = build_dispatcher(app)
            alice = Person(dp, build_bot(TOKEN, settings, session=session), session, 1001, name="Alice")
            yield app, fake, alice
            assert await app.ledger_repo.totals_mismatch() == []
        finally:
            await app.close()


async def test_card_offers_exactly_the_gotsms_actions_and_each_works(gotsms_world):
    app, fake, alice = gotsms_world
    await alice.send("/start")
    await credit(app, alice.chat_id, 2000)
    await alice.press("Rent a number")
    await alice.press("Telegram")
    offers = alice.buttons()
    assert offers[0].startswith("$0.55") and "1 day" in offers[1]  # cheapest first, across plans
    await alice.press("1 day")
    await alice.press("Rent for $1.10")
    buttons = alice.buttons()
    assert {"⏰ Wake up", "↩️ Cancel & refund", "📅 Switch to monthly", "📜 SMS history"} <= set(buttons)
    assert not any("Auto-renew" in b for b in buttons)  # GotSMS toggles auto-renew only on monthly plans
    assert not any("Finish" in b for b in buttons)  # no such GotSMS action

    answer = await alice.press("Wake up")
    assert "Wake-up sent" in answer.text

    [rental], _ = await app.rentals.rentals.for_chat(alice.chat_id)
    fake.inject_sms(rental.provider_rental_id, "Your Telegram code is 55123")
    await alice.press("SMS history")
    assert "Your Telegram code is 55123" in alice.screen().text
    await alice.press("Number")
    assert "<code>55123</code>" in alice.screen().html_text or "55123" in alice.screen().text

    await alice.press("Switch to monthly")
    assert "switch to a monthly plan" in alice.screen().text
    await alice.press("$5.49")  # 4.99 + 10 %, rounded up
    assert (await app.chats.get(alice.chat_id)).balance == 2000 - 110 - 549
    assert "1 month" in alice.screen().text
    answer = await alice.press("Auto-renew: off")
    assert answer.text == "Auto-renew is on."
    assert "Auto-renew: on" in alice.screen().text

    # GotSMS refuses a refund once an SMS arrived: the user reads the provider's reason, keeps no refund.
    answer = await alice.press("Cancel & refund")
    assert "refused" in answer.text and "Refund not available" in answer.text
    assert (await app.chats.get(alice.chat_id)).balance == 2000 - 110 - 549


async def test_refund_before_any_sms(gotsms_world):
    app, fake, alice = gotsms_world
    await alice.send("/start")
    await credit(app, alice.chat_id, 500)
    await alice.press("Rent a number")
    await alice.press("WhatsApp")
    await alice.press("1 day")
    await alice.press("Rent for")
    answer = await alice.press("Cancel & refund")
    assert "$1.65 returned" in answer.text
    assert (await app.chats.get(alice.chat_id)).balance == 500
