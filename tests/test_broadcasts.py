"""The operator's broadcasts through the production Dispatcher and the production background sender: the preview
is the exact message, the audience is chosen and confirmed first, private-only and groups-only reach only those,
Cancel stops it mid-way, a restart resumes it without sending anything twice, chats that blocked the bot are
counted and marked inactive, a 429 is waited out, and a code stored while a broadcast runs goes out first."""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from aiogram.methods import EditMessageText, SendMessage, SendPhoto
from aiogram.types import Message, MessageEntity

from bot.background import Background
from bot.outbound.pace import Limits, Outbound, Priority, _Turn
from bot.services.broadcasts import LABEL_MAX
from playground.recording import Person, RecordingSession
from storage.broadcasts import INTERRUPTED
from tests.conftest import ADMIN_ID, open_world
from tests.test_push import rented

PRIVATE = list(range(2001, 2011))  # ten private chats
GROUPS = [-100_001, -100_002, -100_003]


def quick(per_second: float = 400) -> Limits:
    """The real pacer's logic with small slots: these flows check what is sent, and in which order."""
    return Limits(per_second=per_second, chat_rate=1e6, chat_burst=1_000_000, group_per_minute=1_000_000)


@pytest.fixture
async def world(app, session, telegram):
    dp, bot = telegram
    for chat_id in PRIVATE:
        await app.chats.ensure(chat_id, "private", f"User {chat_id}")
    for chat_id in GROUPS:
        await app.chats.ensure(chat_id, "supergroup", "Team")
    await app.chats.ensure(3001, "private", "Gone")
    await app.chats.set_active(3001, False)  # blocked the bot long ago: in no audience
    op = Person(dp, bot, session, ADMIN_ID, name="Op")
    await op.send("/start")
    return op, Background(app, bot, quick())


def to_chat(session: RecordingSession, chat_id: int) -> list:
    return [c for c in session.calls if isinstance(c, (SendMessage, SendPhoto)) and c.chat_id == chat_id]


def broadcast_sends(session: RecordingSession, chats) -> dict[int, int]:
    wanted = set(chats)
    counts: dict[int, int] = {}
    for call in session.calls:
        if isinstance(call, (SendMessage, SendPhoto)) and call.chat_id in wanted:
            counts[call.chat_id] = counts.get(call.chat_id, 0) + 1
    return counts


async def confirm(op: Person, audience: str, count: int):
    """On the audience choice under the preview: pick ``audience``, then Send to N chats. The progress message."""
    message_id = op.screen().message_id
    if any(audience in label for label in op.buttons(op.session.messages[op.chat_id][message_id])):
        await op.press(audience, op.session.messages[op.chat_id][message_id])
    screen = op.session.messages[op.chat_id][message_id]
    assert f"Send to {count} chats" in op.buttons(screen)[0]
    await op.press(f"Send to {count} chats", screen)
    return op.session.messages[op.chat_id][message_id]


