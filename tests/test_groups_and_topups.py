"""Groups sharing a balance and number pool; Telegram Stars top-ups; the operator panel."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError, TelegramServerError
from aiogram.methods import AnswerPreCheckoutQuery, RefundStarPayment, SendInvoice
from aiogram.types import (
    Chat,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberUpdated,
    Message,
    PreCheckoutQuery,
    SuccessfulPayment,
    Update,
)

from bot.background import Background
from bot.outbound.pace import Limits
from playground.recording import BOT_USER, Person, next_update_id
from tests.conftest import ADMIN_ID, credit

GROUP = -100777


@pytest.fixture
def team(telegram, session):
    dp, bot = telegram
    admin = Person(dp, bot, session, 2001, chat_id=GROUP, name="Ann")
    member = Person(dp, bot, session, 2002, chat_id=GROUP, name="Max")
    session.admins.add((GROUP, 2001))
    return admin, member


async def start_renting(person: Person) -> None:
    await person.send("/rent@rent_test_bot telegram")
    await person.press("Telegram")
    await person.press("$1.10")


async def test_group_member_refused_admin_rents_both_see_code(app, telegram, session, team, provider, settings):
    admin, member = team
    await admin.send("/start@rent_test_bot")
    assert "group" in admin.screen().text.lower()
    await credit(app, GROUP, 1000)
    alice_private = Person(*telegram, session, 2002, name="Max")  # the member's own private chat
    await alice_private.send("/start")
    assert (await app.chats.get(2002)).balance == 0  # separate from the group's balance

    await member.send("/rent@rent_test_bot telegram")  # told at the first step, not at the last tap
    assert "only the admins rent numbers" in member.screen().text
    assert member.buttons() == ["Telegram", "« Menu"]  # they may still pick one and ask the admins for it

    await start_renting(admin)
    answer = await member.press("Rent for", admin.screen())  # the admin's Rent button is there for all to tap
    assert "Only the group's admins" in answer.text
    assert provider.rent_calls == 0 and (await app.chats.get(GROUP)).balance == 1000
    await admin.press("Rent for")
    assert provider.rent_calls == 1 and (await app.chats.get(GROUP)).balance == 890
    card = admin.screen()
    assert "Rented by: @ann" in card.text

    # Every member lists the group's numbers and opens the card.
    await member.send("/numbers@rent_test_bot")
    await member.press("Telegram")
    assert "+1 555" in member.screen().text

    [rental] = (await app.rentals.rentals.for_chat(GROUP))[0]
    provider.inject_sms(rental.provider_rental_id, "Telegram code: 77441")
    background = Background(app, telegram[1], Limits.unlimited())
    await background.pollers[provider.name].tick()
    await background.deliverer.deliver_once()
    [pushed] = [m for m in session.sent(GROUP) if "77441" in m.text]
    assert "<code>77441</code>" in pushed.text.splitlines()[0] and "Rented by @ann" in pushed.text

    # Members may not cancel the group's rental either; settings are for admins.
    answer = await member.press_data(f"c:{rental.id}:cancel:x", card)
    assert "Only the group's admins can cancel" in answer.text


async def test_admin_opens_renting_to_members(app, session, team, provider):
    admin, member = team
    await admin.send("/settings@rent_test_bot")
    await credit(app, GROUP, 500)
    answer = await member.press("Let members rent", admin.screen())
    assert "Not allowed" in answer.text
    await admin.press("Let members rent")
    await admin.press("No limit")
    assert (await app.chats.get(GROUP)).members_can_rent
    await start_renting(member)
    await member.press("Rent for")
    assert provider.rent_calls == 1


async def test_bot_removed_and_back_keeps_pool_and_migration_keeps_everything(app, telegram, session, team, provider):
    dp, bot = telegram
    admin, _ = team
    await admin.send("/start@rent_test_bot")
    await credit(app, GROUP, 500)
    await start_renting(admin)
    await admin.press("Rent for")

    def membership(old, new) -> Update:
        chat = Chat(id=GROUP, type="supergroup", title="Team")
        return Update(update_id=next_update_id(), my_chat_member=ChatMemberUpdated(
            chat=chat, from_user=admin.user, date=datetime.now(UTC), old_chat_member=old, new_chat_member=new))

    await dp.feed_update(bot, membership(ChatMemberMember(user=BOT_USER), ChatMemberLeft(user=BOT_USER)))
    assert not (await app.chats.get(GROUP)).active
    await dp.feed_update(bot, membership(ChatMemberLeft(user=BOT_USER), ChatMemberMember(user=BOT_USER)))
    chat = await app.chats.get(GROUP)
    assert chat.active and chat.balance == 390
    assert "own balance" in session.last(GROUP).text
    assert (await app.rentals.rentals.for_chat(GROUP))[1] == 1

    new_id = -1009999
    migrate = Message(message_id=5, date=datetime.now(UTC), chat=Chat(id=GROUP, type="group", title="Team"),
                      from_user=admin.user, migrate_to_chat_id=new_id)
    await dp.feed_update(bot, Update(update_id=99999, message=migrate))
    assert await app.chats.get(GROUP) is None
    moved = await app.chats.get(new_id)
    assert moved.balance == 390 and moved.kind == "supergroup"
    assert (await app.rentals.rentals.for_chat(new_id))[1] == 1
    assert len(await app.ledger_repo.recent(new_id)) == 2


@pytest.mark.parametrize("service_message", ["migrate_to", "migrate_from"])
async def test_supergroup_migration_merges_when_the_new_id_spoke_first(app, telegram, session, team, provider,
                                                                       service_message):
    dp, bot = telegram
    admin, _ = team
    await admin.send("/start@rent_test_bot")
    await credit(app, GROUP, 500)
    await start_renting(admin)
    await admin.press("Rent for")
    [rental] = (await app.rentals.rentals.for_chat(GROUP))[0]
    new_id = -1009999
    # An update from the new supergroup reaches the bot before the service message that links the two ids.
    in_new = Person(dp, bot, session, admin.user.id, chat_id=new_id, name="Ann")
    await in_new.send("/start@rent_test_bot")
    assert (await app.chats.get(new_id)).balance == 0
    if service_message == "migrate_to":
        message = Message(message_id=5, date=datetime.now(UTC), chat=Chat(id=GROUP, type="group", title="Team"),
                          from_user=admin.user, migrate_to_chat_id=new_id)
    else:
        message = Message(message_id=6, date=datetime.now(UTC), chat=Chat(id=new_id, type="supergroup", title="T"),
                          from_user=admin.user, migrate_from_chat_id=GROUP)
    await dp.feed_update(bot, Update(update_id=99990, message=message))
    merged = await app.chats.get(new_id)
    assert merged.balance == 390 and merged.active
    assert (await app.chats.get(GROUP)).balance == 0 and not (await app.chats.get(GROUP)).active
    assert (await app.rentals.rentals.get(rental.id)).chat_id == new_id  # codes now go to the live chat
    # The other service message arriving too moves nothing twice.
    await app.chats.migrate(GROUP, new_id)
    assert (await app.chats.get(new_id)).balance == 390
    assert await app.ledger_repo.totals_mismatch() == []


async def pay(dp, bot, person: Person, payload: str, stars: int, charge_id: str, update_id: int) -> None:
    query = PreCheckoutQuery(id=f"pcq{update_id}", from_user=person.user, currency="XTR", total_amount=stars,
                             invoice_payload=payload)
    await dp.feed_update(bot, Update(update_id=update_id, pre_checkout_query=query))
    payment = SuccessfulPayment(currency="XTR", total_amount=stars, invoice_payload=payload,
                                telegram_payment_charge_id=charge_id, provider_payment_charge_id="")
    message = Message(message_id=update_id, date=datetime.now(UTC), chat=person.chat, from_user=person.user,
                      successful_payment=payment)
    await dp.feed_update(bot, Update(update_id=update_id + 1, message=message))


async def test_stars_topup_credits_once_per_charge(app, telegram, session, alice, settings):
    from tests.test_money_news import tell  # "Payment received" is money news: sent by its own loop

    dp, bot = telegram
    await alice.send("/start")
    await alice.press("Balance")
    await alice.press("Top up")
    await alice.press("100 ⭐")
    [invoice] = [c for c in session.calls if isinstance(c, SendInvoice)]
    assert invoice.currency == "XTR" and invoice.prices[0].amount == 100 and invoice.chat_id == alice.chat_id

    await pay(dp, bot, alice, invoice.payload, 100, "charge-1", 5000)
    [answer] = [c for c in session.calls if isinstance(c, AnswerPreCheckoutQuery)]
    assert answer.ok
    assert (await app.chats.get(alice.chat_id)).balance == 130  # 100 stars x 1.3 cents
    assert await tell(app, bot) == 1
    assert "Payment received" in alice.screen().text
    await alice.send("/balance")
    assert "+$1.30 · Stars top-up ⭐100" in alice.screen().text  # in words, not "100 XTR"
    await pay(dp, bot, alice, invoice.payload, 100, "charge-1", 5010)  # Telegram delivers the update again
    assert (await app.chats.get(alice.chat_id)).balance == 130
    assert await tell(app, bot) == 0  # and is not told again

    # A forged or changed amount is refused at pre-checkout.
    await pay(dp, bot, alice, invoice.payload.replace(":100", ":7"), 7, "charge-2", 5020)
    refused = [c for c in session.calls if isinstance(c, AnswerPreCheckoutQuery)][-1]
    assert refused.ok is False and refused.error_message


async def test_operator_refunds_stars_payment(app, telegram, session, alice):
    dp, bot = telegram
    await alice.send("/start")
    await pay(dp, bot, alice, app.topups.invoice(alice.chat_id, 250), 250, "charge-9", 6000)
    assert (await app.chats.get(alice.chat_id)).balance == 325
    admin = Person(dp, bot, session, ADMIN_ID, name="Op")
    await admin.send("/refund_stars charge-9")
    assert "refunded" in admin.screen().text
    assert (await app.chats.get(alice.chat_id)).balance == 0
    await admin.send("/refund_stars charge-9")
    assert "already refunded" in admin.screen().text
    await alice.send("/refund_stars charge-9")
    assert alice.screen().text == "Not allowed."


async def test_operator_panel(app, telegram, session, alice, provider):
    dp, bot = telegram
    admin = Person(dp, bot, session, ADMIN_ID, name="Op")
    await alice.send("/start")
    await credit(app, alice.chat_id, 500)
    provider.balance = Decimal("98.5")
    await admin.send("/admin")
    text = admin.screen().text
    assert "Operator panel" in text and "MemSMS: $98.50" in text and "Markup: 10" in text  # the balance's format
    # Every operator command, by area.
    for command in ("/credit", "/debit", "/ledger", "/refund_stars", "/promo", "/promo_off", "/markup", "/plans",
                    "/hide", "/unhide", "/bid", "/ban", "/unban", "/broadcast", "/reply", "/revenue", "/export",
                    "/backup"):
        assert command + " " in text or command + "\n" in text or text.endswith(command), command
    assert all(area in text for area in ("<b>Money</b>", "<b>Prices and plans</b>", "<b>People</b>", "<b>Reports</b>"))
    await admin.press("30 d")
    await admin.send("/markup 25")
    assert app.catalogue.markup_percent == 25
    await admin.send("/markup lots")
    assert "Usage" in admin.screen().text
    await admin.send(f"/ledger {alice.chat_id}")
    assert "+$5.00" in admin.screen().text
    await alice.send("/admin")
    assert alice.screen().text == "Not allowed."


@pytest.fixture
async def paid(app, telegram, session, alice):
    """Alice paid 250 stars (charge-9); the operator is at hand."""
    dp, bot = telegram
    await alice.send("/start")
    await pay(dp, bot, alice, app.topups.invoice(alice.chat_id, 250), 250, "charge-9", 6000)
    assert (await app.chats.get(alice.chat_id)).balance == 325
    return Person(dp, bot, session, ADMIN_ID, name="Op")


def _refund_error(kind: str) -> Exception:
    method = RefundStarPayment(user_id=1001, telegram_payment_charge_id="charge-9")
    if kind == "network":
        return TelegramNetworkError(method=method, message="Request timeout error")
    return TelegramServerError(method=method, message="Internal Server Error")


@pytest.mark.parametrize("kind", ["network", "server"])
async def test_stars_refund_without_an_answer_stays_pending_and_the_operator_retry_asks_again(
        app, session, alice, paid, kind):
    session.fail_next(RefundStarPayment, _refund_error(kind))
    await paid.send("/refund_stars charge-9")
    assert "did not answer" in paid.screen().text
    assert (await app.chats.get(alice.chat_id)).balance == 0  # debited while the refund is open
    [entry, *_] = await app.ledger_repo.recent(alice.chat_id)
    assert "requested" in entry.note and "refunded" not in entry.note.lower()
    assert (await app.topups.refunds.get("charge-9")).state == "pending"

    await paid.send("/refund_stars charge-9")  # the retry really calls Telegram again
    assert len(session.calls_of(RefundStarPayment)) == 2
    assert "refunded" in paid.screen().text
    assert (await app.topups.refunds.get("charge-9")).state == "done"
    assert (await app.chats.get(alice.chat_id)).balance == 0  # debited once, not twice
    await paid.send("/refund_stars charge-9")
    assert "already refunded" in paid.screen().text
    assert len(session.calls_of(RefundStarPayment)) == 2


async def test_stars_refund_answered_already_refunded_after_a_lost_reply_counts_as_done(app, session, alice, paid):
    session.fail_next(RefundStarPayment, _refund_error("network"))
    await paid.send("/refund_stars charge-9")
    session.fail_next(RefundStarPayment, TelegramBadRequest(
        method=RefundStarPayment(user_id=1001, telegram_payment_charge_id="charge-9"),
        message="Bad Request: CHARGE_ALREADY_REFUNDED"))
    await paid.send("/refund_stars charge-9")
    assert "refunded" in paid.screen().text and "refused" not in paid.screen().text
    assert (await app.topups.refunds.get("charge-9")).state == "done"
    assert (await app.chats.get(alice.chat_id)).balance == 0


async def test_stars_refund_refused_by_telegram_gives_the_balance_back_and_can_be_asked_again(
        app, session, alice, paid):
    session.fail_next(RefundStarPayment, TelegramBadRequest(
        method=RefundStarPayment(user_id=1001, telegram_payment_charge_id="charge-9"),
        message="Bad Request: REFUND_PERIOD_EXPIRED"))
    await paid.send("/refund_stars charge-9")
    assert "Refund refused" in paid.screen().text and "REFUND_PERIOD_EXPIRED" in paid.screen().text
    assert (await app.chats.get(alice.chat_id)).balance == 325
    await paid.send("/refund_stars charge-9")  # a new round: debited again, and this time Telegram refunds
    assert "refunded" in paid.screen().text
    assert (await app.chats.get(alice.chat_id)).balance == 0


async def test_stars_refund_job_asks_again_until_telegram_answers(app, telegram, session, alice, paid):
    from bot.stars import retry_pending

    dp, bot = telegram
    session.fail_next(RefundStarPayment, _refund_error("network"))
    await paid.send("/refund_stars charge-9")
    session.fail_next(RefundStarPayment, _refund_error("server"))
    assert await retry_pending(bot, app.topups.refunds) == 0  # still no answer: still pending
    assert (await app.topups.refunds.get("charge-9")).attempts == 2
    assert await retry_pending(bot, app.topups.refunds) == 1
    assert (await app.topups.refunds.get("charge-9")).state == "done"
    assert (await app.chats.get(alice.chat_id)).balance == 0


async def test_open_group_refuses_a_presser_who_is_not_a_member(app, session, team, provider):
    admin, member = team
    await admin.send("/start@rent_test_bot")
    await credit(app, GROUP, 500)
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE chats SET members_can_rent = 1 WHERE id = ?", (GROUP,))
    await start_renting(member)
    session.left.add((GROUP, member.user.id))  # left the group (or a viewer of a public one) with the screen open
    answer = await member.press("Rent for")
    assert "Only members of this group" in answer.text
    assert provider.rent_calls == 0 and (await app.chats.get(GROUP)).balance == 500


async def test_a_demoted_admin_cannot_spend_a_moment_later(app, session, team, provider):
    admin, _ = team
    await admin.send("/start@rent_test_bot")
    await credit(app, GROUP, 500)
    await start_renting(admin)
    await admin.press("Rent for")
    assert provider.rent_calls == 1
    session.admins.discard((GROUP, admin.user.id))  # demoted; no 120 s of cached admin rights
    await start_renting(admin)
    answer = await admin.press("Rent for")
    assert "Only the group's admins" in answer.text
    assert provider.rent_calls == 1


def test_the_membership_cache_is_bounded():
    from handlers.permissions import AdminCache

    cache = AdminCache(max_entries=3)
    for user in range(10):
        cache.remember(GROUP, user, None)
    assert len(cache) == 3
