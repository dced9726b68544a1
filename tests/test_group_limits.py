"""Groups as teams, through the production dispatcher: who may rent and how much, the cap on open numbers,
members' requests that one admin approves or declines, expiry, a price that rose, members' top-ups, the ledger."""
from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from aiogram.methods import AnswerPreCheckoutQuery, EditMessageText
from aiogram.types import PreCheckoutQuery, Update

from bot.background import Background
from bot.outbound.pace import Limits
from bot.services import exports
from bot.services.rentals import RentRequest
from playground.recording import Person
from storage.models import db_time, utcnow
from tests.conftest import credit

GROUP = -100888


@pytest.fixture
def team(telegram, session):
    dp, bot = telegram
    ann = Person(dp, bot, session, 2001, chat_id=GROUP, name="Ann")
    max_ = Person(dp, bot, session, 2002, chat_id=GROUP, name="Max")
    bob = Person(dp, bot, session, 2003, chat_id=GROUP, name="Bob")
    session.admins.update({(GROUP, 2001), (GROUP, 2003)})
    return ann, max_, bob


async def open_group(app, ann: Person, balance: int = 1000, **team) -> None:
    await ann.send("/start@rent_test_bot")
    await credit(app, GROUP, balance)
    if "members_can_rent" in team:
        await app.chats.set_members_can_rent(GROUP, team.pop("members_can_rent"))
    if team:
        await app.chats.set_team(GROUP, **team)


async def to_confirm(person: Person) -> None:
    """/rent telegram → Telegram → its 1-day plan ($1.10): the confirm screen, a new message."""
    await person.send("/rent@rent_test_bot telegram")
    await person.press("Telegram")
    await person.press("$1.10")


async def balance(app) -> int:
    return (await app.chats.get(GROUP)).balance


async def ask(person: Person) -> None:
    """From a confirm screen: the request posted in the group."""
    await to_confirm(person)
    answer = await person.press("Request this number")
    assert "the admins see your request" in answer.text


async def test_the_settings_screen_sets_who_rents_and_how_much(app, team):
    ann, max_, _ = team
    await open_group(app, ann)
    await ann.send("/settings@rent_test_bot")
    assert "admins only" in ann.screen().text and "Members may top up the group: yes" in ann.screen().text
    assert "expire after 60 min" in ann.screen().text
    await ann.press("Let members rent")
    # Asked first: how much each member may spend (nothing is opened at this tap).
    assert "Let every member rent with the group's balance ($" in ann.screen().text
    assert not (await app.chats.get(GROUP)).members_can_rent
    assert {"💵 Up to $1.00 a day each", "💵 Up to $5.00 a day each", "♾ No limit", "« Back"} <= set(ann.buttons())
    answer = await max_.press("No limit", ann.screen())
    assert "Not allowed" in answer.text and not (await app.chats.get(GROUP)).members_can_rent
    await ann.press("Up to $1.00 a day each")
    chat = await app.chats.get(GROUP)
    assert (chat.members_can_rent, chat.member_limit) == (True, 100)
    assert "admins, and each member up to $1.00 a day" in ann.screen().text
    # Each label reads as the setting it is.
    assert {"🛡 Only admins rent", "💵 Limit each: $1.00 · change", "📅 Limit is per day · change",
            "🔢 Open numbers each: any · change", "💳 Members top up: yes"} <= set(ann.buttons())
    await ann.press("Limit each: $1.00")  # a tap moves it to the next amount
    await ann.press("Limit is per day")
    await ann.press("Open numbers each: any")
    chat = await app.chats.get(GROUP)
    assert (chat.members_can_rent, chat.member_limit, chat.limit_period, chat.member_cap) == (True, 200, "week", 1)
    text = ann.screen().text
    assert "admins, and each member up to $2.00 a week" in text and "Open numbers per member: up to 1" in text
    forged = await ann.press_data("g:1:12345", ann.screen())  # a limit the question never offers
    assert "Not allowed" in forged.text and (await app.chats.get(GROUP)).member_limit == 200
    await ann.press("Members top up: yes")
    assert not (await app.chats.get(GROUP)).members_top_up
    assert "Members may top up the group: no" in ann.screen().text
    forged = await ann.press_data("gs:lim:12345", ann.screen())  # a value the screen never offers
    assert "Not allowed" in forged.text and (await app.chats.get(GROUP)).member_limit == 200