async def test_the_preview_is_the_exact_message_and_nothing_goes_before_the_confirm(app, world, session):
    op, background = world
    text = "New: WhatsApp numbers from $0.50!\nOpen the bot | https://example.com/new?a=1&b=2"
    await op.send(f"/broadcast {text}", entities=[MessageEntity(type="bold", offset=11, length=4)])
    preview, choice = sorted(session.messages[ADMIN_ID].values(), key=lambda m: m.message_id)[-2:]
    assert preview.text == "<b>New:</b> WhatsApp numbers from $0.50!"  # the operator's formatting, kept as HTML
    [[button]] = preview.reply_markup.inline_keyboard
    assert button.text == "Open the bot" and button.url == "https://example.com/new?a=1&b=2"
    assert "exactly what the chats will get" in choice.text
    # Who gets it: active chats now (the operator's own chat is a private chat too; the inactive one is left out)
    assert op.buttons(choice) == ["📣 All chats · 14", "👤 Private chats · 11", "👥 Groups · 3", "✖ Discard"]
    await op.press("All chats", choice)
    assert "to all chats: 14 chats" in op.screen().text
    assert broadcast_sends(session, PRIVATE + GROUPS) == {}  # asked, not sent
    assert await background.broadcaster.run_once() == 0  # nothing confirmed: nothing to send

    progress = await confirm(op, "All chats", 14)
    assert "sending" in progress.text and op.buttons(progress) == ["⏹ Cancel broadcast"]
    assert await background.broadcaster.run_once() == 1
    assert broadcast_sends(session, PRIVATE + GROUPS + [3001]) == dict.fromkeys(PRIVATE + GROUPS, 1)
    sent = to_chat(session, PRIVATE[0])[0]
    assert sent.text == preview.text and sent.reply_markup == preview.reply_markup
    done = session.messages[ADMIN_ID][progress.message_id]  # the same message, edited
    assert "done" in done.text and "Sent 14 · failed 0 · blocked 0, of 14" in done.text
    assert done.reply_markup is None
    assert await background.broadcaster.run_once() == 0  # finished: never sent again


async def test_private_only_and_groups_only_reach_only_those(app, world, session):
    op, background = world
    await op.send("/broadcast Only for people")
    await confirm(op, "Private chats", 11)
    await background.broadcaster.run_once()
    assert broadcast_sends(session, PRIVATE + GROUPS) == dict.fromkeys(PRIVATE, 1)
    await op.send("/broadcast Only for groups")
    await confirm(op, "Groups", 3)
    await background.broadcaster.run_once()
    assert broadcast_sends(session, PRIVATE + GROUPS) == {**dict.fromkeys(PRIVATE, 1), **dict.fromkeys(GROUPS, 1)}
    assert [c.text for c in to_chat(session, GROUPS[0])] == ["Only for groups"]


async def test_a_photo_with_its_caption_and_a_reply_to_a_message(app, world, session):
    op, background = world
    await op.send_photo("AgACphoto-file-id", "/broadcast Look at this\nSee | https://example.com")
    preview = sorted(session.messages[ADMIN_ID].values(), key=lambda m: m.message_id)[-2]
    assert preview.caption == "Look at this" and preview.photo[0].file_id == "AgACphoto-file-id"
    await confirm(op, "Groups", 3)
    await background.broadcaster.run_once()
    [photo] = to_chat(session, GROUPS[1])
    assert isinstance(photo, SendPhoto) and photo.photo == "AgACphoto-file-id" and photo.caption == "Look at this"
    assert photo.reply_markup.inline_keyboard[0][0].url == "https://example.com"

    # A message written first, then /broadcast as a reply to it: that message, with its formatting, is sent.
    original = Message(message_id=77, date=datetime.now(UTC), chat=op.chat, from_user=op.user,
                       text="Maintenance tonight 02:00-03:00 UTC.",
                       entities=[MessageEntity(type="italic", offset=12, length=7)])
    await op.send("/broadcast", reply_to=original)
    preview = sorted(session.messages[ADMIN_ID].values(), key=lambda m: m.message_id)[-2]
    assert preview.text == "Maintenance <i>tonight</i> 02:00-03:00 UTC."
    await confirm(op, "Private chats", 11)
    await background.broadcaster.run_once()
    assert [c.text for c in to_chat(session, PRIVATE[3])] == ["Maintenance <i>tonight</i> 02:00-03:00 UTC."]


async def test_what_cannot_be_sent_is_said_before_anything_is_stored(app, world, session):
    op, _ = world
    await op.send("/broadcast")
    assert "Nothing to send" in op.screen().text
    await op.send("/broadcast Hi\nlabel | ftp://example.com")
    assert "looks like a button but is not one" in op.screen().text
    await op.send(f"/broadcast Hi\n{'x' * (LABEL_MAX + 1)} | https://example.com")
    assert f"at most {LABEL_MAX} characters" in op.screen().text
    await op.send("/broadcast " + "a" * 4097)
    assert "4097 characters long; Telegram takes at most 4096" in op.screen().text
    assert tuple(await app.db.fetchone("SELECT COUNT(*) FROM broadcasts")) == (0,)
    # Not the operator: refused, nothing stored, nothing sent.
    alice = Person(op.dp, op.bot, session, PRIVATE[0], name="Alice")
    await alice.send("/broadcast Free money")
    assert "not allowed" in session.last(PRIVATE[0]).text.lower()
    assert tuple(await app.db.fetchone("SELECT COUNT(*) FROM broadcasts")) == (0,)


