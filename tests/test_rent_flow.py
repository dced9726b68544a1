"""Whole flows through the production Dispatcher, a recording Telegram session and a fake provider."""
from __future__ import annotations

import asyncio

from handlers import phones
from handlers.callbacks import CardCb
from playground.recording import Person
from providers import errors as perr
from tests.conftest import ADMIN_ID, credit, to_confirm


async def rent_telegram(alice: Person) -> None:
    await alice.send("/start")
    await alice.press("Rent a number")
    await alice.press("Telegram")
    await alice.press("$1.10")  # $1.00 + 10 % markup, cheapest first


async def test_start_to_number_in_four_taps_then_cancel_with_refund(app, alice, provider, session):
    await app.chats.ensure(alice.chat_id, "private", "Alice")
    await credit(app, alice.chat_id, 500)
    await rent_telegram(alice)
    confirm = alice.screen()
    assert "Confirm rental" in confirm.text and "$1.10" in confirm.text and "$3.90" in confirm.text
    await alice.press("Rent for $1.10")
    card = alice.screen()
    assert "<code>+1 555 000 0001</code>" in card.text  # international, grouped; copy buttons give the digits
    assert "Telegram" in card.text and "active" in card.text
    assert {"🔄 Refresh", "↩️ Cancel & refund", "✅ Finish", "📜 SMS history"} <= set(alice.buttons())
    assert "⏰ Wake up" not in alice.buttons()  # MemSMS has no wake-up capability
    assert (await app.chats.get(alice.chat_id)).balance == 390

    await alice.press("Cancel & refund")  # asked first: the number stops receiving codes, the money comes back
    assert "stops receiving codes" in alice.screen().text and (await app.chats.get(alice.chat_id)).balance == 390
    answer = await alice.press("Cancel it, $1.10 back")
    assert "returned" in answer.text
    assert (await app.chats.get(alice.chat_id)).balance == 500
    closed = alice.screen()
    assert "cancelled" in closed.text and "Refunded: $1.10 came back to the balance." in closed.text
    assert "Paid:" not in closed.text and not any("555" in b for b in alice.buttons(closed))  # nothing to copy
    # Pressing cancel again on the old card refunds nothing more.
    await alice.press_data(card.reply_markup.inline_keyboard[0][1].callback_data, card)
    assert (await app.chats.get(alice.chat_id)).balance == 500


async def test_every_callback_is_answered_and_navigation_edits_in_place(app, alice, session):
    await alice.send("/start")
    first = alice.screen()
    await alice.press("My numbers")
    assert "No numbers yet" in alice.screen().text
    await alice.press("Balance")
    await alice.press("Menu")
    await alice.press("Help")
    assert alice.screen().message_id == first.message_id  # one message, edited in place
    assert len(session.sent(alice.chat_id)) == 1


async def test_insufficient_balance_says_how_much_is_missing(app, alice, provider):
    await rent_telegram(alice)
    screen = alice.screen()
    assert "Not enough balance" in screen.text and "$1.10" in screen.text and "missing" in screen.text
    assert provider.rent_calls == 0
    assert await app.ledger_repo.recent(alice.chat_id) == []


async def test_provider_failure_after_charge_refunds_at_once(app, alice, provider):
    await app.chats.ensure(alice.chat_id, "private", "Alice")
    await credit(app, alice.chat_id, 200)
    await rent_telegram(alice)
    provider.fail_rent = perr.ProviderRejectedError("Service unavailable", provider="memsms", status=400)
    answer = await alice.press("Rent for")
    assert "Service unavailable" in answer.text and answer.show_alert
    assert (await app.chats.get(alice.chat_id)).balance == 200
    kinds = [e.kind for e in await app.ledger_repo.recent(alice.chat_id)]
    assert kinds == ["refund", "charge", "adjustment"]
    rentals, _ = await app.rentals.rentals.for_chat(alice.chat_id)
    assert rentals == []  # failed rentals are not listed


async def test_server_error_after_charge_refunds_and_says_provider_down(app, alice, provider):
    await app.chats.ensure(alice.chat_id, "private", "Alice")
    await credit(app, alice.chat_id, 200)
    await rent_telegram(alice)
    provider.fail_rent = perr.ServerError("boom", provider="memsms", status=500)
    answer = await alice.press("Rent for")
    assert "not answering" in answer.text
    assert (await app.chats.get(alice.chat_id)).balance == 200


