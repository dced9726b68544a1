"""One GetAText number for several services, through the production Dispatcher and the real background jobs,
against the fake GetAText: picked from a plan list with the combined price, one charge, one request, one card
listing the services, each code pushed once with its service named; a combination GetAText refuses refunded at
once and not sent again while GetAText keeps refusing it; entries it did not rent refunded; a lost reply kept
pending and linked by the codes' webhook; Cancel on the card for all. The ledger invariant holds after each."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.app import App
from bot.background import Background
from bot.outbound.pace import Limits
from handlers.callbacks import SetRentCb
from playground.recording import Person
from playground.sandbox.getatext import FakeGetAText
from providers.getatext import GetATextClient
from storage.models import db_time, utcnow
from tests.conftest import credit, open_world

MULTI = "/api/v1/rent-multiple-services"
# Telegram 0.45 and Whatsapp 0.55 at GetAText, +10 %: $0.50 + $0.61.
TELEGRAM, WHATSAPP, INSTAGRAM = 50, 61, 55


@pytest.fixture
async def world(settings, session):
    async with FakeGetAText(api_key="set-key", rate_limit_interval=0.0, cancel_after_seconds=0) as fake:
        fake.enforce_rate_limit = False
        fake.slow_seconds = 2.0
        client = GetATextClient("set-key", base_url=fake.url, timeout=0.5, backoff=0.01, rent_interval=0.0,
                                poll_interval=0.0)
        async with open_world(settings, {"getatext": client}, session) as world:
            background = Background(world.app, world.bot, Limits.unlimited())
            yield world.app, fake, world.person(1001), background


def asked(fake: FakeGetAText) -> list[dict]:
    return [body for method, path, body in fake.requests if path == MULTI]


async def balance(app: App) -> int:
    return (await app.chats.get(1001)).balance


async def rentals_of(app: App):
    rows = await app.db.fetchall("SELECT id FROM rentals ORDER BY id")
    return [await app.rentals.rentals.get(r["id"]) for r in rows]


async def to_picker(app: App, alice: Person) -> None:
    await alice.send("/start")
    await credit(app, alice.chat_id, 5000)
    await alice.press("Rent a number")
    await alice.press("Telegram")
    await alice.press("Same number, more services")


async def pick_and_confirm(alice: Person, *names: str) -> None:
    for name in names:
        await alice.press(name)
    await alice.press("Continue")


async def test_one_number_for_two_services_one_charge_codes_for_each_pushed_once(world, session):
    app, fake, alice, background = world
    await to_picker(app, alice)
    text = alice.screen().text
    assert "Pick at least one more" in text and "$0.50" in text
    assert "▫️ Whatsapp · $0.61" in alice.buttons() and not any("Continue" in b for b in alice.buttons())
    assert not any("Zolto" in b for b in alice.buttons())  # nothing in stock: not offered
    await alice.press("Whatsapp")
    assert "Telegram + Whatsapp</b>, together <b>$1.11" in alice.screen().text
    assert "✅ Whatsapp · $0.61" in alice.buttons()
    await alice.press("Continue · $1.11")
    text = alice.screen().text
    assert "one number for Telegram + Whatsapp" in text and "• Telegram: $0.50" in text
    assert "Balance after: $48.89" in text and "service by service" in text
    await alice.press("Rent all for $1.11")

    # One request, never charged above the prices shown; one charge for the set.
    assert asked(fake) == [{"services": "telegram,whatsapp", "max_price": 1.0}]
    telegram, whatsapp = await rentals_of(app)
    assert telegram.set_id == whatsapp.set_id == telegram.id
    assert {telegram.status, whatsapp.status} == {"active"} and telegram.phone == whatsapp.phone
    entries = await app.ledger_repo.recent(alice.chat_id)
    assert [(e.kind, e.amount) for e in entries[:2]] == [("charge", -(TELEGRAM + WHATSAPP)), ("adjustment", 5000)]
    assert await balance(app) == 5000 - TELEGRAM - WHATSAPP
    card = alice.screen().text
    assert "Telegram + Whatsapp" in card and "• Telegram: waiting for a code" in card
    assert "• Whatsapp: waiting for a code" in card and "Paid: $1.11" in card

    await fake.inject_code(telegram.provider_rental_id, "111222")
    await fake.inject_code(whatsapp.provider_rental_id, "333444")
    for _ in range(2):  # polled twice: stored and pushed once each
        await background.pollers["getatext"].tick()
        await background.deliverer.deliver_once()
    pushed = [m.text for m in session.sent(alice.chat_id) if "111222" in m.text or "333444" in m.text]
    assert len(pushed) == 2
    assert any("111222" in m and "Telegram" in m for m in pushed)
    assert any("333444" in m and "Whatsapp" in m for m in pushed)

    await alice.send("/numbers")
    assert len([b for b in alice.buttons() if "Telegram ➕1" in b]) == 1  # one number, listed once
    assert not any("Whatsapp" in b for b in alice.buttons())
    await alice.press("Telegram ➕1")
    card = alice.screen().text
    assert "• Telegram: code <code>111222</code>" in card and "• Whatsapp: code <code>333444</code>" in card
    assert "<code>111222</code> · Telegram" in card and "<code>333444</code> · Whatsapp" in card


async def test_a_refused_combination_is_refunded_at_once_and_not_sent_again(world):
    app, fake, alice, _ = world
    fake.apart = {frozenset({"telegram", "instagram"})}  # no number has both
    await to_picker(app, alice)
    await pick_and_confirm(alice, "Instagram")
    rent_button = alice.data_of("Rent all")
    answer = await alice.press("Rent all for $1.05")
    assert "Telegram + Instagram cannot share one number now" in answer.text and "15 min" in answer.text
    assert await balance(app) == 5000  # charged, refunded in the same tap
    kinds = [(e.kind, e.amount) for e in (await app.ledger_repo.recent(alice.chat_id))[:3]]
    assert sorted(kinds) == sorted([("charge", -(TELEGRAM + INSTAGRAM)), ("refund", TELEGRAM), ("refund", INSTAGRAM)])
    assert {r.status for r in await rentals_of(app)} == {"failed"}
    # The confirm screen says which set and until when, with no Rent button.
    text = alice.screen().text
    assert "refused Telegram + Instagram together on one number" in text and "keeps refusing it until" in text
    assert "leave one out, or rent them one by one" in text
    assert not any("Rent all" in b for b in alice.buttons())
    assert {"« Back", "« Menu"} <= set(alice.buttons())  # and a way back

    fake.apart = set()  # even if GetAText would rent it now, its cache still refuses the set: not asked
    answer = await alice.press_data(SetRentCb.unpack(rent_button).model_copy(update={"n": "again"}).pack())
    assert "cannot share one number now" in answer.text
    assert len(asked(fake)) == 1 and await balance(app) == 5000
    # The picker says it too, and another combination rents.
    await alice.press("Change the services")
    assert "keeps refusing it until" in alice.screen().text
    await alice.press("Instagram")  # off again
    await pick_and_confirm(alice, "Whatsapp")
    await alice.press("Rent all for $1.11")
    assert await balance(app) == 5000 - TELEGRAM - WHATSAPP


async def test_entries_the_provider_did_not_rent_are_refunded(world):
    app, fake, alice, _ = world
    await to_picker(app, alice)
    await pick_and_confirm(alice, "Whatsapp")
    ok = {"id": 777, "status": "success", "errors": None, "end_time": "2030-07-06 15:43:37", "number": "2025550199",
          "service_name": "Telegram", "price": "0.45"}
    bad = {"id": 778, "status": "failed", "message": "Whatsapp not available", "errors": None}
    fake.fail_next(201, {"status": "success", "rentals": [ok, bad], "new_balance": "99.55", "total_cost": "0.45"})
    answer = await alice.press("Rent all for $1.11")
    assert "Not rented, refunded: Whatsapp" in answer.text
    telegram, whatsapp = await rentals_of(app)
    assert (telegram.status, telegram.provider_rental_id) == ("active", "777")
    assert (whatsapp.status, whatsapp.failure) == ("failed", "Whatsapp not available")
    assert await balance(app) == 5000 - TELEGRAM


async def test_a_lost_reply_stays_pending_and_each_code_links_its_service(world, session):
    app, fake, alice, background = world
    await to_picker(app, alice)
    await pick_and_confirm(alice, "Whatsapp")
    fake.set_mode("slow")  # GetAText rents both, the reply never comes in time
    await alice.press("Rent all for $1.11")
    fake.set_mode("ok")
    assert {r.status for r in await rentals_of(app)} == {"pending"}
    assert await balance(app) == 5000 - TELEGRAM - WHATSAPP  # unknown: kept, never guessed
    made = {r.service.api_name: r for r in fake.rentals.values()}
    client = app.providers["getatext"]
    for service, code in (("telegram", "515151"), ("whatsapp", "626262")):
        payload = await fake.inject_code(made[service].id, code)
        await background.pollers["getatext"].store([await client.webhook_sms(payload)])
    telegram, whatsapp = await rentals_of(app)
    assert (telegram.status, telegram.provider_rental_id) == ("active", str(made["telegram"].id))
    assert (whatsapp.status, whatsapp.provider_rental_id) == ("active", str(made["whatsapp"].id))
    await background.deliverer.deliver_once()
    assert len([m for m in session.sent(alice.chat_id) if "515151" in m.text or "626262" in m.text]) == 2
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE rentals SET created_at = ?", (db_time(utcnow() - timedelta(hours=1)),))
    assert await app.rentals.reconcile_pending() == []  # linked: nothing refunded later
    assert await balance(app) == 5000 - TELEGRAM - WHATSAPP


async def test_a_lost_reply_with_no_code_behind_it_is_refunded_after_the_grace(world):
    app, fake, alice, background = world
    await to_picker(app, alice)
    await pick_and_confirm(alice, "Whatsapp")
    fake.fail_next(504)  # a gateway timeout: whether GetAText rented is not known
    await alice.press("Rent all for $1.11")
    assert {r.status for r in await rentals_of(app)} == {"pending"}
    await background.jobs.reconcile()
    assert await balance(app) == 5000 - TELEGRAM - WHATSAPP  # too fresh to decide
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE rentals SET created_at = ?", (db_time(utcnow() - timedelta(minutes=7)),))
    await background.jobs.reconcile()
    assert {r.status for r in await rentals_of(app)} == {"failed"} and await balance(app) == 5000


async def test_cancel_on_the_card_cancels_every_service_without_a_code(world, session):
    app, fake, alice, background = world
    await to_picker(app, alice)
    await pick_and_confirm(alice, "Whatsapp", "Instagram")
    await alice.press("Rent all for $1.66")
    telegram, whatsapp, instagram = await rentals_of(app)
    await fake.inject_code(whatsapp.provider_rental_id, "909090")
    await background.pollers["getatext"].tick()
    await background.deliverer.deliver_once()
    await alice.send("/numbers")
    await alice.press("Telegram ➕2")
    await alice.press("Cancel")  # asked first: which services stop, and what comes back
    question = alice.screen()
    assert "Cancel <code>" in question.text and "Telegram, Instagram" in question.text and "$1.05" in question.text
    answer = await alice.press("Cancel it, $1.05 back", question)
    assert "only after the first minute" in answer.text and await balance(app) == 5000 - 166  # GetAText's rule
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE rentals SET active_from = ?", (db_time(utcnow() - timedelta(minutes=2)),))
    answer = await alice.press("Cancel it, $1.05 back", question)
    assert "$1.05 returned" in answer.text
    assert await balance(app) == 5000 - WHATSAPP  # the one with a code is kept (GetAText refunds none after it)
    statuses = {r.service_name: r.status for r in await rentals_of(app)}
    assert statuses == {"Telegram": "cancelled", "Whatsapp": "active", "Instagram": "cancelled"}
    assert fake.rentals[int(telegram.provider_rental_id)].status == "cancelled"
    assert not any("Cancel" in b for b in alice.buttons())  # nothing left to cancel


async def test_forged_sets_are_stale_buttons(world):
    app, fake, alice, _ = world
    await to_picker(app, alice)
    await pick_and_confirm(alice, "Whatsapp")
    data = SetRentCb.unpack(alice.data_of("Rent all"))
    for mask in (0b10, 1 << 39, 0b1):  # without the plan's own service, out of range, a set of one
        answer = await alice.press_data(data.model_copy(update={"m": mask, "n": f"f{mask}"}).pack())
        assert "out of date" in answer.text
    assert asked(fake) == [] and await balance(app) == 5000
    assert Decimal(fake.balance) == Decimal("100.00")
