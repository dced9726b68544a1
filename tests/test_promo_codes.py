"""Promo codes through the production Dispatcher: the operator makes, lists and turns off codes (/promo, /promo_off);
a chat redeems a code once (/redeem, or the balance screen's button and the code typed), a user once in all;
wrong, withdrawn, expired, used-up and already-redeemed codes each say which; concurrent redeems never take more
uses than the code has. The ledger invariant holds after each test."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.services.promos import parse_expiry
from handlers.i18n import Texts
from handlers.views import ledger_line
from playground.recording import Person
from storage.models import db_time
from tests.conftest import ADMIN_ID

GROUP = -100900


@pytest.fixture
def op(telegram, session) -> Person:
    dp, bot = telegram
    return Person(dp, bot, session, ADMIN_ID, name="Op")


def person(telegram, session, user_id: int, name: str = "Alice", *, chat_id: int | None = None,
           language: str = "en") -> Person:
    dp, bot = telegram
    return Person(dp, bot, session, user_id, chat_id=chat_id, name=name, language=language)


async def balance(app, chat_id: int) -> int:
    return (await app.chats.get(chat_id)).balance


async def test_the_operator_makes_lists_and_turns_off_codes(app, op, alice):
    await op.send("/promo SPRING 5 100 30")
    made = op.screen().text
    assert "Promo code made" in made and "<code>SPRING</code> · $5.00 · used 0/100" in made and "active" in made
    assert "/redeem SPRING" in made
    last_day = (datetime.now(UTC) + timedelta(days=400)).date()
    await op.send(f"/promo new-user 2.50 3 {last_day.isoformat()}")
    assert "<code>NEW-USER</code> · $2.50 · used 0/3 · until " in op.screen().text
    promo = await app.promos.repo.get("NEW-USER")
    # valid through that day, UTC
    assert promo.expires_at == datetime.combine(last_day + timedelta(days=1), datetime.min.time(), UTC)
    await op.send("/promo forever 1 1")
    assert "until no end" in op.screen().text

    await op.send("/promo")
    listed = op.screen().text
    assert "<b>Promo codes</b>" in listed
    assert all(f"<code>{c}</code>" in listed for c in ("SPRING", "NEW-USER", "FOREVER"))

    for wrong in ("/promo SPRING", "/promo X 5 10", "/promo CODE five 10", "/promo CODE 5 0", "/promo CODE 0 5",
                  "/promo CODE 5 10 2001-01-01", "/promo CODE 5 10 tomorrow", "/promo CODE 5 10 30 extra",
                  "/promo_off"):
        await op.send(wrong)
        assert "Wrong arguments. Usage: /promo" in op.screen().text, wrong
    await op.send("/promo spring 9 9")
    assert "<code>SPRING</code> exists already" in op.screen().text
    assert (await app.promos.repo.get("SPRING")).amount == 500  # kept as it was

    await op.send("/promo_off spring")
    assert "<code>SPRING</code> turned off" in op.screen().text
    await op.send("/promo_off NOPE")
    assert "There is no promo code <code>NOPE</code>" in op.screen().text
    await op.send("/promo")
    assert "<code>SPRING</code> · $5.00 · used 0/100" in op.screen().text and "turned off" in op.screen().text

    await alice.send("/promo FREE 100 100")  # not an operator
    assert "not allowed" in alice.screen().text.lower() and await app.promos.repo.get("FREE") is None
    await alice.send("/promo_off NEW-USER")
    assert not (await app.promos.repo.get("NEW-USER")).disabled


async def test_a_chat_redeems_a_code_once_as_a_ledger_row_of_its_own(app, op, alice):
    await op.send("/promo WELCOME 5 10")
    await alice.send("/start")
    await alice.send("/redeem welcome")
    assert alice.screen().text == "✅ Promo code <code>WELCOME</code> redeemed: $5.00 added. Balance: $5.00."
    await alice.send("/redeem WELCOME")
    assert "already redeemed in this chat" in alice.screen().text
    assert await balance(app, alice.chat_id) == 500
    [entry] = await app.ledger_repo.recent(alice.chat_id)
    assert entry.kind == "promo" and entry.amount == 500
    row = await app.db.fetchone("SELECT idempotency_key, actor_id FROM ledger WHERE id = ?", (entry.id,))
    assert (row["idempotency_key"], row["actor_id"]) == (f"promo:WELCOME:{alice.chat_id}", alice.user.id)
    assert ledger_line(Texts("en"), entry).endswith("+$5.00 · promo code «WELCOME»")
    assert ledger_line(Texts("ru"), entry).endswith("+$5.00 · промокод «WELCOME»")
    assert (await app.promos.repo.get("WELCOME")).uses == 1
    await op.send(f"/ledger {alice.chat_id}")
    assert "promo code «WELCOME»" in op.screen().text


async def test_wrong_withdrawn_expired_and_used_up_codes_each_say_which(app, op, telegram, session):
    await op.send("/promo ONCE 1 1")
    await op.send("/promo OLD 1 10 5")
    await op.send("/promo GONE 1 10")
    await op.send("/promo_off GONE")
    async with app.db.transaction() as conn:  # five days later
        await conn.execute("UPDATE promo_codes SET expires_at = ? WHERE code = 'OLD'",
                           (db_time(datetime.now(UTC) - timedelta(seconds=1)),))
    alice, bob = person(telegram, session, 1001, "Alice"), person(telegram, session, 1002, "Bob")
    await alice.send("/redeem ONCE")
    assert "redeemed: $1.00 added" in alice.screen().text
    told = {}
    for code in ("NOSUCH", "ONCE", "OLD", "GONE", "x" * 200):
        await bob.send(f"/redeem {code}")
        told[code] = bob.screen().text
    assert told["NOSUCH"] == "There is no promo code <code>NOSUCH</code>. Check it and try again."
    assert told["ONCE"] == "The promo code <code>ONCE</code> is used up: all its uses are taken."
    assert told["OLD"] == "The promo code <code>OLD</code> has expired."
    assert told["GONE"] == "The promo code <code>GONE</code> was withdrawn."
    assert told["x" * 200].startswith("There is no promo code <code>" + "X" * 32 + "</code>")
    assert await balance(app, 1002) == 0 and await app.ledger_repo.recent(1002) == []

    # Each in Russian too.
    ann = person(telegram, session, 1003, "Ann", language="ru")
    for code, words in (("NOSUCH", "нет"), ("ONCE", "исчерпан"), ("OLD", "истёк"), ("GONE", "отозван")):
        await ann.send(f"/redeem {code}")
        assert words in ann.screen().text, code


async def test_the_balance_screen_button_asks_for_the_code(app, op, alice):
    await op.send("/promo BUTTON 3 5")
    await alice.send("/start")
    await alice.press("Balance")
    await alice.press("🎟 Promo code")
    assert "Send the promo code as a message" in alice.screen().text
    await alice.send("button")
    assert "Promo code <code>BUTTON</code> redeemed: $3.00 added" in alice.screen().text
    await alice.send("telegram")  # the question was answered: typing is a service search again
    assert "redeem" not in alice.screen().text.lower()
    await alice.send("/redeem")  # the command without a code asks the same
    assert "Send the promo code as a message" in alice.screen().text
    await alice.send("BUTTON")
    assert "already redeemed in this chat" in alice.screen().text
    assert await balance(app, alice.chat_id) == 300


async def test_in_a_group_those_who_may_spend_redeem_once_per_group_and_a_user_once_in_all(app, op, telegram,
                                                                                         session):
    await op.send("/promo TEAM 4 10")
    admin = person(telegram, session, 2001, "Ann", chat_id=GROUP)
    member = person(telegram, session, 2002, "Max", chat_id=GROUP)
    session.admins.add((GROUP, 2001))
    await admin.send("/start")
    await member.send("/redeem TEAM")
    assert "Only the group's admins" in member.screen().text
    await admin.send("/redeem TEAM")
    assert "redeemed: $4.00 added. Balance: $4.00" in admin.screen().text
    assert await balance(app, GROUP) == 400

    # The group's button: the code is typed as a reply to the bot.
    await op.send("/promo SECOND 1 10")
    await admin.send("/balance")
    await admin.press("🎟 Promo code")
    asked = session.last(GROUP)
    assert "reply to this message with the promo code" in asked.text
    await admin.send("SECOND")  # not a reply: chatter, not an answer
    assert await balance(app, GROUP) == 400
    await admin.send("SECOND", reply_to=asked)
    assert await balance(app, GROUP) == 500

    # Ann redeemed TEAM in the group: not again in her private chat (a user once, wherever).
    ann_private = person(telegram, session, 2001, "Ann")
    await ann_private.send("/redeem TEAM")
    assert "You have already redeemed the promo code <code>TEAM</code>" in ann_private.screen().text
    assert await balance(app, 2001) == 0


async def test_concurrent_redeems_never_take_more_uses_than_the_code_has(app, op, telegram, session):
    await op.send("/promo RUSH 2 3")
    people = [person(telegram, session, 3000 + i, "Max") for i in range(12)]
    for p in people:
        await p.send("/start")
    await asyncio.gather(*(p.send("/redeem RUSH") for p in people))
    told = [p.screen().text for p in people]
    assert sum("redeemed: $2.00 added" in text for text in told) == 3
    assert sum("is used up" in text for text in told) == 9
    assert (await app.promos.repo.get("RUSH")).uses == 3
    total = await app.db.fetchone("SELECT COUNT(*), SUM(amount) FROM ledger WHERE kind = 'promo'")
    assert tuple(total) == (3, 600)

    # The same chat at once, many times: credited once.
    await op.send("/promo TWICE 1 100")
    alice = people[0]
    await asyncio.gather(*(app.promos.redeem(alice.chat_id, alice.user.id, "TWICE") for _ in range(5)),
                         return_exceptions=True)
    assert (await app.promos.repo.get("TWICE")).uses == 1
    rows = await app.db.fetchall("SELECT amount FROM ledger WHERE reference = ?", (f"promo:TWICE:{alice.chat_id}",))
    assert [r[0] for r in rows] == [100]


def test_expiry_is_days_from_now_or_through_a_date():
    now = datetime(2030, 6, 1, 12, tzinfo=UTC)
    assert parse_expiry("7", now) == now + timedelta(days=7)
    assert parse_expiry("2030-06-01", now) == datetime(2030, 6, 2, tzinfo=UTC)  # today: until midnight UTC
    for wrong in ("0", "99999", "2030-05-31", "2030-13-01", "30d", "٣"):
        with pytest.raises(ValueError):
            parse_expiry(wrong, now)
