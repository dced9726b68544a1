"""The one paced path (bot/outbound/pace.py): Telegram's limits kept, codes first, no chat holding back another."""
from __future__ import annotations

import asyncio
import heapq
import time

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage

from bot.outbound.pace import Limits, Outbound, Priority, _Turn, at_priority, twin_of


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def queue(outbound: Outbound, chat_id: int, priority: Priority = Priority.REPLY, new: bool = True) -> _Turn:
    """A call waiting for its turn, as Outbound.paced puts it in its chat's lane."""
    turn = _Turn(priority, next(outbound._seq), new, asyncio.get_running_loop().create_future())
    lane = outbound._lane(chat_id)
    heapq.heappush(lane.queue, turn)
    outbound._nudge(lane)
    return turn


def done(outbound: Outbound, chat_id: int) -> None:
    """The granted call came back from Telegram: its lane may go on."""
    lane = outbound._lanes[chat_id]
    lane.busy = False
    outbound._nudge(lane)


def run_for(outbound: Outbound, clock: Clock, seconds: float, step: float = 0.001) -> list[tuple[float, int]]:
    """Grant whatever may go, each call answered at once, for ``seconds``; (time, chat) of each grant."""
    granted = []
    end = clock.now + seconds
    while clock.now < end:
        before = {c for c, lane in outbound._lanes.items() if lane.busy}
        outbound.grant_next()
        for chat_id, lane in outbound._lanes.items():
            if lane.busy and chat_id not in before:
                granted.append((clock.now, chat_id))
                done(outbound, chat_id)
                break
        else:
            clock.now += step
    return granted


async def test_new_messages_stay_within_the_bots_second_and_each_chat_keeps_its_pace():
    clock = Clock()
    outbound = Outbound(Limits(), clock=clock)
    for chat in range(1, 91):  # 90 private chats at once, one message each
        queue(outbound, chat)
    times = [at for at, _ in run_for(outbound, clock, 5.0)]
    assert len(times) == 90
    assert all(times[i + 28] - times[i] >= 1.0 - 1e-9 for i in range(len(times) - 28))  # never 29 in a second
    assert times[-1] - times[0] < 90 / 28 + 0.1  # and no slot lost
    # one chat: a burst of two, then one every 1/0.9 s; the bot spreads its new messages over each second
    for _ in range(5):
        queue(outbound, 7)
    mine = [at for at, chat in run_for(outbound, clock, 6.0) if chat == 7]
    assert len(mine) == 5 and mine[1] - mine[0] < 0.05  # the burst: one slot of the bot's second apart
    # never more than the burst plus 0.9 a second in any stretch of time
    assert all(j - i + 1 <= 2 + 0.9 * (mine[j] - mine[i]) + 1e-6 for i in range(5) for j in range(i, 5))
    assert mine[4] - mine[0] < 2 / 0.9 + 1.3  # and no longer than that asks


async def test_a_code_goes_before_replies_that_queued_earlier_and_broadcasts_leave_headroom():
    clock = Clock()
    outbound = Outbound(Limits(), clock=clock)
    replies = [queue(outbound, 100 + n, Priority.REPLY) for n in range(3)]
    for n in range(30):  # a broadcast queued before the code
        queue(outbound, 200 + n, Priority.BULK)
    code = queue(outbound, 300, Priority.CODE)
    order = [chat for _, chat in run_for(outbound, clock, 1.2)]
    assert order[:4] == [300, 100, 101, 102]  # a code first, then the people waiting, in their order
    assert code.granted.done() and all(r.granted.done() for r in replies)
    # broadcasts never take the last places of a second: a code arriving then still finds one
    clock.now += 5
    run_for(outbound, clock, 2.0)
    late = [queue(outbound, 400 + n, Priority.BULK) for n in range(60)]
    run_for(outbound, clock, 1.5)
    assert 20 <= len(outbound._second) <= 28 - 4  # a second of broadcast: its share, no more
    urgent = queue(outbound, 500, Priority.CODE)
    run_for(outbound, clock, 1 / 28 + 0.002)
    assert urgent.granted.done()  # within one slot of the bot's second
    assert not all(t.granted.done() for t in late)


async def test_a_group_keeps_the_last_places_of_its_minute_for_codes():
    clock = Clock()
    outbound = Outbound(Limits(), clock=clock)
    for _ in range(30):
        queue(outbound, -5, Priority.REPLY, new=False)  # members' taps edit their screens
    granted = run_for(outbound, clock, 30.0)
    assert len(granted) == 15  # 20 a minute, 5 left to codes
    code = queue(outbound, -5, Priority.CODE)
    outbound.grant_next()
    assert code.granted.done()  # at once, although 15 replies wait
    done(outbound, -5)
    granted = run_for(outbound, clock, 70.0)
    assert len(granted) >= 14  # the replies go on as the minute moves; none lost