async def test_double_tap_rents_once(app, alice, provider):
    await app.chats.ensure(alice.chat_id, "private", "Alice")
    await credit(app, alice.chat_id, 500)
    await rent_telegram(alice)
    confirm = alice.screen()
    data = alice.data_of("Rent for", confirm)
    await alice.press_data(data, confirm)
    second = await alice.press_data(data, confirm)  # the old Rent button again: what it did then
    [rental], _ = await app.rentals.rentals.for_chat(alice.chat_id)
    said = alice.screen().text
    assert "This Rent button was pressed before" in said and phones.display(rental.phone) in said
    assert "Nothing more was charged" in said and second.text is None
    assert alice.data_of("Number") == CardCb(id=rental.id).pack()  # one tap to its card
    assert provider.rent_calls == 1
    assert (await app.chats.get(alice.chat_id)).balance == 390


async def test_concurrent_taps_rent_exactly_what_the_balance_covers(app, alice, provider):
    await app.chats.ensure(alice.chat_id, "private", "Alice")
    await credit(app, alice.chat_id, 3 * 110 + 50)  # covers three $1.10 rentals
    provider.rent_delay = 0.01
    screens = []
    for _ in range(10):
        await rent_telegram(alice)
        screens.append(alice.screen())
    datas = [alice.data_of("Rent for", s) for s in screens]
    # Each confirm screen is the same edited message; press each rendering's button concurrently.
    await asyncio.gather(*(alice.press_data(d, screens[0]) for d in datas))
    rentals, total = await app.rentals.rentals.for_chat(alice.chat_id, limit=50)
    assert total == 3 and all(r.status == "active" for r in rentals)
    assert provider.rent_calls == 3
    assert (await app.chats.get(alice.chat_id)).balance == 50


async def test_outcome_unknown_stays_pending_then_reconciles(app, alice, provider):
    await app.chats.ensure(alice.chat_id, "private", "Alice")
    await credit(app, alice.chat_id, 500)
    await rent_telegram(alice)

    real_rent = provider.rent

    async def rent_then_lose_reply(offer, choice=None):
        await real_rent(offer, choice)  # the provider rents, but the reply is lost
        raise perr.OutcomeUnknownError("timed out", provider="memsms")

    provider.rent = rent_then_lose_reply
    await alice.press("Rent for")
    assert "did not confirm in time" in alice.screen().text
    [pending] = await app.rentals.rentals.with_status("pending")
    assert (await app.chats.get(alice.chat_id)).balance == 390
    await app.db.conn.execute("UPDATE rentals SET created_at = datetime('now', '-1 minute')")
    changed = await app.rentals.reconcile_pending()
    assert [r.status for r in changed] == ["active"] and changed[0].phone
    assert (await app.chats.get(alice.chat_id)).balance == 390


async def test_outcome_unknown_with_nothing_rented_is_refunded(app, alice, provider):
    await app.chats.ensure(alice.chat_id, "private", "Alice")
    await credit(app, alice.chat_id, 500)
    await rent_telegram(alice)
    provider.fail_rent = perr.OutcomeUnknownError("timed out", provider="memsms")
    await alice.press("Rent for")
    await app.db.conn.execute("UPDATE rentals SET created_at = datetime('now', '-10 minutes')")
    changed = await app.rentals.reconcile_pending()
    assert [r.status for r in changed] == ["failed"]
    assert (await app.chats.get(alice.chat_id)).balance == 500


async def test_forged_and_foreign_callbacks_change_nothing(app, telegram, session, alice, provider):
    dp, bot = telegram
    await app.chats.ensure(alice.chat_id, "private", "Alice")
    await credit(app, alice.chat_id, 500)
    await rent_telegram(alice)
    await alice.press("Rent for")
    [rental], _ = await app.rentals.rentals.for_chat(alice.chat_id)

    mallory = Person(dp, bot, session, 666, name="Mallory")
    await mallory.send("/start")
    for forged in (f"c:{rental.id}:cancel:", f"c:{rental.id}:show:", "c:notanumber:cancel:", "zz:1", "r:1:0:x",
                   f"o:{rental.id}:99"):
        answer = await mallory.press_data(forged)
        assert "out of date" in answer.text.lower() or "out of date" in (answer.text or "")
    assert (await app.rentals.rentals.get(rental.id)).status == "active"
    assert (await app.chats.get(alice.chat_id)).balance == 390


