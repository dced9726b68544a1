"""The fallback chain (issue 17): "if no code in N minutes, try the next plan", within a budget. Through the
production dispatcher against both sandbox providers; the chain's step job is run by hand, time moved on by
ageing the attempts in the database."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.app import App
from bot.background import Background
from bot.outbound.pace import Limits
from handlers import phones
from playground.recording import Person
from playground.sandbox.getatext import FakeGetAText
from playground.sandbox.gotsms import FakeGotSms
from providers.getatext import GetATextClient
from providers.gotsms import GotSmsClient
from storage.models import db_time, utcnow
from tests.conftest import credit, open_world
from tests.test_i18n import DATA_NAMES, TEXT_NAMES, latin_words


@pytest.fixture
async def world(settings, session):
    async with (FakeGotSms(balance="1000") as gotsms,
                FakeGetAText(api_key="chain-key", cancel_after_seconds=0, rate_limit_interval=0.0) as getatext):
        getatext.enforce_rate_limit = False
        a = GetATextClient("chain-key", base_url=getatext.url, timeout=5, backoff=0.01, rent_interval=0.0,
                           poll_interval=0.0)
        a.min_age_to_cancel = 0  # the fake cancels at once
        g = GotSmsClient(gotsms.api_key, base_url=gotsms.url, timeout=5, backoff=0.01)
        async with open_world(settings, {"getatext": a, "gotsms": g}, session) as world:
            background = Background(world.app, world.bot, Limits.unlimited())
            yield world.app, background, world.person(1001, name="Alice"), gotsms, getatext


async def to_confirm(app: App, alice: Person) -> None:
    """Telegram in the United States, GetAText's 10-minute activation at $0.50: its confirm screen."""
    await alice.send("/start")
    await credit(app, alice.chat_id, 2000)
    for label in ("Rent a number", "Telegram", "United States", "$0.50 · GetAText"):
        await alice.press(label)


async def attempts(app: App, chain_id: int = 1):
    return await app.chains.repo.attempts(chain_id)


async def waited(app: App, rental_id: int, minutes: float = 2) -> None:
    """The attempt's wait passed: it became active ``minutes`` ago."""
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE rentals SET active_from = ?, created_at = ? WHERE id = ?",
                           (db_time(utcnow() - timedelta(minutes=minutes)),
                            db_time(utcnow() - timedelta(minutes=minutes)), rental_id))


async def balance(app: App) -> int:
    return (await app.chats.get(1001)).balance


def chain_cards(session) -> list:
    return [m for m in session.messages[1001].values() if m.text and "Each number without a code is refunded" in m.text]


async def test_three_attempts_across_both_providers_end_in_a_code(world, session):
    app, background, alice, gotsms, getatext = world
    getatext.set_delivery("telegram", "never")
    gotsms.set_delivery(gotsms.find_plan("Telegram", "min", 20), "never")  # the UK activation
    gotsms.add_plan("Telegram", "Canada", "sms", "min", 15, "0.6")  # $0.66: it delivers
    await to_confirm(app, alice)
    assert "🔄 If no code, try the next plan" in alice.buttons()
    await alice.press("If no code, try the next plan")
    screen = alice.screen()
    assert "If no code comes in 10 minutes" in screen.text
    assert "up to $1.00 in all (🇺🇸 United States only)" in screen.text
    for wait in ("5 minutes", "3 minutes", "1 minute"):
        await alice.press("⏱ Wait")
        assert f"⏱ Wait {wait}" in alice.buttons()
    await alice.press("Other countries too: no")
    assert "other countries too" in alice.screen().text and "🌍 Other countries too: yes" in alice.buttons()
    assert (await app.chains.prefs(1001, "telegram")).window_minutes == 1  # remembered for the chat's next screen

    await alice.press("Rent for $0.50")
    card = alice.screen()
    assert card.text.startswith("🔄 <b>Telegram</b>: trying until a code comes")
    assert "1. GetAText · 🇺🇸 United States" in card.text and "Now: " in card.text
    assert "Spent $0.50 of $1.00" in card.text and "⏹ Stop trying" in alice.buttons()
    [first] = await attempts(app)
    assert first.provider == "getatext" and first.status == "active"

    await background.step_chains()
    assert len(await attempts(app)) == 1  # its minute has not passed
    await waited(app, first.id)
    await background.step_chains()
    first, second = await attempts(app)
    assert first.status == "cancelled" and first.no_code == "refunded"
    assert second.provider == "gotsms" and second.country == "United Kingdom" and second.status == "active"
    card = session.messages[1001][card.message_id]
    assert "no code, refunded" in card.text and "2. GotSMS · 🇬🇧 United Kingdom" in card.text
    assert "Spent $0.55 of $1.00" in card.text

    await waited(app, second.id)
    await background.step_chains()
    _, second, third = await attempts(app)
    assert second.status == "cancelled" and third.country == "Canada" and third.price_charged == 66
    gotsms.inject_sms(third.provider_rental_id, "Telegram code: 52817", code="52817")
    await background.pollers["gotsms"].tick()
    await background.deliverer.deliver_once()
    await background.step_chains()

    chain = await app.chains.repo.get(1)
    assert chain.status == "done"
    card = session.messages[1001][card.message_id]
    assert card.text.startswith("✅ <b>Telegram</b>: the code came on attempt 3")
    assert "trying until a code comes" not in card.text and "⏹ Stop trying" not in alice.buttons(card)
    # The number that got the code is still rented: its button stays; the refunded ones have none.
    assert alice.buttons(card)[0] == f"📱 {phones.display(third.phone)}"
    assert not [b for b in alice.buttons(card) if b.startswith("📱") and b != f"📱 {phones.display(third.phone)}"]
    assert any("52817" in (m.text or "") for m in session.messages[1001].values())  # pushed as usual
    assert await balance(app) == 2000 - 66
    kinds = [e.kind for e in await app.ledger_repo.recent(1001)]
    assert kinds.count("charge") == 3 and kinds.count("refund") == 2
    assert len(chain_cards(session)) == 1  # one card, edited in place
    assert await background.money_news.send_once() == 0  # no money news of the attempts either
    assert not [m for m in session.sent(1001) if "No code came" in (m.text or "")]  # the card said it