async def test_a_flood_wait_holds_back_its_own_chat_only():
    outbound = Outbound(Limits.unlimited())
    sent: list[tuple[float, int]] = []
    refused = {-7: 1}  # the busy group's next send meets a 1 s flood wait

    async def send(chat_id: int, text: str) -> str:
        async def request():
            if refused.get(chat_id):
                refused[chat_id] -= 1
                raise TelegramRetryAfter(method=SendMessage(chat_id=chat_id, text=text), message="Too Many Requests",
                                         retry_after=1)
            sent.append((time.monotonic(), chat_id))
            return text
        return await outbound.paced(chat_id, True, request)

    start = time.monotonic()
    with at_priority(Priority.CODE):
        results = await asyncio.gather(send(-7, "group code"), *(send(chat, "private code") for chat in range(1, 6)))
    assert results[0] == "group code"  # waited out, not raised
    group_at = next(at for at, chat in sent if chat == -7)
    others = [at for at, chat in sent if chat != -7]
    assert len(others) == 5 and max(others) - start < 0.5  # none of them waited for the group's second
    assert group_at - start >= 1.0
    assert outbound.flood_waits == 1
    await outbound.aclose()


async def test_each_chat_keeps_its_order_and_a_cancelled_call_frees_its_place():
    outbound = Outbound(Limits.unlimited())
    sent: list[str] = []
    gate = asyncio.Event()

    async def send(chat_id: int, text: str) -> None:
        async def request():
            if text == "first":
                await gate.wait()  # a slow send: the chat's next waits for it, other chats do not
            sent.append(text)
        await outbound.paced(chat_id, True, request)

    first = asyncio.create_task(send(1, "first"))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(send(1, "second"))
    dropped = asyncio.create_task(send(1, "dropped"))
    await send(2, "other chat")
    assert sent == ["other chat"]
    await asyncio.sleep(0.01)
    dropped.cancel()
    gate.set()
    await asyncio.gather(first, second, return_exceptions=True)
    assert sent == ["other chat", "first", "second"]
    await outbound.aclose()


@pytest.mark.parametrize("flood", [[1], [1, 1, 1, 1]])
async def test_a_reply_meeting_flood_limits_arrives_and_no_apology_is_sent(app, alice, session, flood):
    session.flood = list(flood)  # Telegram refuses the reply (and, in the second case, its next tries too)
    await alice.send("/start")
    texts = [m.text for m in session.sent(alice.chat_id)]
    assert len(texts) == len(flood) + 1  # the refused tries and the one that went through
    assert "Rent a number" in str(session.sent(alice.chat_id)[-1].reply_markup)
    assert not any("Something went wrong" in (text or "") for text in texts)


async def test_edits_of_one_screen_waiting_in_a_busy_chat_are_replaced_by_the_newest():
    outbound = Outbound(Limits.unlimited())
    sent: list[str] = []
    gate = asyncio.Event()

    async def edit(text: str, message_id: int = 10, slow: bool = False) -> str:
        async def request():
            if slow:
                await gate.wait()  # the chat is busy with this call
            sent.append(text)
            return text
        return await outbound.paced(-5, False, request, ("EditMessageText", message_id))

    busy = asyncio.create_task(edit("in flight", message_id=9, slow=True))
    await asyncio.sleep(0.01)
    taps = [asyncio.create_task(edit(f"screen {n}")) for n in range(1, 4)]  # a member taps through a menu
    other = asyncio.create_task(edit("another message", message_id=11))
    await asyncio.sleep(0.01)
    gate.set()
    answers = await asyncio.gather(*taps)
    await asyncio.gather(busy, other)
    assert sent == ["in flight", "screen 3", "another message"]  # one call for the screen, at its first place
    assert answers == ["screen 3"] * 3  # every tap's handler got the screen's answer
    await outbound.aclose()


async def test_a_tap_whose_screen_waits_its_turn_is_answered_within_a_second(app, telegram, session):
    from bot.outbound.pace import outbound_of
    from playground.recording import Person

    dp, bot = telegram
    ann = Person(dp, bot, session, 2001, chat_id=-100321, name="Ann")
    await ann.send("/start@rent_test_bot")
    outbound_of(bot).limits = Limits(chat_rate=0.01, chat_burst=1)  # the group's next edit waits ~100 s
    outbound_of(bot)._lanes.clear()
    await ann.send("/balance@rent_test_bot")  # takes the group's one message
    started = time.monotonic()
    tap = asyncio.create_task(ann.press(ann.buttons()[0]))
    while not session.callback_answers() and time.monotonic() - started < 3:
        await asyncio.sleep(0.02)
    assert session.callback_answers(), "the spinner waited for the screen"
    assert time.monotonic() - started < 1.6 and not tap.done()  # answered early; the screen still waits its turn
    note = session.callback_answers()[-1].text  # and told why, with about how long
    assert note and note.startswith("Telegram lets a bot post 20 messages a minute in a group"), note
    assert 60 <= int(note.split("about ")[1].split(" s")[0]) <= 120, note
    tap.cancel()
    await asyncio.gather(tap, return_exceptions=True)
    await outbound_of(bot).aclose()


