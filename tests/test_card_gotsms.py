"""Every GotSMS action is reachable from the number card: real client, fake GotSMS server, production Dispatcher."""
from __future__ import annotations

from datetime import timedelta

import pytest

from handlers import views
from handlers.callbacks import CardAction, CardCb
from handlers.i18n import Texts
from playground.sandbox.gotsms import FakeGotSms
from providers import errors as perr
from providers.gotsms import GotSmsClient
from tests.conftest import credit, open_world


@pytest.fixture
async def gotsms_world(settings, session):
    async with FakeGotSms(balance="1000") as fake:
        client = GotSmsClient(fake.api_key, base_url=fake.url, timeout=5, backoff=0.01)
        async with open_world(settings, {"gotsms": client}, session) as world:
            yield world.app, fake, world.person(1001, name="Alice")


async def test_card_offers_exactly_the_gotsms_actions_and_each_works(gotsms_world):
    app, fake, alice = gotsms_world
    await alice.send("/start")
    await credit(app, alice.chat_id, 2000)
    await alice.press("Rent a number")
    await alice.press("Telegram")
    countries = alice.buttons()  # Telegram is sold in two countries: the country first, cheapest first
    assert countries[0] == "🇬🇧 United Kingdom · from $0.55" and countries[1] == "🇺🇸 United States · from $1.10"
    await alice.press("United States")
    offers = alice.buttons()
    assert offers[0].startswith("$1.10") and "1 day" in offers[0]  # cheapest first
    assert any("United States" in b for b in offers)  # the country can be changed from the plan list
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
    confirm = alice.screen().text
    assert "Switch the plan" in confirm and "$5.49" in confirm and "Ends about" in confirm
    assert (await app.chats.get(alice.chat_id)).balance == 2000 - 110  # nothing charged before confirming
    await alice.press("Switch for $5.49")
    assert (await app.chats.get(alice.chat_id)).balance == 2000 - 110 - 549
    card = alice.screen().text
    assert "1 month" in card and "Time left: 29 days" in card  # the card shows the new plan's end
    [switch_charge, *_] = await app.ledger_repo.recent(alice.chat_id)
    assert switch_charge.amount == -549 and "Telegram" in switch_charge.note and "1 month" in switch_charge.note
    [rental] = (await app.rentals.rentals.for_chat(alice.chat_id))[0]
    assert rental.renewal_price == 549 and rental.price_charged == 110 + 549
    await alice.press("Auto-renew: off")  # stated first: the price of a period and the day it is charged
    confirm = alice.screen().text
    assert "Turn auto-renew on?" in confirm and "<b>$5.49</b>" in confirm
    assert views.when(Texts("en"), rental.active_till) in confirm
    answer = await alice.press("Turn on · $5.49")
    assert answer.text == "Auto-renew is on."
    assert "Auto-renew: on" in alice.screen().text

    # GotSMS refunds only until the first SMS: after one, the card has no Cancel & refund and says why, and an
    # old button is answered plainly, without asking the provider.
    card = alice.screen()
    assert not any("Cancel & refund" in b for b in alice.buttons(card))
    assert "An SMS has come: the provider no longer refunds this number." in card.text
    refunds_asked = len([r for r in fake.requests if r[1].endswith("/refund")])
    answer = await alice.press_data(CardCb(id=rental.id, a=CardAction.CANCEL, n="old").pack())
    assert answer.text == "An SMS has come to this number, so the provider no longer refunds it."
    assert len([r for r in fake.requests if r[1].endswith("/refund")]) == refunds_asked
    assert (await app.chats.get(alice.chat_id)).balance == 2000 - 110 - 549


