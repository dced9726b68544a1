"""Codes that hide themselves in groups (issue 18): under a spoiler, deleted N minutes after delivery (only
messages Telegram accepted, once), the card's "code received at ..., hidden", and the codes sent privately to the
member who rented the number or an admin on request."""
from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import DeleteMessage, SendMessage

from bot.background import Background
from bot.outbound.pace import Limits
from bot.services.cooldowns import Cooldowns
from playground.recording import Person
from storage.models import db_time, utcnow
from tests.conftest import credit

GROUP = -100888


@pytest.fixture
def team(telegram, session):
    dp, bot = telegram
    ann = Person(dp, bot, session, 2001, chat_id=GROUP, name="Ann")  # an admin
    max_ = Person(dp, bot, session, 2002, chat_id=GROUP, name="Max")  # rents the number
    zoe = Person(dp, bot, session, 2003, chat_id=GROUP, name="Zoe")  # another member
    session.admins.add((GROUP, 2001))
    return ann, max_, zoe


async def setup_group(app, team, *, spoiler: bool = True, delete: bool = True):
    """Members rent; the admin turns the spoiler on and deletion after 5 minutes; Max rents a number."""
    ann, max_, _ = team
    await ann.send("/start@rent_test_bot")
    await credit(app, GROUP, 1000)
    await ann.send("/settings@rent_test_bot")
    await ann.press("Let members rent")
    await ann.press("No limit")
    if spoiler:
        await ann.press("Spoiler: off")
        assert "under a spoiler" in ann.screen().text
    if delete:
        await ann.press("Delete codes: never")
        assert "deleted 5 min after delivery" in ann.screen().text
    chat = await app.chats.get(GROUP)
    assert chat.code_spoiler is spoiler and chat.code_delete_minutes == (5 if delete else 0)
    await max_.send("/rent@rent_test_bot telegram")
    await max_.press("Telegram")
    await max_.press("$1.10")
    await max_.press("Rent for")
    [rental] = (await app.rentals.rentals.for_chat(GROUP))[0]
    assert rental.user_id == 2002
    return rental


async def push(app, background, provider, rental, body: str) -> None:
    provider.inject_sms(rental.provider_rental_id, body)
    await background.pollers[provider.name].tick()
    await background.deliverer.deliver_once()


async def age_deliveries(app, minutes: int = 10) -> None:
    """Every delivered SMS as if delivered ``minutes`` ago."""
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE sms SET delivered_at = ? WHERE delivered_at IS NOT NULL",
                           (db_time(utcnow() - timedelta(minutes=minutes)),))


async def open_card(person: Person) -> str:
    await person.send("/numbers@rent_test_bot")
    await person.press("Telegram")
    return person.screen().text


async def test_a_members_setting_is_for_admins_only(app, team):
    ann, max_, _ = team
    await ann.send("/settings@rent_test_bot")
    answer = await max_.press("Spoiler: off", ann.screen())
    assert "Not allowed" in answer.text and not (await app.chats.get(GROUP)).code_spoiler
    await ann.press("Delete codes: never")
    for minutes in (15, 60, 240, 1440, 0):  # each tap: the next delay, then back to never
        await ann.press("🗑")
        assert (await app.chats.get(GROUP)).code_delete_minutes == minutes


async def test_spoiler_on_the_code_is_pushed_under_a_spoiler(app, telegram, session, team, provider):
    rental = await setup_group(app, team, delete=False)
    background = Background(app, telegram[1])
    await push(app, background, provider, rental, "Telegram code: 77441. Do not share it.")
    [pushed] = [m for m in session.sent(GROUP) if "77441" in m.text]
    first = pushed.text.splitlines()[0]
    assert "<tg-spoiler><code>77441</code></tg-spoiler>" in first
    assert "<blockquote><tg-spoiler>Telegram code: 77441. Do not share it.</tg-spoiler></blockquote>" in pushed.text
    copy = pushed.reply_markup.inline_keyboard[0][0]
    # The copy button still copies the code (a tap is an explicit reveal) but no label shows it.
    assert copy.copy_text.text == "77441" and copy.text == "📋 Code"
    assert not any("77441" in b.text for row in pushed.reply_markup.inline_keyboard for b in row)
    card = await open_card(team[2])
    assert "<tg-spoiler><code>77441</code></tg-spoiler>" in card
    # Spoiler off: as before.
    await team[0].send("/settings@rent_test_bot")
    await team[0].press("Spoiler: on")
    await push(app, background, provider, rental, "Telegram code: 55120")
    [plain] = [m for m in session.sent(GROUP) if "55120" in m.text]
    assert "<code>55120</code>" in plain.text and "tg-spoiler" not in plain.text