async def test_a_double_tap_sends_once_and_discard_sends_nothing(app, world, session):
    op, background = world
    await op.send("/broadcast Twice?")
    choice = op.screen()
    await op.press("Groups", choice)
    confirm_screen = session.messages[ADMIN_ID][choice.message_id]
    send = op.data_of("Send to 3 chats", confirm_screen)
    assert "to groups: 3 chats" in confirm_screen.text
    await op.press_data(send, confirm_screen)
    answer = await op.press_data(send, confirm_screen)  # the same button again
    assert "already sent or discarded" in (answer.text or "")
    await background.broadcaster.run_once()
    assert broadcast_sends(session, GROUPS) == dict.fromkeys(GROUPS, 1)

    await op.send("/broadcast Never mind")
    await op.press("Discard")
    assert "discarded: nothing was sent" in op.screen().text
    await background.broadcaster.run_once()
    assert all(c.text != "Never mind" for c in session.calls if isinstance(c, SendMessage) and c.chat_id != ADMIN_ID)


async def test_cancel_mid_way_stops_it_and_the_rest_is_never_sent(app, world, session, settings):
    op, _ = world
    many = list(range(5001, 5061))
    for chat_id in many:
        await app.chats.ensure(chat_id, "private", "Someone")
    background = Background(app, op.bot, quick(100))  # 60 chats: ~0.6 s
    await op.send("/broadcast A long one")
    progress = await confirm(op, "Private chats", 71)
    task = asyncio.create_task(background.broadcaster.run_once())
    while len(broadcast_sends(session, many)) < 10:
        await asyncio.sleep(0.005)
    await op.press("Cancel broadcast", session.messages[ADMIN_ID][progress.message_id])
    cancelled = session.messages[ADMIN_ID][progress.message_id]
    assert "cancelled" in cancelled.text and cancelled.reply_markup is None
    assert await asyncio.wait_for(task, 5) == 0  # stopped, not finished
    reached = broadcast_sends(session, many)
    assert 10 <= len(reached) <= 12 and set(reached.values()) == {1}  # the one in flight at the tap, at most
    assert await background.broadcaster.run_once() == 0
    assert broadcast_sends(session, many) == reached
    shown = session.messages[ADMIN_ID][progress.message_id].text
    counts = await app.broadcasts.counts(1)
    assert f"Not sent: {counts.pending} of 71" in shown and counts.sent + counts.pending == 71