async def test_a_groups_minute_counts_a_slow_send_from_when_it_came_back():
    """Telegram counts a group's 20 a minute by arrival. A send slowed on its way must not let a later one arrive
    inside Telegram's minute: the bot's minute counts each send from its return; and a 429, which Telegram did not
    count, not at all."""
    def group_outbound(per_minute: int, window: float) -> Outbound:
        return Outbound(Limits(per_second=1e6, bulk_headroom=0, chat_rate=1e6, chat_burst=1_000_000,
                               group_per_minute=per_minute, group_window=window, group_spare=0))

    outbound, window = group_outbound(2, 0.6), 0.6
    started: list[float] = []
    returned: list[float] = []

    async def send(n: int, slow: float = 0.0) -> int:
        async def request():
            started.append(time.monotonic())
            await asyncio.sleep(slow)
            returned.append(time.monotonic())
            return n
        return await outbound.paced(-9, True, request)

    assert [await send(0, slow=0.4), await send(1), await send(2)] == [0, 1, 2]
    assert started[2] - returned[0] >= window - 0.01, (started, returned)  # not from the first's start
    await outbound.aclose()

    outbound = group_outbound(1, 30.0)  # one a "minute" of 30 s
    tries: list[float] = []

    async def refused_once():
        tries.append(time.monotonic())
        if len(tries) == 1:
            raise TelegramRetryAfter(method=SendMessage(chat_id=-9, text="x"), message="Too Many Requests",
                                     retry_after=0)
        return "sent"

    assert await outbound.paced(-9, True, refused_once) == "sent"
    assert tries[1] - tries[0] < 15.0  # the 429 took no place of the minute: tried again at once, not 30 s later
    await outbound.aclose()


async def test_a_group_that_gets_many_codes_keeps_more_of_its_minute_for_them():
    """Five free places of a group's minute are kept for codes; a group that had six codes in it keeps seven, so its
    next codes do not wait for the minute to move behind replies that took the rest (the soak's 6.75 s code: its
    group's minute full, six codes in it)."""
    clock = Clock()
    outbound = Outbound(Limits(), clock=clock)
    for _ in range(6):
        queue(outbound, -5, Priority.CODE)
    assert len(run_for(outbound, clock, 10.0)) == 6  # six codes in this minute
    for _ in range(30):
        queue(outbound, -5, Priority.REPLY, new=False)
    replies = run_for(outbound, clock, 30.0)
    assert len(replies) == 20 - 6 - 7  # seven places left free for codes (one more than it had), not five
    code = queue(outbound, -5, Priority.CODE)
    outbound.grant_next()
    assert code.granted.done()  # at once


async def test_a_groups_burst_of_codes_keeps_its_places_after_the_minute_moved_on():
    """The codes of a group come in bursts, often after its replies took their places (the soak's slowest group
    code). A group that had six codes in one minute keeps seven places for codes in the minutes after, though its
    current minute has none yet; after CODE_PEAK_MEMORY without such a burst it keeps the usual five."""
    from bot.outbound.pace import CODE_PEAK_MEMORY

    clock = Clock()
    outbound = Outbound(Limits(), clock=clock)
    for _ in range(6):
        queue(outbound, -5, Priority.CODE)
    assert len(run_for(outbound, clock, 5.0)) == 6
    clock.now += 70.0  # the burst left the window
    for _ in range(30):
        queue(outbound, -5, Priority.REPLY, new=False)
    assert len(run_for(outbound, clock, 30.0)) == 20 - 7  # replies leave seven places for the next burst
    burst = [queue(outbound, -5, Priority.CODE) for _ in range(7)]
    assert len(run_for(outbound, clock, 8.0)) == 7 and all(code.granted.done() for code in burst)  # none waits

    lane = outbound._lanes[-5]
    clock.now += CODE_PEAK_MEMORY + 70.0
    lane.minute.clear()
    assert lane.kept_for_codes(clock.now, outbound.limits) == 5  # the old burst forgotten
    await outbound.aclose()