async def test_auto_delete_deletes_only_delivered_messages_once(app, telegram, session, team, provider):
    rental = await setup_group(app, team)
    background = Background(app, telegram[1])
    await push(app, background, provider, rental, "Telegram code: 11111")  # delivered; its deletion refused
    await push(app, background, provider, rental, "Telegram code: 22222")  # delivered
    # Telegram refuses the third for now (no rights): it stays in the outbox, backed off, with no message id.
    session.fail_next(SendMessage, TelegramBadRequest(method=SendMessage(chat_id=GROUP, text="x"),
                                                      message="Bad Request: not enough rights to send text messages"))
    await push(app, background, provider, rental, "Telegram code: 33333")
    assert len(await app.sms_repo.outbox(limit=10)) == 0  # backed off: waits for its retry time
    rows = {r["code"]: r for r in await app.db.fetchall("SELECT * FROM sms")}
    assert rows["33333"]["delivered_at"] is None and rows["33333"]["telegram_message_id"] is None
    first_id, second_id = rows["11111"]["telegram_message_id"], rows["22222"]["telegram_message_id"]

    assert await background.hider.run_once() == 0  # nothing is due before 5 minutes
    assert session.calls_of(DeleteMessage) == []
    await age_deliveries(app)
    session.fail_next(DeleteMessage, TelegramBadRequest(method=DeleteMessage(chat_id=GROUP, message_id=1),
                                                        message="Bad Request: message can't be deleted"))
    await background.hider.run_once()
    deleted = [(c.chat_id, c.message_id) for c in session.calls_of(DeleteMessage)]
    assert sorted(deleted) == sorted([(GROUP, first_id), (GROUP, second_id)])
    for _ in range(3):  # once: a deleted message and a refused one are never asked again
        assert await background.hider.run_once() == 0
    assert len(session.calls_of(DeleteMessage)) == 2
    rows = {r["code"]: r for r in await app.db.fetchall("SELECT * FROM sms")}
    assert {code: rows[code]["hide_result"] for code in rows} == {
        "11111": "refused: Bad Request: message can't be deleted", "22222": "deleted", "33333": None}

    # The refused-for-now code: never deleted, shown on the card (under the spoiler) until it goes out.
    card = await open_card(team[2])
    assert "code received at" in card and card.count(", hidden") == 2
    assert "11111" not in card and "22222" not in card
    assert "<tg-spoiler><code>33333</code></tg-spoiler>" in card
    assert "🔒 Hidden codes privately" in team[2].buttons()
    # Once it goes out it is deleted in its turn, 5 minutes later.
    await app.sms_repo.retry_chat_now(GROUP)
    await background.deliverer.deliver_once()
    third = (await app.db.fetchone("SELECT telegram_message_id FROM sms WHERE code = '33333'"))[0]
    assert third is not None
    assert await background.hider.run_once() == 0
    await age_deliveries(app)
    assert await background.hider.run_once() == 1
    assert session.calls_of(DeleteMessage)[-1].message_id == third


async def test_a_never_delivered_code_is_never_deleted(app, telegram, session, team, provider):
    rental = await setup_group(app, team)
    background = Background(app, telegram[1])
    provider.inject_sms(rental.provider_rental_id, "Telegram code: 44444")
    await background.pollers[provider.name].tick()  # stored, not delivered yet (the outbox)
    await app.sms_repo.mark_sending((await app.sms_repo.outbox())[0].id)  # a kill mid-send: sending, no id
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE sms SET stored_at = ?", (db_time(utcnow() - timedelta(hours=1)),))
    assert await background.hider.run_once() == 0
    assert session.calls_of(DeleteMessage) == []
    assert "44444" in await open_card(team[2])


async def hidden_card(app, telegram, team, provider, text: str):
    """A group's number whose one code was pushed and then deleted from the group: its card as Zoe sees it."""
    rental = await setup_group(app, team)
    background = Background(app, telegram[1])
    await push(app, background, provider, rental, text)
    await age_deliveries(app)
    assert await background.hider.run_once() == 1
    await open_card(team[2])
    return team[2].screen()