async def test_a_restart_resumes_and_nothing_is_sent_twice(app, world, session, settings, provider):
    op, background = world
    await op.send("/broadcast After the restart too")
    await confirm(op, "All chats", 14)
    recipients = [ADMIN_ID, *PRIVATE, *GROUPS]
    make_request = session.make_request

    async def dies_at_the_eighth(bot, method, timeout=None):
        if isinstance(method, SendMessage) and method.chat_id in recipients and method.text == "After the restart too":
            if len(broadcast_sends(session, recipients)) == 7:
                session.calls.append(method)  # the request left; the process is killed before any answer
                raise asyncio.CancelledError
        return await make_request(bot, method, timeout)

    session.make_request = dies_at_the_eighth
    with pytest.raises(asyncio.CancelledError):
        await background.broadcaster.run_once()
    before = broadcast_sends(session, recipients)
    assert len(before) == 8
    await app.db.close()

    again = RecordingSession()
    try:
        async with open_world(settings, {provider.name: provider}, again) as restart:
            reopened, bot = restart.app, restart.bot
            restart.dp  # built, as a restart builds it
            # the progress message lives on in the operator's chat
            again.messages = {ADMIN_ID: dict(session.messages[ADMIN_ID])}
            restarted = Background(reopened, bot, quick())
            assert await restarted.broadcaster.run_once() == 1
            after = broadcast_sends(again, recipients)
            assert set(after) == set(recipients) - set(before)  # the rest, and none of those already reached
            assert set(after.values()) == {1}
            states = await reopened.broadcasts.repo.deliveries(1)
            assert sorted(states.values()).count("failed") == 1 and list(states.values()).count("sent") == 13
            in_doubt = await reopened.db.fetchone("SELECT error FROM broadcast_chats WHERE status = 'failed'")
            assert in_doubt["error"] == INTERRUPTED
            progress = [c for c in again.calls if isinstance(c, EditMessageText)][-1]
            assert "done" in progress.text and "Sent 13 · failed 1 · blocked 0, of 14" in progress.text
            assert await restarted.broadcaster.run_once() == 0
    finally:
        await app.db.connect()  # for the fixture's ledger check


async def test_chats_that_blocked_the_bot_are_counted_and_marked_inactive(app, world, session):
    op, background = world
    session.blocked = {PRIVATE[2], PRIVATE[5], GROUPS[0]}
    await op.send("/broadcast Still there?")
    progress = await confirm(op, "All chats", 14)
    await background.broadcaster.run_once()
    for chat_id in session.blocked:
        assert not (await app.chats.get(chat_id)).active
    assert (await app.chats.get(PRIVATE[0])).active
    assert "Sent 11 · failed 0 · blocked 3, of 14" in session.messages[ADMIN_ID][progress.message_id].text
    assert (await app.broadcasts.repo.audience_sizes())["all"] == 11  # the next broadcast leaves them out


async def test_a_flood_limit_is_waited_out_and_the_message_sent_once(app, world, session):
    op, background = world
    background.outbound.max_flood_wait = 0  # do not really wait the 429's second here
    await op.send("/broadcast Slowly")
    await confirm(op, "Groups", 3)
    session.flood = [1]
    await background.broadcaster.run_once()
    assert background.outbound.flood_waits == 1
    counts = await app.broadcasts.counts(1)
    assert counts.sent == 3 and counts.failed == 0
    # the first in line (the lowest id) met the 429 and was sent again; the others once
    assert {g: len([c for c in to_chat(session, g) if c.text == "Slowly"]) for g in GROUPS} == {
        **dict.fromkeys(GROUPS, 1), min(GROUPS): 2}


async def test_a_code_stored_while_a_broadcast_runs_goes_out_first(app, world, session, provider):
    op, _ = world
    groups = list(range(-200_080, -200_000))
    for chat_id in groups:
        await app.chats.ensure(chat_id, "supergroup", "Team")
    rental = await rented(app)  # a private chat (1001) waiting for its code
    background = Background(app, op.bot, quick(60))
    outbox = background.deliverer.sms.outbox

    async def slow_outbox(limit=500):  # a slow disk: 6 slots pass while the code is looked up
        await asyncio.sleep(0.1)
        return await outbox(limit)

    background.deliverer.sms.outbox = slow_outbox
    outbound, asked = background.outbound, []
    paced = outbound.paced

    async def code_asks(chat_id, new_message, request, screen=None, twin=None):  # when the code asks, how long it waits
        if chat_id != 1001:
            return await paced(chat_id, new_message, request, screen, twin)
        at, asked_at = len(session.calls), time.monotonic()

        async def timed():
            asked.append((at, time.monotonic() - asked_at))
            return await request()
        return await paced(chat_id, new_message, timed, screen, twin)

    outbound.paced = code_asks
    await op.send("/broadcast To every group")
    await confirm(op, "Groups", 83)
    tasks = [asyncio.create_task(background.deliverer.run()), asyncio.create_task(background.broadcaster.run())]
    try:
        while len(broadcast_sends(session, groups)) < 5:
            await asyncio.sleep(0.005)
        provider.inject_sms(rental.provider_rental_id, "Telegram code: 61616")
        assert await background.pollers[provider.name].tick() == 1  # stored; the delivery loop woken
        stored_at = len(session.calls)
        deadline = time.monotonic() + 5
        while not (code := [i for i, c in enumerate(session.calls) if isinstance(c, SendMessage)
                            and c.chat_id == 1001 and "61616" in c.text]) and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        assert code, "the code was not sent"
        [(booked_at, wait)] = asked
        between = [c for c in session.calls[stored_at:booked_at] if isinstance(c, SendMessage) and c.chat_id in groups]
        # From the moment the code is stored until it asks for its turn the broadcast takes none (Deliverer.busy),
        # however long the lookup takes: at most the one broadcast message already on its way...
        assert len(between) <= 1
        # ... and it goes at once, ahead of the broadcast's messages waiting for theirs.
        assert wait <= 0.05
        assert len(broadcast_sends(session, groups)) < len(groups)  # the broadcast was still running
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def outbound_turn() -> _Turn:
    return _Turn(Priority.REPLY, 0)