async def test_stopped_by_the_user_cancels_the_current_number_and_tries_nothing_more(world, session):
    app, background, alice, gotsms, getatext = world
    getatext.set_delivery("telegram", "never")
    await to_confirm(app, alice)
    await alice.press("If no code, try the next plan")
    await alice.press("Rent for $0.50")
    answer = await alice.press("Stop trying")
    assert answer.text == "Stopped"
    [only] = await attempts(app)
    assert only.status == "cancelled" and await balance(app) == 2000
    assert "Stopped: no other plan is tried" in alice.screen().text and "⏹ Stop trying" not in alice.buttons()
    assert alice.screen().text.startswith("⏹ <b>Telegram</b>: stopped")
    assert not [b for b in alice.buttons() if b.startswith("📱")]  # the number is refunded: nothing to open
    await background.step_chains()
    assert len(await attempts(app)) == 1 and (await app.chains.repo.get(1)).status == "stopped"


async def test_stop_while_the_provider_forbids_a_cancel_says_stopping_and_drops_the_button(world, session):
    """GetAText cancels a number only once it is a while old: after Stop the card says it is stopping (the number
    cancelled as soon as the provider allows), with no Stop button to tap again; then stopped, refunded."""
    app, background, alice, gotsms, getatext = world
    getatext.set_delivery("telegram", "never")
    app.providers["getatext"].min_age_to_cancel = 120
    await to_confirm(app, alice)
    await alice.press("If no code, try the next plan")
    await alice.press("Rent for $0.50")
    answer = await alice.press("Stop trying")
    assert answer.text == "Stopping: the number is cancelled as soon as the provider allows"
    card = alice.screen()
    [only] = await attempts(app)
    assert card.text.startswith("⏹ <b>Telegram</b>: stopping")
    assert "Stopping: the current number is cancelled and refunded as soon as its provider allows" in card.text
    assert alice.buttons(card) == [f"📱 {phones.display(only.phone)}", "🔄 Refresh", "« Menu"]  # still rented
    await alice.press("Refresh")
    assert "⏹ Stop trying" not in alice.buttons()

    await waited(app, only.id, minutes=3)
    await background.step_chains()
    card = session.messages[1001][card.message_id]
    assert card.text.startswith("⏹ <b>Telegram</b>: stopped") and "Stopped: no other plan is tried" in card.text
    assert alice.buttons(card) == ["🔄 Refresh", "« Menu"]  # refunded: no number to open
    assert await balance(app) == 2000