async def test_the_expected_wait_of_a_reply_follows_the_groups_minute_and_its_queue():
    clock = Clock()
    outbound = Outbound(Limits(), clock=clock)
    assert outbound.expected_wait(-5) == 0.0  # nothing waits
    for _ in range(40):
        queue(outbound, -5, Priority.REPLY, new=False)
    run_for(outbound, clock, 20.0)  # 15 replies went (5 places kept for codes), 25 wait
    wait = outbound.expected_wait(-5)
    assert 62.0 <= wait <= 62.0 * 3, wait  # 25 ahead at 15 a window: the second window after this one
    assert outbound.expected_wait(-5, Priority.CODE) == 0.0  # no code waits
    queue(outbound, -5, Priority.CODE)
    assert outbound.expected_wait(-5, Priority.CODE) < 2.0  # a code goes before them, in a free place
    assert outbound.expected_wait(7) == 0.0
    await outbound.aclose()


async def test_a_group_keeps_a_place_for_each_number_waiting_for_its_first_code():
    """The deliverer tells the pacer how many of a group's numbers wait for a first code; the group's replies
    leave that many places (and one more) free, so the codes of numbers rented together go at once."""
    clock = Clock()
    outbound = Outbound(Limits(), clock=clock)
    outbound.expect_codes({-5: 8})
    for _ in range(30):
        queue(outbound, -5, Priority.REPLY, new=False)
    assert len(run_for(outbound, clock, 30.0)) == 20 - 9
    codes = [queue(outbound, -5, Priority.CODE) for _ in range(8)]
    assert len(run_for(outbound, clock, 10.0)) == 8 and all(code.granted.done() for code in codes)
    outbound.expect_codes({})  # their codes came: the group's replies get the usual places back
    assert outbound._lanes[-5].kept_for_codes(clock.now, outbound.limits) == 9  # its burst of eight, remembered
    outbound.expect_codes({-5: 40})
    assert outbound._lanes[-5].kept_for_codes(clock.now, outbound.limits) == 15  # replies keep a quarter
    await outbound.aclose()


async def test_the_deliverer_tells_the_pacer_which_groups_numbers_wait_for_a_code(provider, session, settings):
    """A number rented in a group and still without a code keeps a place of that group's minute, read from the
    database by the deliverer's round; once its code is stored, it keeps none."""
    from bot.background import Background
    from bot.outbound.pace import outbound_of
    from tests.conftest import credit, open_world

    async with open_world(settings, {provider.name: provider}, session, screens=True) as world:
        app, bot = world.app, world.bot
        session.admins.add((-100500, 1001))
        ann = world.person(1001, chat_id=-100500, name="Ann")
        await ann.send("/start")
        await credit(app, -100500, 4000)
        for label in ("Rent a number", "Telegram", "1 day", "Rent for", "Menu", "Rent a number", "Telegram", "1 day",
                      "Rent for"):
            await ann.press(label)
        background = Background(app, bot)
        await background.deliverer.deliver_once()
        lane = outbound_of(bot)._lanes[-100500]
        assert lane.codes_coming == 2
        assert lane.kept_for_codes(outbound_of(bot).clock(), outbound_of(bot).limits) == 5  # the usual five cover them

        [first, _], _ = await app.rentals.rentals.for_chat(-100500)
        provider.inject_sms(first.provider_rental_id, "Telegram code: 31337")
        await background.pollers[provider.name].tick()
        background.deliverer._coming_read_at = float("-inf")  # read again now, not two seconds later
        assert await background.deliverer.deliver_once() == 1
        assert lane.codes_coming == 1
        await outbound_of(bot).aclose()


async def test_the_same_message_waiting_for_a_busy_groups_minute_is_sent_once():
    """Members asking the same of a group at its 20 a minute (/balance, /numbers): one message answers them all;
    a different message, or one to another chat, is its own; a twin whose first caller gave up is still sent."""
    outbound = Outbound(Limits(per_second=1e6, bulk_headroom=0, chat_rate=1e6, chat_burst=1_000_000,
                               group_per_minute=1, group_window=0.3, group_spare=0))
    sent: list[str] = []

    def request(text: str):
        async def call():
            sent.append(text)
            return f"message {len(sent)}"
        return call

    async def send(chat_id: int, text: str):
        method = SendMessage(chat_id=chat_id, text=text)
        return await outbound.paced(chat_id, True, request(text), twin=twin_of(method))

    first = asyncio.create_task(send(-7, "hello"))  # takes the group's minute
    await asyncio.sleep(0.02)
    asked = [asyncio.create_task(send(-7, "Balance: $5")) for _ in range(4)]
    other = asyncio.create_task(send(-7, "My numbers"))
    private = [asyncio.create_task(send(7, "Balance: $5")) for _ in range(2)]
    await asyncio.sleep(0.02)
    asked[0].cancel()  # the first asker's handler gave up: the others still get their answer
    answers = await asyncio.gather(first, *asked[1:], other, *private)
    assert sent.count("Balance: $5") == 1 + 2  # once in the group; a private chat's are not merged
    assert answers[1] == answers[2] == answers[3]  # one message answers the three who waited
    assert sent.count("My numbers") == 1 and answers[4] != answers[1]
    await outbound.aclose()