async def test_member_within_limit_rents_over_it_asks_and_an_admin_approves(app, team, provider, session):
    ann, max_, _ = team
    await open_group(app, ann, members_can_rent=True, member_limit=200)  # $2.00 a day: one number at $1.10
    await to_confirm(max_)
    await max_.press("Rent for")
    assert provider.rent_calls == 1 and await balance(app) == 890
    assert "Rented by: @max" in max_.screen().text

    await max_.send("/balance@rent_test_bot")
    assert "Your spending today: $1.10 of $2.00, $0.90 left." in max_.screen().text

    await to_confirm(max_)
    # Over the limit: the screen says so and offers what works, not a Rent button that could only refuse.
    screen = max_.screen()
    assert "Over your limit: $0.90 left of $2.00 a day" in screen.text
    assert not any("Rent for" in b for b in max_.buttons()) and "🙋 Request this number" in max_.buttons()
    await ann.send("/rent@rent_test_bot telegram")  # an admin's screen of the same plan has Rent
    await ann.press("Telegram")
    await ann.press("$1.10")
    rent_data = ann.data_of("Rent for $1.10")
    answer = await max_.press_data(rent_data, ann.screen())  # the member taps it: refused at the tap, as ever
    assert "over your limit: $0.90 left of $2.00 a day (spent $1.10)" in answer.text
    assert provider.rent_calls == 1 and await balance(app) == 890
    asked = await max_.press("Request this number", screen)
    assert "the admins see your request" in asked.text
    request = max_.screen()
    assert "@max asks for a number: <b>Telegram</b>" in request.text and "$1.10" in request.text
    assert max_.buttons() == ["✅ Approve · $1.10", "✖️ Decline"]
    again = await max_.press("Request this number", screen)
    assert "Asked already" in again.text  # the same button twice: one request
    assert len([m for m in session.messages[GROUP].values() if "asks for a number" in (m.text or "")]) == 1

    answer = await max_.press("Approve", request)  # not an admin
    assert "Only the group's admins approve" in answer.text and provider.rent_calls == 1
    await ann.press("Approve", request)
    assert provider.rent_calls == 2 and await balance(app) == 780
    decided = session.messages[GROUP][request.message_id]
    assert "Approved by @ann: rented for @max from the group's balance." in decided.text
    assert len(ann.buttons(decided)) == 1  # the way to the number's card
    rentals, _ = await app.rentals.rentals.for_chat(GROUP)
    assert [r.user_name for r in rentals] == ["@max", "@max"]  # rented as the member

    await ann.send("/ledger@rent_test_bot")
    ledger = ann.screen().text
    assert "Ledger of Team" in ledger and "balance $7.80" in ledger
    assert "@max, approved by @ann" in ledger
    lines = [line for line in ledger.splitlines() if "Telegram" in line]
    assert len(lines) == 2 and lines[1].endswith("· @max")
    rows = await app.db.fetchall("SELECT actor_id FROM ledger WHERE chat_id = ? AND kind = 'charge'", (GROUP,))
    assert [r["actor_id"] for r in rows] == [2002, 2002]
    await max_.send("/balance@rent_test_bot")
    assert "Your spending today: $2.20 of $2.00, $0.00 left." in max_.screen().text
    assert "@max, approved by @ann" in max_.screen().text
    # The operator's export says the same: who rented, and the admin who approved the second one.
    text, _ = await exports.ledger_csv(app.db, GROUP)
    charges = [r for r in csv.DictReader(io.StringIO(text)) if r["kind"] == "charge"]
    assert [(r["by"], r["by_name"], r["approved_by"], r["approved_by_name"]) for r in charges] == [
        ("2002", "@max", "", ""), ("2002", "@max", "2001", "@ann")]
    assert await app.ledger_repo.totals_mismatch() == []


async def test_only_admins_rent_members_ask(app, team, provider):
    ann, max_, _ = team
    await open_group(app, ann)
    await max_.send("/rent@rent_test_bot telegram")
    assert "only the admins rent numbers" in max_.screen().text and "Request this number" in max_.screen().text
    await ask(max_)
    await ann.press("Approve")
    assert provider.rent_calls == 1 and await balance(app) == 890