def test_a_broadcast_leaves_a_groups_last_messages_of_the_minute_to_codes():
    now = [50.0]
    outbound = Outbound(Limits(), clock=lambda: now[0])
    for _ in range(Limits().group_per_minute - Limits().group_spare):  # the group's messages, 1.2 s apart
        outbound._lane(-5).ready_at(outbound_turn(), now[0], outbound.limits)
        outbound._lane(-5).took(now[0])
        now[0] += 1.2
    assert not outbound.chat_ready(-5)  # a broadcast puts it aside ...
    assert outbound.chat_ready(-5, Priority.CODE)  # ... a code would still go
    assert outbound.chat_ready(-6)


async def test_russian_broadcast_screens(app, world, session):
    op, background = world
    await app.chats.set_language(ADMIN_ID, "ru")
    await op.send("/broadcast Привет")
    choice = op.screen()
    assert "Рассылка №1" in choice.text
    assert op.buttons(choice) == ["📣 Все чаты · 14", "👤 Личные чаты · 11", "👥 Группы · 3", "✖ Отменить"]
    await op.press("Группы", choice)
    await op.press("Отправить в чаты: 3", session.messages[ADMIN_ID][choice.message_id])
    await background.broadcaster.run_once()
    shown = session.messages[ADMIN_ID][choice.message_id].text
    assert "готово" in shown and "Отправлено 3 · ошибок 0 · заблокировали 0, всего 3" in shown


async def test_stopping_the_bot_finishes_the_message_in_flight_and_leaves_none_in_doubt(app, world, session):
    op, _ = world
    many = list(range(6001, 6061))
    for chat_id in many:
        await app.chats.ensure(chat_id, "private", "Someone")
    background = Background(app, op.bot, quick(100))
    await op.send("/broadcast Before a SIGTERM")
    await confirm(op, "Private chats", 71)
    await background.start()
    while len(broadcast_sends(session, many)) < 10:
        await asyncio.sleep(0.005)
    await background.stop()
    counts = await app.broadcasts.counts(1)
    assert await app.db.fetchone("SELECT 1 FROM broadcast_chats WHERE status = 'sending'") is None
    assert counts.failed == 0 and 0 < counts.pending < 71

    def reached() -> list[int]:  # the preview in the operator's chat is the bot's reply, not one of these
        return [c.chat_id for c in session.calls if isinstance(c, SendMessage) and c.text == "Before a SIGTERM"][1:]

    assert counts.sent == len(reached())
    assert await Background(app, op.bot, quick()).broadcaster.run_once() == 1  # the next start: the rest, once
    assert sorted(reached()) == sorted([ADMIN_ID, *PRIVATE, *many])
    assert (await app.broadcasts.counts(1)).sent == 71
