"""Running the business from the chat, through the production Dispatcher: transfers (into a group, to a member, to a
user by id; confirmed by the sender only, both sides in one transaction, never below zero, within limits), bans (no
renting, no top-ups, told why once, balances untouched), /paysupport and /terms with the Support button, the Support
button on an error that says to try later, and the operator's CSV exports. The conftest's app fixture checks the
ledger invariant after each test."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiogram.methods import AnswerPreCheckoutQuery, SendDocument, SendInvoice
from aiogram.types import Message, PreCheckoutQuery, Update

from playground.recording import Person
from providers import errors as perr
from storage import ledger
from tests.conftest import ADMIN_ID, credit

GROUP = -100555


@pytest.fixture
def people(telegram, session):
    dp, bot = telegram
    ann_private = Person(dp, bot, session, 2001, name="Ann")
    ann = Person(dp, bot, session, 2001, chat_id=GROUP, name="Ann")
    max_ = Person(dp, bot, session, 2002, chat_id=GROUP, name="Max")
    max_private = Person(dp, bot, session, 2002, name="Max")
    op = Person(dp, bot, session, ADMIN_ID, name="Op")
    session.admins.add((GROUP, 2001))
    return ann_private, ann, max_, max_private, op


async def balance(app, chat_id: int) -> int:
    return (await app.chats.get(chat_id)).balance


async def kinds(app, chat_id: int) -> list[tuple[str, int]]:
    return [(e.kind, e.amount) for e in await app.ledger_repo.recent(chat_id, limit=20)]


async def started(app, people) -> None:
    ann_private, ann, max_, max_private, _ = people
    for person in (ann_private, max_private, ann):
        await person.send("/start")
    await credit(app, 2001, 2000)


async def test_a_member_funds_the_group_from_their_own_balance_confirmed_by_them_only(app, people):
    ann_private, ann, max_, _, _ = people
    await started(app, people)
    await ann.send("/transfer 5")
    confirm = ann.screen()
    # The group sees the amount and where it goes, never the sender's own balance.
    assert "Move $5.00 from your own balance to Team?" in confirm.text and "$20.00" not in confirm.text
    answer = await max_.press("Move $5.00", confirm)  # someone else's money: not theirs to move
    assert "Not allowed" in answer.text and await balance(app, GROUP) == 0
    await ann.press("Move $5.00", confirm)
    assert "@ann moved $5.00 to Team." in ann.screen().text and "$15.00" not in ann.screen().text
    assert (await balance(app, 2001), await balance(app, GROUP)) == (1500, 500)
    assert (await kinds(app, GROUP))[0] == ("transfer", 500) and (await kinds(app, 2001))[0] == ("transfer", -500)
    await ann.press("Move $5.00", confirm)  # the same button again moves nothing more
    assert (await balance(app, 2001), await balance(app, GROUP)) == (1500, 500)
    await ann.send("/transfer 16")  # more than Ann has: said without saying how much she has
    assert ann.screen().text.startswith("Your own balance is short") and "$15.00" not in ann.screen().text
    # Both ledgers say where it went and whence it came.
    await ann_private.send("/balance")
    assert "transfer to Team" in ann_private.screen().text
    await ann.send("/balance")
    assert "transfer from @ann" in ann.screen().text


async def test_to_a_member_by_reply_and_to_a_user_by_id_who_is_told(app, people, session):
    from tests.test_money_news import tell  # the recipient's message is money news: sent by its own loop

    ann_private, ann, max_, max_private, _ = people
    await started(app, people)
    # A reply to Max's message: built by hand, since the recording session keeps the bot's messages only.
    said = Message(message_id=77, date=datetime.now(UTC), chat=max_.chat, from_user=max_.user, text="hello")
    await ann.send("/transfer 2.50", reply_to=said)
    await ann.press("Move $2.50")
    assert await balance(app, 2002) == 250
    assert await tell(app, ann.bot) == 1
    assert any("@ann sent you $2.50" in m.text for m in session.sent(2002))
    await ann_private.send("/transfer 1 2002")
    await ann_private.press("Move $1.00")
    assert (await balance(app, 2001), await balance(app, 2002)) == (2000 - 250 - 100, 350)


async def test_never_below_zero_within_limits_and_only_to_someone_who_started(app, people, settings):
    ann_private, ann, _, _, _ = people
    await started(app, people)
    await ann_private.send("/transfer 50 2002")
    assert "Not enough balance: $30.00 missing" in ann_private.screen().text
    await ann_private.send("/transfer 0.50 2002")
    assert "A transfer is from $1.00 to $100.00" in ann_private.screen().text
    await ann_private.send("/transfer 5 2001")
    assert "your own balance" in ann_private.screen().text
    await ann_private.send("/transfer 5 4242")
    assert "have not started the bot" in ann_private.screen().text
    await ann_private.send("/transfer five")
    assert "/transfer &lt;amount&gt;" in ann_private.screen().text or "/transfer <amount>" in ann_private.screen().text
    # Above the balance at the tap: the confirm screen was shown with enough, then the money went elsewhere.
    await ann_private.send("/transfer 15 2002")
    confirm = ann_private.screen()
    async with app.db.transaction() as conn:
        await ledger.post(conn, 2001, -1000, "adjustment", "test", note="spent elsewhere")
    answer = await ann_private.press("Move $15.00", confirm)
    assert "Not enough balance" in answer.text
    assert (await balance(app, 2001), await balance(app, 2002)) == (1000, 0)


async def test_the_daily_limit_counts_what_was_sent_today(app, people):
    ann_private, *_ = people
    await started(app, people)
    app.transfers.limits = type(app.transfers.limits)(low=100, high=1000, daily=1500)
    for amount in ("10", "5"):
        await ann_private.send(f"/transfer {amount} 2002")
        await ann_private.press("Move")
    await ann_private.send("/transfer 1 2002")
    assert "daily transfer limit of $15.00" in ann_private.screen().text
    assert await balance(app, 2002) == 1500


async def test_a_member_who_left_cannot_fund_the_group(app, people, session):
    _, ann, _, _, _ = people
    await started(app, people)
    await ann.send("/transfer 5")
    confirm = ann.screen()
    session.left.add((GROUP, 2001))
    answer = await ann.press("Move $5.00", confirm)
    assert "Only members" in answer.text and await balance(app, GROUP) == 0


async def test_a_banned_user_cannot_rent_or_top_up_is_told_why_once_and_keeps_the_balance(app, people, session):
    ann_private, _, _, _, op = people
    await started(app, people)
    await op.send("/ban 2001 chargebacks")
    assert "2001 is banned: “chargebacks”" in op.screen().text
    await ann_private.send("/rent telegram")
    await ann_private.press("Telegram")
    await ann_private.press("$1.10")  # the confirm screen: no spend yet
    answer = await ann_private.press("Rent for $1.10")
    assert "blocked by the operator: “chargebacks”" in answer.text
    answer = await ann_private.press("Rent for $1.10")
    assert answer.text == "This account is blocked by the operator."  # said why once
    await ann_private.send("/balance")
    answer = await ann_private.press("Top up")
    assert "blocked by the operator" in answer.text
    assert session.calls_of(SendInvoice) == []
    # An invoice sent before the ban: its pre-checkout is refused, so nothing is paid.
    query = PreCheckoutQuery(id="pc1", from_user=ann_private.user, currency="XTR", total_amount=50,
                             invoice_payload="stars:2001:50")
    await ann_private.dp.feed_update(ann_private.bot, Update(update_id=99001, pre_checkout_query=query))
    [answered] = [c for c in session.calls_of(AnswerPreCheckoutQuery) if c.pre_checkout_query_id == "pc1"]
    assert answered.ok is False and "blocked" in answered.error_message
    assert await balance(app, 2001) == 2000  # untouched
    await op.send("/unban 2001")
    assert "no longer banned" in op.screen().text
    await ann_private.send("/rent telegram")
    await ann_private.press("Telegram")
    await ann_private.press("$1.10")
    await ann_private.press("Rent for $1.10")
    assert await balance(app, 2001) == 2000 - 110


async def test_a_banned_group_cannot_rent_and_only_the_operator_bans(app, people):
    _, ann, max_, _, op = people
    await started(app, people)
    await max_.send(f"/ban {GROUP}")
    assert "Not allowed" in max_.screen().text
    await op.send(f"/ban {GROUP} resale")
    await credit(app, GROUP, 1000)
    await ann.send("/rent@rent_test_bot telegram")
    await ann.press("Telegram")
    await ann.press("$1.10")
    answer = await ann.press("Rent for $1.10")
    assert "“resale”" in answer.text
    await op.send("/ban nobody")
    assert "Usage: /ban" in op.screen().text


async def test_paysupport_and_terms_in_the_chats_language_with_the_support_button(app, people, settings, tmp_path):
    ann_private, *_ = people
    settings.support_contact = "@shop_support"
    await ann_private.send("/paysupport")
    screen = ann_private.screen()
    assert "Payment support" in screen.text and "@shop_support" in screen.text
    [[button], *_] = screen.reply_markup.inline_keyboard
    assert button.url == "https://t.me/shop_support"
    await ann_private.send("/terms")
    assert "Terms of use and refund policy" in ann_private.screen().text  # the shipped terms/en.html
    settings.terms_dir = str(tmp_path / "terms")
    (tmp_path / "terms").mkdir()
    (tmp_path / "terms" / "en.html").write_text("<b>Our terms</b> <unclosed", encoding="utf-8")
    await ann_private.send("/terms")
    assert "Our terms" in ann_private.screen().text
    (tmp_path / "terms" / "en.html").unlink()
    await ann_private.send("/terms")
    assert "has not published terms" in ann_private.screen().text
    await ann_private.send("/help")
    assert "💬 Support" in ann_private.buttons()


async def test_an_error_that_says_try_later_comes_with_the_support_button(app, people, provider, settings, session):
    ann_private, *_ = people
    settings.support_contact = "https://help.example/shop"
    await ann_private.send("/start")
    await credit(app, 2001, 2000)
    await ann_private.send("/rent telegram")
    await ann_private.press("Telegram")
    await ann_private.press("$1.10")
    confirm = ann_private.screen()
    provider.fail_rent = perr.AuthenticationError("key refused", provider=provider.name)
    answer = await ann_private.press("Rent for $1.10", confirm)
    assert "try again later" in answer.text
    note = session.sent(2001)[-1]
    assert "try again later" in note.text
    assert note.reply_markup.inline_keyboard[0][0].url == "https://help.example/shop"
    sent = len(session.sent(2001))
    await ann_private.press("Rent for $1.10", confirm)  # again soon: the alert, no second note
    assert len(session.sent(2001)) == sent


async def test_the_operator_exports_a_chats_ledger_and_revenue_by_day_as_csv(app, people, session):
    ann_private, ann, _, _, op = people
    await started(app, people)
    await ann.send("/transfer 5")
    await ann.press("Move $5.00")
    await ann_private.send("/rent telegram")
    await ann_private.press("Telegram")
    await ann_private.press("$1.10")
    await ann_private.press("Rent for $1.10")
    await op.send("/export 2001")
    [sent] = session.calls_of(SendDocument)
    assert sent.document.filename == "ledger-2001.csv" and "3 rows" in sent.caption
    rows = list(csv.DictReader(io.StringIO(sent.document.data.decode())))
    assert [(r["kind"], r["amount"], r["balance_after"]) for r in rows] == [
        ("adjustment", "20.00", "20.00"), ("transfer", "-5.00", "15.00"), ("charge", "-1.10", "13.90")]
    assert rows[1]["note"] == "transfer-out party=Team"
    await op.send("/revenue 7")
    revenue = session.calls_of(SendDocument)[-1]
    [day] = list(csv.DictReader(io.StringIO(revenue.document.data.decode())))
    assert (day["charged"], day["net_revenue"], day["rentals"], day["adjustments"]) == ("1.10", "1.10", "1", "20.00")
    assert Decimal(day["provider_cost"]) == Decimal("1.00")
    await op.send("/export 999")
    assert "Unknown chat 999" in op.screen().text
    await ann_private.send("/export 2001")
    assert "Not allowed" in ann_private.screen().text


async def test_a_member_funds_the_group_only_where_members_may_top_up(app, people, session):
    ann_private, ann, max_, max_private, _ = people
    await started(app, people)
    await credit(app, 2002, 1000)
    await app.chats.set_team(GROUP, members_top_up=False)
    await max_.send("/transfer 5")
    assert "Only the group's admins" in max_.screen().text and await balance(app, GROUP) == 0
    await ann.send("/transfer 5")  # an admin still funds it
    await ann.press("Move $5.00")
    assert await balance(app, GROUP) == 500