async def test_admin_credit_and_debit_others_not_allowed(app, telegram, session, alice):
    dp, bot = telegram
    await alice.send("/start")
    admin = Person(dp, bot, session, ADMIN_ID, name="Op")
    await admin.send(f"/credit {alice.chat_id} 12.50 welcome")
    assert "$12.50" in admin.screen().text and (await app.chats.get(alice.chat_id)).balance == 1250
    await admin.send(f"/debit {alice.chat_id} 2")
    assert (await app.chats.get(alice.chat_id)).balance == 1050
    await admin.send(f"/debit {alice.chat_id} 100")
    assert "Not enough balance" in admin.screen().text
    await admin.send("/credit nonsense")
    assert "Usage" in admin.screen().text
    await admin.send("/credit 5 -3")
    assert "Usage" in admin.screen().text
    await alice.send(f"/credit {alice.chat_id} 100")
    assert alice.screen().text == "Not allowed."
    assert (await app.chats.get(alice.chat_id)).balance == 1050


async def test_unknown_command_and_search_by_typing(app, alice):
    await alice.send("/frobnicate")
    assert "Unknown command" in alice.screen().text and alice.buttons() == ["« Menu"]  # no dead end
    await alice.send("whats")
    assert alice.buttons()[0] == "WhatsApp"
    await alice.send("/rent goo")
    assert alice.buttons()[0] == "Google"
    await alice.send("zzzz")
    assert "No service matches" in alice.screen().text


async def test_balance_screen_lists_recent_ledger(app, alice):
    await app.chats.ensure(alice.chat_id, "private", "Alice")
    await credit(app, alice.chat_id, 500)
    await alice.send("/balance")
    text = alice.screen().text
    assert "Balance: $5.00" in text and "+$5.00" in text


async def test_a_plan_sold_out_at_the_last_tap_returns_to_fresh_plans_with_it_marked(app, alice, provider):
    await to_confirm(alice, app, balance=5000)
    provider.fail_rent = perr.NothingAvailableError("no numbers", provider="memsms")
    await alice.press("Rent for")
    screen = alice.screen()
    assert "The 1 day plan sold out just now; the charge is back on the balance" in screen.text
    assert "pick a plan" in screen.text  # the plan list again, not the same confirm screen and Rent button
    [marked] = [b for b in alice.buttons() if b.startswith("⛔")]
    assert "1 day" in marked and not any(b.startswith("⛔") and "1 month" in b for b in alice.buttons())
    assert (await app.chats.get(alice.chat_id)).balance == 5000
    await alice.press("1 month")  # another plan still rents
    await alice.press("Rent for")
    assert "active" in alice.screen().text


async def test_a_single_page_of_services_shows_no_page_count(app, alice, provider):
    await alice.send("/start")
    await alice.press("Rent a number")
    assert alice.screen().text.startswith("<b>Pick a service</b>\nOr type") and "(1/1)" not in alice.screen().text
    await alice.send("tele")
    assert alice.screen().text == "<b>Services matching “tele”</b>"


async def test_my_numbers_says_each_numbers_state_in_words_and_the_time_left(app, alice, provider):
    """Each row says what a person needs to pick a number: its state in words (the button's mark), its services,
    the number and, while it lives, the time left; a single page has no "(1/1)"."""
    await app.chats.ensure(alice.chat_id, "private", "Alice")
    await credit(app, alice.chat_id, 500)
    for _ in range(2):
        await rent_telegram(alice)
        await alice.press("Rent for $1.10")
    await alice.press("Cancel & refund")
    await alice.press("Cancel it, $1.10 back")
    await alice.send("/numbers")
    text = alice.screen().text
    assert text.startswith("<b>My numbers</b>\n") and "(1/1)" not in text
    rows = text.splitlines()[1:]
    assert len(rows) == 2
    assert any(r.startswith("↩️ cancelled, refunded · <b>Telegram</b> · +1 555 000 000") for r in rows), rows
    live = next(r for r in rows if r.startswith("🟢 active"))
    assert "<b>Telegram</b> · +1 555 000 000" in live and live.endswith(" left"), live
