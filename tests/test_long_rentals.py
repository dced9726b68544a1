"""GetAText long-term numbers through the production Dispatcher and the real background jobs, against the fake
GetAText: offered beside the activations with a held price, auto-renew chosen before paying, the hold settled to
GetAText's price, codes polled and pushed once, renewed now (in place) and by the provider (auto-renew), ended
without a refund; a lost reply at renting or renewing decided from GetAText's list of long rentals."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from aiogram.methods import SendMessage

from bot.app import App
from bot.background import Background
from bot.outbound.pace import Limits
from handlers import phones
from handlers.callbacks import RentCb
from playground.recording import Person
from playground.sandbox.getatext import FakeGetAText
from providers.getatext import GetATextClient
from storage.models import db_time, utcnow
from tests.conftest import credit, open_world

# 1 week: 10.55 expected, +20 % held = 12.66, +10 % markup = $13.93 held; GetAText charges 10.55 -> $11.61.
HOLD_1W, PRICE_1W = 1393, 1161


@pytest.fixture
async def world(settings, session):
    async with FakeGetAText(api_key="long-key", rate_limit_interval=0.0) as fake:
        fake.enforce_rate_limit = False
        fake.slow_seconds = 2.0
        client = GetATextClient("long-key", base_url=fake.url, timeout=0.5, backoff=0.01, rent_interval=0.0,
                                poll_interval=0.0, long_prices={"1w": Decimal("10.55"), "1m": Decimal("34.99")},
                                long_margin_percent=Decimal(20))
        async with open_world(settings, {"getatext": client}, session) as world:
            background = Background(world.app, world.bot, Limits.unlimited())
            yield world.app, fake, world.person(1001), background


async def execute(app: App, sql: str, params: tuple) -> None:
    async with app.db.transaction() as conn:
        await conn.execute(sql, params)


async def balance(app: App, chat_id: int = 1001) -> int:
    return (await app.chats.get(chat_id)).balance


async def to_week_confirm(app: App, alice: Person) -> None:
    await alice.send("/start")
    await credit(app, alice.chat_id, 5000)
    await alice.press("Rent a number")
    await alice.press("Telegram")
    plans = [b for b in alice.buttons() if "GetAText" in b]
    # Beside the activation, to compare; a price known only when renting says "at most".
    assert plans == ["$0.50 · GetAText · 10 minutes", "🌐 $13.93 · GetAText · 1 week", "🌐 $46.19 · GetAText · 1 month"]
    # The marks are said once on the screen, in words: what a long number is and that its price is at most the one
    # shown.
    assert "🌐 a long number that takes codes for any service" in alice.screen().text
    await alice.press("1 week")


async def only_rental(app: App, chat_id: int = 1001):
    rows, _ = await app.rentals.rentals.for_chat(chat_id)
    [rental] = rows
    return rental


async def test_a_week_with_auto_renew_is_held_then_settled_to_getatexts_price(world):
    app, fake, alice, _ = world
    await to_week_confirm(app, alice)
    text = alice.screen().text
    assert "up to $13.93 is held" in text and "Auto-renew: off" in text
    assert "Ending it early gives nothing back" in text  # the refund rule, before paying
    assert "Carrier" not in text and "Price cap" not in text  # an activation's wishes, not a long number's
    await alice.press("Auto-renew: off")  # chosen before paying
    assert "Auto-renew: <b>on</b>" in alice.screen().text
    await alice.press("Rent, up to $13.93")

    [created] = fake.long_rentals.values()
    assert created.auto_renew is True and created.period == "1 Week"
    rental = await only_rental(app)
    assert rental.status == "active" and rental.provider_rental_id == f"L{created.id}"
    assert (rental.price_held, rental.price_charged, rental.provider_cost) == (HOLD_1W, PRICE_1W, "10.55")
    assert rental.auto_renew is True and rental.active_till > utcnow() + timedelta(days=6)
    entries = await app.ledger_repo.recent(alice.chat_id)
    assert [(e.kind, e.amount) for e in entries[:2]] == [("refund", HOLD_1W - PRICE_1W), ("charge", -HOLD_1W)]
    # The ledger says it in words, with the number it was for.
    from handlers.i18n import Texts
    from handlers.views import ledger_line
    said = ledger_line(Texts("en"), entries[0])
    assert said.endswith(f"+$2.32 · {phones.display(rental.phone)} · price cap: $2.32 not used, returned · Telegram")
    assert await balance(app) == 5000 - PRICE_1W
    card = alice.screen()
    assert "A number for any service" in card.text
    assert "⏹ End this number" in alice.buttons() and "🔁 Auto-renew: on" in alice.buttons()
    assert not any("Finish" in b for b in alice.buttons())


async def test_a_price_above_the_hold_costs_the_chat_the_hold_only(world):
    app, fake, alice, _ = world
    fake.long_plans["1w"] = (Decimal("15.00"), "1 Week", 7)  # GetAText's price rose since it was last seen
    await to_week_confirm(app, alice)
    await alice.press("Rent, up to $13.93")
    rental = await only_rental(app)
    assert rental.status == "active" and rental.price_charged == HOLD_1W and rental.provider_cost == "15.00"
    assert await balance(app) == 5000 - HOLD_1W  # never more than the chat agreed to
    assert app.rentals.absorbed == {"getatext": 1650 - HOLD_1W}  # the operator's, logged and counted
    # The next quote holds from the price seen: 15.00 + 20 % = 18.00, + 10 % = $19.80.
    assert app.providers["getatext"].long_ceilings()["1w"] == Decimal("18.00")


async def test_its_messages_are_polled_and_pushed_exactly_once(world, session):
    app, fake, alice, background = world
    await to_week_confirm(app, alice)
    await alice.press("Rent, up to $13.93")
    [created] = fake.long_rentals.values()
    await fake.inject_code(created.id, "482913", "Your Telegram code is 482913")
    for _ in range(2):  # every message is listed each time: stored once
        await background.pollers["getatext"].tick()
        await background.deliverer.deliver_once()
    pushed = [m for m in session.sent(alice.chat_id) if "482913" in m.text]
    assert len(pushed) == 1
    await alice.send("/numbers")
    await alice.press("Telegram")
    await alice.press("SMS history")
    assert "Your Telegram code is 482913" in alice.screen().text


async def test_a_lost_reply_at_renting_is_linked_from_the_list_of_long_rentals(world):
    app, fake, alice, background = world
    await to_week_confirm(app, alice)
    fake.set_mode("slow")  # GetAText creates it, the reply never comes in time
    await alice.press("Rent, up to $13.93")
    fake.set_mode("ok")
    rental = await only_rental(app)
    assert rental.status == "pending" and await balance(app) == 5000 - HOLD_1W  # the hold stays: unknown
    await execute(app, "UPDATE rentals SET created_at = ? WHERE id = ?",
                         (db_time(utcnow() - timedelta(seconds=30)), rental.id))
    await background.jobs.reconcile()
    rental = await only_rental(app)
    [created] = fake.long_rentals.values()
    assert rental.status == "active" and rental.provider_rental_id == f"L{created.id}"
    assert rental.price_charged == PRICE_1W and await balance(app) == 5000 - PRICE_1W  # settled, once


async def test_a_hold_with_no_long_rental_behind_it_comes_back_after_the_grace(world):
    app, fake, alice, background = world
    await to_week_confirm(app, alice)
    fake.fail_next(504)  # a gateway timeout: whether GetAText created it is not known
    await alice.press("Rent, up to $13.93")
    rental = await only_rental(app)
    assert rental.status == "pending" and fake.long_rentals == {}
    await execute(app, "UPDATE rentals SET created_at = ? WHERE id = ?",
                         (db_time(utcnow() - timedelta(seconds=30)), rental.id))
    await background.jobs.reconcile()
    assert (await only_rental(app)).status == "pending"  # not listed yet: never refunded on a guess
    await execute(app, "UPDATE rentals SET created_at = ? WHERE id = ?",
                         (db_time(utcnow() - timedelta(minutes=4)), rental.id))
    await background.jobs.reconcile()
    assert await balance(app) == 5000
    assert (await app.rentals.rentals.get(rental.id)).status == "failed"


async def test_renew_now_adds_a_period_to_the_same_number(world):
    app, fake, alice, _ = world
    await to_week_confirm(app, alice)
    await alice.press("Rent, up to $13.93")
    before = await only_rental(app)
    await alice.press("Renew now · up to $13.93")
    # Asked first: at most what it takes, until when it then runs, the balance after; nothing charged yet.
    question = alice.screen().text
    assert "Renew <code>" in question and "<b>$13.93</b>" in question
    assert "Ending it early gives nothing back" in question
    assert (f"Balance: ${(5000 - PRICE_1W) / 100:.2f} now, "
            f"at least ${(5000 - PRICE_1W - 1393) / 100:.2f} after") in question
    until = before.active_till + timedelta(days=7)
    assert until.strftime("%b %-d") in question
    assert await balance(app) == 5000 - PRICE_1W and len(fake.long_rentals) == 1
    await alice.press("Renew, up to $13.93")
    after = await only_rental(app)
    [created] = fake.long_rentals.values()
    assert after.id == before.id and after.provider_rental_id == before.provider_rental_id
    assert after.active_till - before.active_till == timedelta(days=7)
    assert not after.renewing and after.price_charged == 2 * PRICE_1W
    assert await balance(app) == 5000 - 2 * PRICE_1W
    assert fake.balance == Decimal("100.00") - 2 * Decimal("10.55")


async def test_a_lost_reply_at_renewing_is_decided_from_getatexts_end(world):
    app, fake, alice, background = world
    await to_week_confirm(app, alice)
    await alice.press("Rent, up to $13.93")
    before = await only_rental(app)
    fake.set_mode("slow")
    await alice.press("Renew now · up to $13.93")
    await alice.press("Renew, up to $13.93")
    fake.set_mode("ok")
    pending = await only_rental(app)
    assert pending.renewing and await balance(app) == 5000 - PRICE_1W - HOLD_1W
    assert "Renewal asked for" in alice.screen().text and not any("Renew now" in b for b in alice.buttons())
    await background.jobs.expire()  # never expired while a renewal is undecided
    await background.jobs.reconcile()  # too fresh: the call may still be running
    assert (await only_rental(app)).renewing
    await execute(app, "UPDATE in_place_renewals SET asked_at = ? WHERE rental_id = ? AND state = 'asked'",
                         (db_time(utcnow() - timedelta(seconds=30)), before.id))
    await background.jobs.reconcile()
    after = await only_rental(app)
    assert not after.renewing and after.active_till - before.active_till == timedelta(days=7)
    assert await balance(app) == 5000 - 2 * PRICE_1W  # made, and settled to its price


async def test_a_renewal_that_never_happened_gives_the_hold_back(world):
    app, fake, alice, background = world
    await to_week_confirm(app, alice)
    await alice.press("Rent, up to $13.93")
    rental = await only_rental(app)
    fake.fail_next(504)
    await alice.press("Renew now · up to $13.93")
    await alice.press("Renew, up to $13.93")
    assert (await only_rental(app)).renewing
    await execute(app, "UPDATE in_place_renewals SET asked_at = ? WHERE rental_id = ? AND state = 'asked'",
                         (db_time(utcnow() - timedelta(minutes=4)), rental.id))
    await background.jobs.reconcile()
    assert not (await only_rental(app)).renewing
    assert await balance(app) == 5000 - PRICE_1W
    assert await background.money_news.send_once() == 1  # money news: its own loop sends it
    told = [m.text for m in alice.session.sent(alice.chat_id) if isinstance(m, SendMessage)]
    assert any("was not made" in text for text in told)


async def test_getatexts_auto_renewal_is_charged_like_any_renewal(world):
    app, fake, alice, background = world
    await to_week_confirm(app, alice)
    await alice.press("Auto-renew: off")
    await alice.press("Rent, up to $13.93")
    rental = await only_rental(app)
    [created] = fake.long_rentals.values()
    # At the cut-off before the end (the bot was slow: the end is already past): the next period is held.
    await execute(app, "UPDATE rentals SET active_till = ? WHERE id = ?",
                  (db_time(utcnow() - timedelta(minutes=1)), rental.id))
    await background.jobs.warn_renewals()
    assert await balance(app) == 5000 - 2 * PRICE_1W
    assert fake.long_rental_ends(created.id) is True  # GetAText renews it
    await background.jobs.expire()
    renewed = await only_rental(app)
    assert renewed.status == "active" and renewed.active_till > utcnow() + timedelta(days=6)
    assert await balance(app) == 5000 - 2 * PRICE_1W  # the held period was the charge: not twice
    assert await background.money_news.send_once() == 1  # money news: its own loop sends it
    told = [m.text for m in alice.session.sent(alice.chat_id)]
    assert any("renewed: $11.61 charged" in text for text in told)


async def test_ending_a_long_number_is_asked_first_and_refunds_nothing(world):
    app, fake, alice, _ = world
    await to_week_confirm(app, alice)
    await alice.press("Rent, up to $13.93")
    await alice.press("End this number")
    assert "Ending it early gives nothing back" in alice.screen().text
    assert (await only_rental(app)).status == "active"  # only asked so far
    await alice.press("End it, nothing back")
    rental = await only_rental(app)
    [created] = fake.long_rentals.values()
    assert rental.status == "cancelled" and created.status == "Cancelled"
    assert await balance(app) == 5000 - PRICE_1W


async def test_russian_long_term_screens(world):
    app, fake, _, _ = world
    ivan = Person(world[2].dp, world[2].bot, world[2].session, 1002, name="Ivan", language="ru")
    await ivan.send("/start")
    await credit(app, ivan.chat_id, 5000)
    await ivan.press("Арендовать номер")
    await ivan.press("Telegram")
    assert "🌐 $13.93 · GetAText · 1 неделя" in ivan.buttons()
    await ivan.press("1 неделя")
    assert "резервируется до $13.93" in ivan.screen().text and "Автопродление: выкл." in ivan.screen().text


async def test_a_renewal_getatext_refuses_gives_the_hold_back_at_once(world):
    app, fake, alice, _ = world
    await to_week_confirm(app, alice)
    await alice.press("Rent, up to $13.93")
    fake.balance = Decimal("1.00")  # GetAText cannot charge the period: a refusal, decided at once
    await alice.press("Renew now · up to $13.93")
    answer = await alice.press("Renew, up to $13.93")
    rental = await only_rental(app)
    assert not rental.renewing and await balance(app) == 5000 - PRICE_1W
    assert answer.text  # told why, on the spot


async def test_a_month_with_auto_renew_two_codes_renewed_then_ended(world, session):
    """The whole journey the issue names: a 1-month number with auto-renew, two codes, renewed, ended."""
    app, fake, alice, background = world
    await alice.send("/start")
    await credit(app, alice.chat_id, 12000)
    await alice.press("Rent a number")
    await alice.press("Telegram")
    await alice.press("1 month")
    await alice.press("Auto-renew: off")
    await alice.press("Rent, up to $46.19")  # 34.99 + 20 % = 41.99, + 10 % markup
    [created] = fake.long_rentals.values()
    assert created.auto_renew is True and created.period == "1 Month"
    rental = await only_rental(app)
    assert rental.price_charged == 3849 and await balance(app) == 12000 - 3849  # settled to 34.99 + 10 %
    for code in ("510001", "510002"):
        await fake.inject_code(created.id, code, f"Your code is {code}")
        await background.pollers["getatext"].tick()
        await background.deliverer.deliver_once()
    pushed = [m.text for m in session.sent(alice.chat_id) if "51000" in m.text]
    assert len(pushed) == 2 and "510001" in pushed[0] and "510002" in pushed[1]
    await alice.send("/numbers")
    await alice.press("Telegram")
    before = await only_rental(app)
    await alice.press("Renew now · up to $46.19")
    await alice.press("Renew, up to $46.19")
    after = await only_rental(app)
    assert after.active_till - before.active_till == timedelta(days=30) and not after.renewing
    assert await balance(app) == 12000 - 2 * 3849
    await alice.press("End this number")
    await alice.press("End it, nothing back")
    assert (await only_rental(app)).status == "cancelled" and created.status == "Cancelled"
    assert await balance(app) == 12000 - 2 * 3849  # ended early: nothing back, as the confirm screen said


async def test_auto_renew_has_one_rule_on_the_confirm_screen_and_on_the_card(world):
    """On only while the balance covers the next period: the confirm screen does not rent with it on when this rent
    would leave less than a period, and says so in the card's words; a forged tap is refused the same way."""
    app, fake, alice, _ = world
    await alice.send("/start")
    await credit(app, alice.chat_id, 2000)  # a week is up to $13.93: $6.07 would be left, under a period
    await alice.press("Rent a number")
    await alice.press("Telegram")
    await alice.press("1 week")
    await alice.press("Auto-renew: off")
    text = alice.screen().text
    assert "Auto-renew: off. It is on only while the balance covers the next period ($13.93)" in text
    assert "after this rent it would be $6.07" in text and "Auto-renew: <b>on</b>" not in text
    rent_data = RentCb.unpack(alice.data_of("Rent, up to $13.93"))
    answer = await alice.press_data(rent_data.model_copy(update={"r": True}).pack())
    assert "Auto-renew is on only while the balance covers the next period ($13.93)" in answer.text
    assert fake.long_rentals == {} and await balance(app) == 2000
    await alice.press("Rent, up to $13.93")  # without auto-renew, as the screen said
    [created] = fake.long_rentals.values()
    assert created.auto_renew is False
    # The card: the same rule, in the same words.
    await alice.press("Auto-renew: off")
    assert "Auto-renew is on only while the balance covers the next period" in alice.screen().text
    answer = await alice.press("Turn on")
    assert "Auto-renew is on only while the balance covers the next period" in answer.text
    assert created.auto_renew is False