async def test_refund_before_any_sms(gotsms_world):
    app, fake, alice = gotsms_world
    await alice.send("/start")
    await credit(app, alice.chat_id, 500)
    await alice.press("Rent a number")
    await alice.press("WhatsApp")
    await alice.press("United States")
    await alice.press("1 day")
    await alice.press("Rent for")
    await alice.press("Cancel & refund")
    answer = await alice.press("Cancel it, $1.65 back")
    assert "$1.65 returned" in answer.text
    assert (await app.chats.get(alice.chat_id)).balance == 500


async def _to_switch_confirm(app, alice):
    await alice.send("/start")
    await credit(app, alice.chat_id, 2000)
    await alice.press("Rent a number")
    await alice.press("Telegram")
    await alice.press("United States")
    await alice.press("1 day")
    await alice.press("Rent for $1.10")
    await alice.press("Switch to monthly")
    await alice.press("$5.49")


async def _age_switches(app, minutes: int = 5) -> None:
    async with app.db.transaction() as conn:
        await conn.execute(f"UPDATE plan_switches SET created_at = datetime('now', '-{minutes} minutes')")


def _lose_reply(client, *, after_acting: bool):
    """The transition call's reply is lost (a timeout), after the provider acted or before it did."""
    real = client.api_transition_rent

    async def transition(rent_id, plan_id):
        if after_acting:
            await real(rent_id, plan_id)
        raise perr.OutcomeUnknownError("request timed out; outcome unknown", provider="gotsms")

    client.api_transition_rent = transition


async def test_switch_with_lost_reply_is_reconciled_onto_the_rental_when_the_provider_made_it(gotsms_world, session):
    app, fake, alice = gotsms_world
    client = app.providers["gotsms"]
    await _to_switch_confirm(app, alice)
    _lose_reply(client, after_acting=True)
    answer = await alice.press("Switch for $5.49")
    assert "did not confirm the switch" in answer.text
    assert (await app.chats.get(alice.chat_id)).balance == 2000 - 110 - 549  # kept, pending
    [rental] = (await app.rentals.rentals.for_chat(alice.chat_id))[0]
    assert rental.duration_label == "1 day"  # not recorded on a guess
    # A second tap while it is pending charges nothing more.
    await alice.press("Switch for $5.49")
    assert (await app.chats.get(alice.chat_id)).balance == 2000 - 110 - 549

    await _age_switches(app)
    settled = await app.switches.reconcile()
    assert [s.refunded for s in settled] == [False]
    rental = await app.rentals.rentals.get(rental.id)
    assert rental.duration_label == "1 month" and rental.renewal_price == 549
    assert rental.active_till - rental.active_from > timedelta(days=29)
    assert await app.switches.reconcile() == []  # settled once
    assert (await app.chats.get(alice.chat_id)).balance == 2000 - 110 - 549


async def test_switch_with_lost_reply_is_refunded_when_the_provider_did_not_make_it(gotsms_world, session):
    app, fake, alice = gotsms_world
    await _to_switch_confirm(app, alice)
    _lose_reply(app.providers["gotsms"], after_acting=False)
    await alice.press("Switch for $5.49")
    assert (await app.chats.get(alice.chat_id)).balance == 2000 - 110 - 549
    assert await app.switches.reconcile() == []  # too young to decide
    await _age_switches(app)
    [settled] = await app.switches.reconcile()
    assert settled.refunded
    assert (await app.chats.get(alice.chat_id)).balance == 2000 - 110
    [rental] = (await app.rentals.rentals.for_chat(alice.chat_id))[0]
    assert rental.duration_label == "1 day" and rental.renewal_price == 110


async def test_switch_reconcile_decides_nothing_while_the_provider_is_unreachable(gotsms_world, session):
    app, fake, alice = gotsms_world
    await _to_switch_confirm(app, alice)
    _lose_reply(app.providers["gotsms"], after_acting=False)
    await alice.press("Switch for $5.49")
    await _age_switches(app)
    fake.set_mode("error500")
    assert await app.switches.reconcile() == []
    fake.set_mode("ok")
    assert len(await app.switches.reconcile()) == 1