async def test_hidden_codes_privately_to_the_renter_and_admins_only(app, telegram, session, team, provider):
    ann, max_, zoe = team
    dp, bot = telegram
    card = await hidden_card(app, telegram, team, provider, "Telegram code: 90210")
    assert "90210" not in card.text and ", hidden" in card.text

    answer = await zoe.press("Hidden codes privately", card)
    assert "Only the member who rented this number and the group's admins" in answer.text
    assert session.sent(2003) == []

    answer = await max_.press("Hidden codes privately", card)
    assert answer.text == "Sent to you in a private message."
    [private] = session.sent(2002)
    assert "<code>90210</code>" in private.text and "Hidden codes" in private.text and "Team" in private.text

    answer = await ann.press("Hidden codes privately", card)
    assert answer.text == "Sent to you in a private message."
    assert "<code>90210</code>" in session.sent(2001)[0].text

    session.admins.discard((GROUP, 2001))  # demoted: asked of Telegram at the tap
    answer = await ann.press("Hidden codes privately", card)
    assert "Only the member who rented" in answer.text and len(session.sent(2001)) == 1

    session.blocked.add(2002)  # the renter never started the bot (or blocked it): Telegram refuses
    answer = await max_.press("Hidden codes privately", card)
    assert "Start the bot first" in answer.text and "@rent_test_bot" in answer.text and answer.show_alert
    rental = (await app.rentals.rentals.for_chat(GROUP))[0][0]
    assert answer.url == f"https://t.me/rent_test_bot?start=codes-{rental.id}"  # Telegram opens the bot
    session.blocked.discard(2002)  # Max presses Start in the chat the link opened: the codes come at once
    await Person(dp, bot, session, 2002, name="Max").send(f"/start codes-{rental.id}")
    assert "<code>90210</code>" in session.sent(2002)[-1].text
    # The payload is Zoe's to forge: the same rule as the tap, no code for her.
    await Person(dp, bot, session, 2003, name="Zoe").send(f"/start codes-{rental.id}")
    assert "Only the member who rented" in session.sent(2003)[-1].text
    await Person(dp, bot, session, 2003, name="Zoe").send("/start codes-999999")
    assert "90210" not in session.sent(2003)[-1].text

    # The SMS history in the group keeps the code hidden too.
    await zoe.press("SMS history", card)
    history = zoe.screen().text
    assert "SMS history" in history and "90210" not in history and "code received, hidden" in history


async def test_hidden_codes_privately_are_paced_per_person(app, telegram, session, team, provider):
    """Each tap is a private message: one person's taps wait between them; another person's do not."""
    ann, max_, zoe = team
    app.rentals.cooldowns = Cooldowns(10.0)  # the tests' settings turn the base cooldown off
    card = await hidden_card(app, telegram, team, provider, "Telegram code: 31337")
    assert (await max_.press("Hidden codes privately", card)).text == "Sent to you in a private message."
    again = await max_.press("Hidden codes privately", card)
    assert "Sent to you a moment ago. Try again in" in again.text
    assert len(session.sent(2002)) == 1
    assert (await ann.press("Hidden codes privately", card)).text == "Sent to you in a private message."
    assert len(session.sent(2001)) == 1


async def test_a_code_arriving_while_deletions_run_is_sent_first(app, telegram, session, team, provider):
    rental = await setup_group(app, team)
    # Real pacing, with a short per-chat interval: deletions count against none of Telegram's limits, and a code
    # stored while they run is not held back by them.
    background = Background(app, telegram[1], Limits(chat_rate=5.0, chat_burst=1))
    for n in range(5):
        await push(app, background, provider, rental, f"Telegram code: 6000{n}")
    await age_deliveries(app)
    hiding = asyncio.create_task(background.hider.run_once())
    while not session.calls_of(DeleteMessage):
        await asyncio.sleep(0.005)
    started = time.monotonic()
    await push(app, background, provider, rental, "Telegram code: 70707")
    waited = time.monotonic() - started
    assert await hiding == 5
    assert len([c for c in session.calls if isinstance(c, SendMessage) and "70707" in c.text]) == 1
    assert waited < 0.6  # at most the group's own interval after the codes before it
    # The new code is not due yet: it stays.
    assert (await app.db.fetchone("SELECT hidden_at FROM sms WHERE code = '70707'"))[0] is None


async def test_the_card_shown_in_the_group_is_refreshed_when_its_code_is_deleted(app, telegram, session, team,
                                                                                 provider):
    rental = await setup_group(app, team)
    background = Background(app, telegram[1])
    await push(app, background, provider, rental, "Telegram code: 12321")
    zoe = team[2]
    assert "<tg-spoiler><code>12321</code></tg-spoiler>" in await open_card(zoe)
    card = zoe.screen()
    await age_deliveries(app)
    assert await background.hider.run_once() == 1
    refreshed = session.messages[GROUP][card.message_id]
    assert "12321" not in refreshed.text and "code received at" in refreshed.text
    assert "🔒 Hidden codes privately" in zoe.buttons(refreshed)


async def test_a_pass_stops_at_its_time_budget_and_the_next_one_carries_on(app, telegram, session, team, provider):
    rental = await setup_group(app, team)
    background = Background(app, telegram[1])
    await push(app, background, provider, rental, "Telegram code: 80808")
    await age_deliveries(app)
    assert await background.hider.run_once(budget=-1) == 0 and session.calls_of(DeleteMessage) == []
    assert await background.hider.run_once() == 1


async def test_the_code_settings_survive_a_supergroup_migration(app, team):
    ann, _, _ = team
    await ann.send("/settings@rent_test_bot")
    await ann.press("Spoiler: off")
    await ann.press("Delete codes: never")
    await app.chats.ensure(-100999, "supergroup", "Team")  # the new id spoke first: a row with defaults
    await app.chats.migrate(GROUP, -100999)
    moved = await app.chats.get(-100999)
    assert moved.code_spoiler and moved.code_delete_minutes == 5