async def test_the_card_says_getatexts_true_end_not_the_end_of_its_day(world):
    """GetAText says only the day a long rental ends ("2026-12-13"); the sandbox, like a period that starts when it
    is rented, ends it a week after renting to the second. The card says that moment ("6 days 23 hours" left just
    after renting), not the day's last second (up to a day late); renewing moves it by exactly a week."""
    app, fake, alice, _ = world
    await to_week_confirm(app, alice)
    await alice.press("Rent, up to $13.93")
    [created] = fake.long_rentals.values()
    rental = await only_rental(app)
    assert abs(rental.active_till - created.end_time) < timedelta(seconds=5), (rental.active_till, created.end_time)
    assert "Time left: 6 days 23 hours" in alice.screen().text, alice.screen().text
    assert fake.long_rental_ends(created.id) is False  # not renewed: GetAText ends it at that moment
    # The card's Refresh reads GetAText's day again: still the same moment.
    refreshed = await app.rentals.refresh(alice.chat_id, rental.id)
    assert refreshed.active_till == rental.active_till


def test_a_day_only_end_is_placed_at_the_rent_time_plus_whole_periods():
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from bot.services.rentals import period_end
    from providers import Rental, RentalStatus

    eastern, week = ZoneInfo("America/New_York"), 7 * 1440
    start = datetime(2026, 12, 6, 2, 30, tzinfo=timezone.utc)  # Dec 5, 21:30 in New York

    def day(y, m, d):  # GetAText's "YYYY-MM-DD", read as that day's last second in New York
        return Rental("getatext", "L1", "1", "", RentalStatus.ACTIVE, till_is_day=True,
                      active_till=datetime(y, m, d, 23, 59, 59, tzinfo=eastern))

    assert period_end(day(2026, 12, 12), start, week) == start + timedelta(days=7)
    assert period_end(day(2026, 12, 19), start, week) == start + timedelta(days=14)  # renewed once
    # A day that no whole period reaches (the plan changed, the clocks disagree): the day's end, the latest it can be.
    assert period_end(day(2026, 12, 15), start, week) == day(2026, 12, 15).active_till
    # A provider that says the moment, or nothing known to place it: its own word.
    exact = Rental("getatext", "L1", "1", "", RentalStatus.ACTIVE, active_till=start + timedelta(days=7, hours=3))
    assert period_end(exact, start, week) == exact.active_till
    assert period_end(day(2026, 12, 12), None, week) == day(2026, 12, 12).active_till


async def test_renew_now_with_too_little_on_the_balance_says_what_is_missing_and_charges_nothing(world):
    """The question never shows a negative "balance after": with less than the hold, it says what is missing and
    offers a top-up; nothing is charged, nothing asked of GetAText."""
    app, fake, alice, _ = world
    await to_week_confirm(app, alice)
    await alice.press("Rent, up to $13.93")
    await app.wallet.adjust(900, alice.chat_id, -(5000 - PRICE_1W - 1000), "test")  # $10.00 left
    await alice.press("Renew now · up to $13.93")
    question = alice.screen().text
    assert "<b>$3.93</b> missing" in question and "-$" not in question, question
    assert alice.buttons() == ["➕ Top up", "« Number"]
    calls = len(fake.requests)
    await alice.press("« Number")
    assert await balance(app) == 1000 and len(fake.requests) == calls