async def test_two_admins_approving_at_once_rent_once(app, team, provider, session):
    ann, max_, bob = team
    await open_group(app, ann)
    await ask(max_)
    request = max_.screen()
    first, second = await asyncio.gather(ann.press("Approve", request), bob.press("Approve", request))
    assert provider.rent_calls == 1 and await balance(app) == 890
    assert [a.text for a in (first, second)].count("Decided already.") == 1
    [found] = await app.db.fetchall("SELECT * FROM spend_requests")
    assert found["status"] == "approved" and found["decided_by"] in (2001, 2003)

    # The rent's key is the request's: even a request forced open again rents nothing twice.
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE spend_requests SET status = 'open'")
    await ann.press("Approve", request)
    assert provider.rent_calls == 1 and await balance(app) == 890
    assert await app.ledger_repo.totals_mismatch() == []


async def test_a_request_expiring_costs_nothing(app, telegram, team, provider, session):
    ann, max_, _ = team
    await open_group(app, ann)
    await ask(max_)
    request = max_.screen()
    await ask(max_)
    other = max_.screen()
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE spend_requests SET expires_at = ?", (db_time(utcnow() - timedelta(seconds=1)),))
    # Tapped after its time, before the job: found expired at the tap.
    answer = await ann.press("Approve", other)
    assert "expired" in answer.text and "Expired" in session.messages[GROUP][other.message_id].text
    # The job marks the rest: the message says so and loses its buttons.
    assert await Background(app, telegram[1], Limits.unlimited()).expire_requests() == 1
    edited = session.messages[GROUP][request.message_id]
    assert "Expired: no admin decided in time. Nothing was charged." in edited.text and edited.reply_markup is None
    assert session.calls_of(EditMessageText)
    answer = await ann.press_data(request.reply_markup.inline_keyboard[0][0].callback_data, request)
    assert "Decided already" in answer.text
    assert provider.rent_calls == 0 and await balance(app) == 1000


async def test_a_declined_request_costs_nothing(app, team, provider, session):
    ann, max_, _ = team
    await open_group(app, ann)
    await ask(max_)
    request = max_.screen()
    approve = request.reply_markup.inline_keyboard[0][0].callback_data
    answer = await max_.press("Decline", request)
    assert "Only the group's admins approve" in answer.text
    await ann.press("Decline", request)
    declined = session.messages[GROUP][request.message_id]
    assert "Declined by @ann. Nothing was charged." in declined.text and declined.reply_markup is None
    answer = await ann.press_data(approve, request)  # the old Approve button
    assert "Decided already" in answer.text
    assert provider.rent_calls == 0 and await balance(app) == 1000


async def test_a_price_rise_at_approval_asks_again(app, team, provider, session):
    ann, max_, _ = team
    await open_group(app, ann)
    await ask(max_)
    request = max_.screen()
    provider.prices["tg"] = Decimal("2.00")  # $2.20 with the markup
    async with app.db.transaction() as conn:
        await conn.execute("DELETE FROM catalogue_cache WHERE key LIKE 'offers:%'")
    app.catalogue.cache.forget()  # what the bot read before is read again, as it is now
    answer = await ann.press("Approve", request)
    assert "price rose to $2.20" in answer.text
    assert provider.rent_calls == 0 and await balance(app) == 1000  # nothing charged until the admin agrees
    asked = session.messages[GROUP][request.message_id]
    assert "The price rose to $2.20 (it was $1.10)" in asked.text
    assert ann.buttons(asked) == ["✅ Approve · $2.20", "✖️ Decline"]
    provider.prices["tg"] = Decimal("3.00")  # rose again before the second tap: asked again
    async with app.db.transaction() as conn:
        await conn.execute("DELETE FROM catalogue_cache WHERE key LIKE 'offers:%'")
    app.catalogue.cache.forget()  # what the bot read before is read again, as it is now
    answer = await ann.press("Approve", asked)
    assert "price rose to $3.30" in answer.text and provider.rent_calls == 0
    await ann.press("Approve · $3.30", session.messages[GROUP][request.message_id])
    assert provider.rent_calls == 1 and await balance(app) == 670
    assert "Approved by @ann" in session.messages[GROUP][request.message_id].text