async def test_out_of_plans_the_card_says_why_each_plan_left_was_not_tried(world, session):
    """Other countries allowed, $1.50 of budget: the chain tries every one-time activation that fits (GetAText's
    US one, GotSMS's UK one), not the Canadian one over the budget; GotSMS's "1 day" plans are numbers paid for
    time (billing "duration"), with no "no code" moment to refund, so the chain does not rent them. The card
    groups why each plan left was not tried."""
    app, background, alice, gotsms, getatext = world
    getatext.set_delivery("telegram", "never")
    gotsms.set_delivery(gotsms.find_plan("Telegram", "min", 20), "never")
    gotsms.add_plan("Telegram", "Canada", "sms", "min", 15, "1.5")  # $1.65: over what is left
    await to_confirm(app, alice)
    await alice.press("If no code, try the next plan")
    await alice.press("💰 Up to")  # x3
    assert "💰 Up to $1.50 in all" in alice.buttons()
    for _ in range(3):  # 5, 3, then 1 minute
        await alice.press("⏱ Wait")
    await alice.press("Other countries too: no")
    await alice.press("Rent for $0.50")
    card = alice.screen()
    for _ in range(2):
        await waited(app, (await attempts(app))[-1].id)
        await background.step_chains()
    assert [(r.provider, r.country) for r in await attempts(app)] == [("getatext", "USA"),
                                                                      ("gotsms", "United Kingdom")]
    chain = await app.chains.repo.get(1)
    service = await app.catalogue.service("telegram")
    offers, _ = await app.catalogue.offers(service)
    by_time = [p for p in offers if p.offer.billing == "duration"]
    assert any(p.offer.provider == "gotsms" and p.offer.country == "USA" and p.offer.duration_label == "1 day"
               for p in by_time)
    assert chain.status == "exhausted" and chain.untried == {"rental": len(by_time), "over_budget": 1}
    card = session.messages[1001][card.message_id]
    assert card.text.startswith("⛔ <b>Telegram</b>: nothing more to try")
    assert not [b for b in alice.buttons(card) if b.startswith("📱") or b == "⏹ Stop trying"]  # both refunded
    assert f"Other plans left out: {len(by_time)} paid for time, not one-time · 1 over the budget left." in card.text
    assert "No other plan to try" not in card.text and await balance(app) == 2000

    await app.chats.set_language(1001, "ru")  # the same card in Russian: the reasons grouped, no English words
    await alice.press("Refresh", card)
    card = session.messages[1001][card.message_id]
    assert card.text.startswith("⛔ <b>Telegram</b>: больше нечего пробовать")
    assert f"Другие варианты не подошли: оплата за время, а не разовая: {len(by_time)}" in card.text
    assert "дороже остатка бюджета: 1." in card.text
    assert latin_words(card.text, DATA_NAMES | TEXT_NAMES | {"GotSMS"}) == []


async def test_a_kill_between_refunded_and_next_rented_resumes_once(world, session, settings):
    """The no-code job refunded attempt 1 and the process died before the chain rented attempt 2: the next
    start rents it once, however many steps run, and the refund's notice is the card's."""
    app, background, alice, gotsms, getatext = world
    getatext.set_delivery("telegram", "never")
    await to_confirm(app, alice)
    await alice.press("If no code, try the next plan")
    await alice.press("Other countries too: no")
    await alice.press("Rent for $0.50")
    [first] = await attempts(app)
    async with app.db.transaction() as conn:  # the activation is about to end: "no code, no charge" decides it
        await conn.execute("UPDATE rentals SET active_till = ? WHERE id = ?",
                           (db_time(utcnow() + timedelta(seconds=30)), first.id))
    assert await background.jobs.refund_no_code() == 1
    assert await background.money_news.send_once() == 0  # the attempt's refund is the card's to tell
    assert not [m for m in session.sent(1001) if "No code came" in (m.text or "")]

    # Killed here. The next start: a new app on the same database, new clients.
    await app.close()
    a = GetATextClient("chain-key", base_url=getatext.url, timeout=5, backoff=0.01, rent_interval=0.0,
                       poll_interval=0.0)
    g = GotSmsClient(gotsms.api_key, base_url=gotsms.url, timeout=5, backoff=0.01)
    try:
        async with open_world(settings, {"getatext": a, "gotsms": g}, session) as restart:
            again = restart.app
            restarted = Background(again, restart.bot, Limits.unlimited())
            await asyncio.gather(restarted.step_chains(), restarted.step_chains())
            await restarted.step_chains()
            first, second = await attempts(again)
            assert first.status == "cancelled" and second.provider == "gotsms" and second.country == "United Kingdom"
            assert len(gotsms.rents) == 1
            assert (await again.chats.get(1001)).balance == 2000 - 55
    finally:
        await app.db.connect()  # the fixture's last check reads the same database


async def test_an_attempt_whose_rent_got_no_answer_waits_for_the_reconciler_then_goes_on(world, session):
    """Attempt 2's rent call gets a gateway timeout: its outcome is unknown, so the chain neither rents another
    nor counts it refunded until the reconciler decides (here: no rental at GotSMS, refunded), then goes on."""
    app, background, alice, gotsms, getatext = world
    getatext.set_delivery("telegram", "never")
    gotsms.add_plan("Telegram", "Canada", "sms", "min", 15, "0.6")
    await to_confirm(app, alice)
    await alice.press("If no code, try the next plan")
    for _ in range(3):
        await alice.press("⏱ Wait")
    await alice.press("Other countries too: no")
    await alice.press("Rent for $0.50")
    [first] = await attempts(app)
    await waited(app, first.id)
    gotsms.fail_next(504, count=1)  # the UK rent's answer is lost on the way
    await background.step_chains()
    _, second = await attempts(app)
    assert second.status == "pending" and not gotsms.rents
    assert await balance(app) == 2000 - 55  # charged, outcome unknown: kept pending, not guessed
    await background.step_chains()
    assert len(await attempts(app)) == 2  # nothing more while it is undecided

    async with app.db.transaction() as conn:  # the reconciler's grace passes: no such rental at GotSMS
        await conn.execute("UPDATE rentals SET created_at = ? WHERE id = ?",
                           (db_time(utcnow() - timedelta(minutes=10)), second.id))
    await background.jobs.reconcile()
    await background.step_chains()
    _, second, third = await attempts(app)
    assert second.status == "failed" and third.country == "Canada" and third.status == "active"
    assert await balance(app) == 2000 - 66
    assert not [m for m in session.sent(1001) if "refunded" in (m.text or "").lower() and "Telegram" in (m.text or "")
                and "trying" not in (m.text or "")]


async def test_a_member_who_may_no_longer_spend_ends_the_chain_at_the_next_attempt(world, session):
    """In a group whose members rent within a limit: the member's chain rents its first plan under the limit;
    once the member has left the group, the next attempt is not made and the card says why."""
    app, background, alice, gotsms, getatext = world
    group = -100777
    ann = Person(alice.dp, alice.bot, session, 2001, chat_id=group, name="Ann")
    max_ = Person(alice.dp, alice.bot, session, 2002, chat_id=group, name="Max")
    session.admins.add((group, 2001))
    getatext.set_delivery("telegram", "never")
    await ann.send("/start@rent_test_bot")
    await credit(app, group, 2000)
    await app.chats.set_members_can_rent(group, True)
    await app.chats.set_team(group, member_limit=500)
    await max_.send("/rent@rent_test_bot telegram")
    for label in ("Telegram", "United States", "$0.50 · GetAText", "If no code, try the next plan"):
        await max_.press(label)
    for _ in range(3):
        await max_.press("⏱ Wait")
    await max_.press("Other countries too: no")
    await max_.press("Rent for $0.50")
    card = max_.screen()
    [first] = await app.chains.repo.attempts(1)
    assert first.user_id == 2002 and "Now: " in card.text

    session.left.add((group, 2002))
    await waited(app, first.id)
    await background.step_chains()
    chain = await app.chains.repo.get(1)
    assert chain.status == "ended" and len(await app.chains.repo.attempts(1)) == 1
    assert "may no longer spend" in session.messages[group][card.message_id].text
    assert (await app.chats.get(group)).balance == 2000  # the attempt without a code was refunded


async def test_the_choice_is_kept_per_service_and_the_confirm_screen_says_so(world, session):
    """Switched on for Telegram: the confirm screen says it stays on for Telegram's rents, and says so again on the
    next Telegram confirm screen (on from that earlier choice), by the button that turns it off; WhatsApp's is off."""
    app, background, alice, gotsms, getatext = world
    await to_confirm(app, alice)
    await alice.press("If no code, try the next plan")
    off = "✖ Don't try other plans"
    kept = f"On for every Telegram rent in this chat</b>, as you chose, until you tap “{off}”."
    assert kept in alice.screen().text

    await alice.send("/rent")
    for label in ("Telegram", "$0.50 · GetAText"):  # the country chosen before
        await alice.press(label)
    screen = alice.screen()
    assert kept in screen.text and "If no code comes in" in screen.text and off in alice.buttons()
    await alice.press(off)
    assert "If no code comes in" not in alice.screen().text and "🔄 If no code, try the next plan" in alice.buttons()
    await alice.press("Rent for $0.50")
    assert len(await app.db.fetchall("SELECT id FROM rentals")) == 1
    assert await app.chains.repo.get(1) is None  # an ordinary rental: no chain started

    await alice.send("/rent")
    for label in ("WhatsApp", "United States"):
        await alice.press(label)
    await alice.press(next(b for b in alice.buttons() if "GetAText" in b))
    assert "If no code comes in" not in alice.screen().text and "🔄 If no code, try the next plan" in alice.buttons()