async def test_the_cap_on_open_numbers_even_for_taps_at_once(app, team, provider):
    ann, max_, _ = team
    await open_group(app, ann, members_can_rent=True, member_cap=1)
    await to_confirm(max_)
    first = max_.screen()
    await to_confirm(max_)
    second = max_.screen()
    answers = await asyncio.gather(max_.press("Rent for", first), max_.press("Rent for", second))
    assert provider.rent_calls == 1 and await balance(app) == 890
    assert any(a.text and "Open numbers per member here: at most 1" in a.text for a in answers)
    # Admins are not bounded; a number ended frees a place.
    await to_confirm(ann)
    await ann.press("Rent for")
    assert provider.rent_calls == 2
    [mine] = [r for r in (await app.rentals.rentals.for_chat(GROUP))[0] if r.user_id == 2002]
    await app.rentals.cancel_and_refund(mine.id, "test")
    await to_confirm(max_)
    await max_.press("Rent for")
    assert provider.rent_calls == 3
    # Over the cap, the member asks: an admin's approval is their decision.
    await ask(max_)
    await ann.press("Approve")
    assert provider.rent_calls == 4
    assert await app.ledger_repo.totals_mismatch() == []


async def test_the_limit_holds_for_taps_at_once(app, team, provider):
    ann, max_, _ = team
    await open_group(app, ann, members_can_rent=True, member_limit=200)
    screens = []
    for _ in range(3):
        await to_confirm(max_)
        screens.append(max_.screen())
    await asyncio.gather(*(max_.press("Rent for", screen) for screen in screens))
    assert provider.rent_calls == 1 and await balance(app) == 890


async def test_members_top_up_allowed_or_refused_by_the_setting(app, telegram, team, session):
    dp, bot = telegram
    ann, max_, _ = team
    await open_group(app, ann)
    await max_.send("/balance@rent_test_bot")
    assert "Your spending today: $0.00." in max_.screen().text
    await max_.press("Top up")
    assert "Stars" in max_.screen().text  # allowed by default
    await app.chats.set_team(GROUP, members_top_up=False)
    await max_.send("/balance@rent_test_bot")
    answer = await max_.press("Top up")
    assert "Only the group's admins top up" in answer.text
    await ann.send("/balance@rent_test_bot")
    await ann.press("Top up")
    assert "⭐" in " ".join(ann.buttons())
    # An invoice already in the chat: a member's payment is refused before Telegram takes it.
    stars = app.topups.amounts[0]
    payload = app.topups.invoice(GROUP, stars)
    for person, ok in ((max_, False), (ann, True)):
        query = PreCheckoutQuery(id=f"pcq-{person.user.id}", from_user=person.user, currency="XTR",
                                 total_amount=stars, invoice_payload=payload)
        await dp.feed_update(bot, Update(update_id=50_000 + person.user.id, pre_checkout_query=query))
        assert session.calls_of(AnswerPreCheckoutQuery)[-1].ok is ok


async def test_a_member_request_rent_uses_the_stored_offer_when_the_snapshot_is_gone(app, team, provider):
    ann, max_, _ = team
    await open_group(app, ann)
    await ask(max_)
    async with app.db.transaction() as conn:
        await conn.execute("DELETE FROM offer_snapshots")
    await ann.press("Approve")
    assert provider.rent_calls == 1 and await balance(app) == 890
    assert RentRequest  # the request carried its offer (RentRequest.offer), not the snapshot's id


async def test_members_within_bounds_rent_single_numbers_only(app, team, provider):
    ann, max_, _ = team
    await open_group(app, ann, members_can_rent=True, member_limit=1000)
    await to_confirm(max_)
    await max_.press("Rent for")
    card = max_.screen()
    [rental] = (await app.rentals.rentals.for_chat(GROUP))[0]
    answer = await max_.press_data(f"c:{rental.id}:renew:x", card)  # renewing would pass the limit unchecked
    assert "Members with a limit rent single numbers" in answer.text and provider.rent_calls == 1
    await max_.press_data(f"c:{rental.id}:cancel:ok", card)  # cancelling spends nothing: theirs to do
    assert (await app.rentals.rentals.get(rental.id)).status == "cancelled" and await balance(app) == 1000
