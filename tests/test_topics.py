"""A topic per number in forum groups (issue 18), through the production dispatcher and the Bot API emulator:
the topic opened when a number is rented, its card and codes in it, closed when the number ends; a topic a person
deleted or closed: codes still reach the group (its main chat, with a note once), each code once; a group that
is not a forum or a bot without the right: numbers stay in the main chat and Settings says why."""
from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.app import build_bot, build_dispatcher
from bot.background import Background
from bot.outbound.pace import Limits
from bot.outbound.topics import NAME_MAX, topic_name
from handlers import phones
from playground.emulator import TelegramEmulator
from storage.models import utcnow
from tests.conftest import TOKEN, credit, open_world

FORUM = -1001234567890
ANN = 2001  # the group's creator: rents, changes settings


class Group:
    """A person in a group of the emulator, the bot fed its updates through getUpdates."""

    def __init__(self, emu: TelegramEmulator, dp: Dispatcher, bot: Bot, chat_id: int, user_id: int,
                 offset: list[int] | None = None) -> None:
        self.emu, self.dp, self.bot, self.chat_id, self.user_id = emu, dp, bot, chat_id, user_id
        self.offset = offset if offset is not None else [0]  # shared by the people of one bot

    def as_user(self, user_id: int) -> Group:
        return Group(self.emu, self.dp, self.bot, self.chat_id, user_id, self.offset)

    async def pump(self) -> None:
        while updates := await self.bot.get_updates(offset=self.offset[0], timeout=0):
            for update in updates:
                self.offset[0] = update.update_id + 1
                await self.dp.feed_update(self.bot, update)

    async def send(self, text: str) -> None:
        self.emu.send_message(self.chat_id, self.user_id, text)
        await self.pump()

    def screen(self, thread: int | None = None) -> dict:
        """The bot's last message in the main chat (or in a topic)."""
        return [m for m in self.emu.bot_messages(self.chat_id) if m.get("message_thread_id") == thread][-1]

    async def press(self, label: str, message: dict | None = None) -> dict:
        message = message or self.screen()
        buttons = [b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
        [button] = [b for b in buttons if label in b["text"] and "callback_data" in b] or [None]
        assert button is not None, f"no button {label!r} in {[b['text'] for b in buttons]}"
        qid = self.emu.press_button(self.chat_id, self.user_id, message["message_id"],
                                    callback_data=button["callback_data"])
        await self.pump()
        return self.emu.callback_answers[qid]


@pytest.fixture
async def emu():
    async with TelegramEmulator(token=TOKEN, bot_username="rent_test_bot") as emulator:
        yield emulator


@pytest.fixture
async def bot(emu, settings):
    bot = build_bot(TOKEN, settings, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
    yield bot
    await bot.session.close()


async def group(app, emu, bot, *, forum: bool = True, right: bool = True, members: dict | None = None) -> Group:
    emu.add_user(ANN, "Ann", username="ann")
    emu.create_group(FORUM, "Renters", {ANN: "creator", **(members or {})}, supergroup=True, forum=forum)
    if right is not None:
        emu.set_bot_rights(FORUM, can_manage_topics=right)
    ann = Group(emu, build_dispatcher(app), bot, FORUM, ANN)
    await ann.pump()
    await ann.send("/start@rent_test_bot")
    await credit(app, FORUM, 1000)
    return ann


async def topics_on(ann: Group) -> dict:
    await ann.send("/settings@rent_test_bot")
    assert "no topic per number" in ann.screen()["text"]
    return await ann.press("A topic per number: off")


async def rent(app, ann: Group):
    await ann.send("/rent@rent_test_bot telegram")
    await ann.press("Telegram")
    await ann.press("$1.10")
    await ann.press("Rent for")
    [rental] = (await app.rentals.rentals.for_chat(FORUM))[0]
    return rental


async def push(background: Background, provider, rental, body: str) -> None:
    provider.inject_sms(rental.provider_rental_id, body)
    await background.pollers[provider.name].tick()
    await background.deliverer.deliver_once()


async def expire(app, background: Background, rental) -> None:
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE rentals SET active_till = ? WHERE id = ?",
                           ((utcnow() - timedelta(minutes=1)).isoformat(), rental.id))
    assert await background.jobs.expire() == 1


def texts(emu: TelegramEmulator, thread: int | None = ...) -> list[str]:
    """The bot's messages now in the group (``thread``: only those in that topic; None: the main chat)."""
    return [m.get("text", "") for m in emu.bot_messages(FORUM)
            if thread is ... or m.get("message_thread_id") == thread]


def test_the_topics_name_is_the_service_and_the_number_within_telegrams_limit():
    assert topic_name("WhatsApp", "+1 555 010 0199") == "WhatsApp · +1 555 010 0199"
    long = topic_name("W" * 300, "+1 555 010 0199")
    assert len(long) == NAME_MAX and long.endswith("… · +1 555 010 0199")
    assert topic_name("Telegram", "") == "Telegram"


async def test_a_topic_per_number_opened_codes_pushed_into_it_closed_at_the_end(app, emu, bot, provider):
    ann = await group(app, emu, bot)
    answer = await topics_on(ann)
    assert not answer["show_alert"]
    settings_text = ann.screen()["text"]
    assert "its own topic" in settings_text and "⚠️" not in settings_text
    assert (await app.chats.get(FORUM)).topic_per_number

    rental = await rent(app, ann)
    [topic] = emu.chat_topics(FORUM)
    assert topic["name"] == f"Telegram · {phones.display(rental.phone)}" and not topic["closed"]
    thread = topic["message_thread_id"]
    assert (rental.topic_id, rental.topic_state) == (thread, "open")
    # The card is in the topic; the screen that rented it says where.
    [card] = [m for m in emu.topic_messages(FORUM, thread) if m["from"]["is_bot"] and "text" in m]
    assert "Telegram" in card["text"] and card["is_topic_message"]
    said = ann.screen()
    assert "its card is in its own topic, and its codes come there" in said["text"]
    # The topic's name links to it (text and button), as Telegram links a supergroup's topic.
    link = f"https://t.me/c/{-FORUM - 10**12}/{thread}"
    assert any(e.get("url") == link for e in said.get("entities", []))
    assert link in [b.get("url") for row in said["reply_markup"]["inline_keyboard"] for b in row]
    assert "No codes yet. Each one comes as a message in this number's topic" in card["text"]

    background = Background(app, bot, Limits.unlimited())
    await push(background, provider, rental, "Telegram code: 40512")
    await push(background, provider, rental, "Telegram code: 40513")
    in_topic = texts(emu, thread)
    assert sum("40512" in t for t in in_topic) == 1 and sum("40513" in t for t in in_topic) == 1
    assert not any("4051" in t for t in texts(emu, None))

    await expire(app, background, rental)
    assert emu.chat_topics(FORUM) == [{**topic, "closed": True}]
    assert (await app.rentals.rentals.get(rental.id)).topic_state == "closed"
    assert len([c for c in emu.calls_to("closeForumTopic") if c["ok"]]) == 1
    assert any("has expired" in t for t in texts(emu, None))
    assert await background.jobs.close_topics() == 0  # once


@pytest.mark.parametrize("by_person", ["delete", "close"])
async def test_a_topic_a_person_deleted_or_closed_codes_still_reach_the_group(app, emu, bot, provider, by_person):
    ann = await group(app, emu, bot)
    await topics_on(ann)
    rental = await rent(app, ann)
    thread = rental.topic_id
    background = Background(app, bot, Limits.unlimited())
    await push(background, provider, rental, "Telegram code: 11111")
    assert any("11111" in t for t in texts(emu, thread))

    (emu.delete_topic if by_person == "delete" else emu.close_topic)(FORUM, thread)
    await push(background, provider, rental, "Telegram code: 22222")
    await push(background, provider, rental, "Telegram code: 33333")
    main = texts(emu, None)
    [noted] = [t for t in main if "was deleted or closed" in t]
    assert "22222" in noted
    assert sum("22222" in t for t in texts(emu)) == 1 and sum("33333" in t for t in main) == 1
    assert (await app.rentals.rentals.get(rental.id)).topic_state == "moved"
    sends_into_topic = [c for c in emu.calls_to("sendMessage") if c["params"].get("message_thread_id")]
    assert [c.get("error_code") for c in sends_into_topic] == [None, None, 400]  # the card, 11111, then refused

    await expire(app, background, rental)  # nothing left to close: just marked
    assert (await app.rentals.rentals.get(rental.id)).topic_state == "closed"
    assert emu.calls_to("closeForumTopic") == []


async def test_a_kill_between_the_refused_topic_and_the_main_chat_repeats_no_code(app, emu, bot, provider):
    ann = await group(app, emu, bot)
    await topics_on(ann)
    rental = await rent(app, ann)
    background = Background(app, bot, Limits.unlimited())
    emu.delete_topic(FORUM, rental.topic_id)
    # The send into the topic is refused, then the main chat's answer never comes (as if the bot died there).
    emu.fail_next("sendMessage", 400, "Bad Request: message thread not found")  # what the deleted topic says
    emu.fail_next("sendMessage", 0)  # the connection ends without an answer
    await push(background, provider, rental, "Telegram code: 70707")
    assert (await app.rentals.rentals.get(rental.id)).topic_state == "lost"  # the note is still owed
    await background.deliverer.deliver_once()
    await background.deliverer.deliver_once()
    assert sum("70707" in t for t in texts(emu)) == 1
    assert sum("was deleted or closed" in t for t in texts(emu)) == 1
    assert (await app.rentals.rentals.get(rental.id)).topic_state == "moved"


@pytest.mark.parametrize("forum, right, said", [
    (False, True, "Topics are off in this group"),
    (True, False, "may not manage topics here"),
    (True, None, "may not manage topics here"),  # the bot a plain member
])
async def test_no_forum_or_no_right_numbers_stay_in_the_main_chat_and_settings_say_why(app, emu, bot, provider,
                                                                                         forum, right, said):
    ann = await group(app, emu, bot, forum=forum, right=right)
    answer = await topics_on(ann)
    assert answer["show_alert"] and said in answer["text"]  # told at the tap
    assert said in ann.screen()["text"]  # and on the screen, for as long as it is so
    rental = await rent(app, ann)
    assert emu.chat_topics(FORUM) == [] and rental.topic_state is None
    assert "Telegram" in ann.screen()["text"] and "its own topic" not in ann.screen()["text"]  # the card, here
    background = Background(app, bot, Limits.unlimited())
    await push(background, provider, rental, "Telegram code: 90909")
    assert sum("90909" in t for t in texts(emu, None)) == 1
    # The right given later: the next number gets its topic.
    if forum:
        emu.set_bot_rights(FORUM, can_manage_topics=True)
        await ann.send("/settings@rent_test_bot")
        assert said not in ann.screen()["text"]


async def test_the_setting_is_off_by_default_and_admins_only(app, emu, bot, provider):
    ann = await group(app, emu, bot)
    assert not (await app.chats.get(FORUM)).topic_per_number
    emu.add_user(2002, "Max")
    emu.set_member_status(FORUM, 2002, "member")
    await ann.send("/settings@rent_test_bot")
    max_ = ann.as_user(2002)
    answer = await max_.press("A topic per number: off", ann.screen())
    assert "Not allowed" in (answer["text"] or "") and not (await app.chats.get(FORUM)).topic_per_number
    rental = await rent(app, ann)  # off: no topic
    assert emu.chat_topics(FORUM) == [] and rental.topic_id is None


async def test_the_playground_shows_topics_on_messages_and_their_service_lines(emu, tmp_path):
    from types import SimpleNamespace

    from playground.server import Playground

    pg = Playground(SimpleNamespace(emulator=emu), tmp_path / "none.sqlite3")
    emu.add_user(ANN, "Ann")
    emu.create_group(FORUM, "Renters", {ANN: "creator"}, forum=True)
    thread = emu.create_topic(FORUM, "Telegram · +1 555 010 0199", by_user_id=ANN)["message_thread_id"]
    emu.send_message(FORUM, ANN, "hi", message_thread_id=thread)
    emu.close_topic(FORUM, thread, by_user_id=ANN)
    rendered = [pg.render_message(FORUM, m) for m in emu.messages(FORUM)]
    assert [r["service"] for r in rendered][-3:] == ["Ann created the topic “Telegram · +1 555 010 0199”", None,
                                                      "Ann closed the topic “Telegram · +1 555 010 0199”"]
    assert rendered[-2]["topic"] == "Telegram · +1 555 010 0199"


async def test_cancelled_on_its_card_in_the_topic_the_topic_closes_at_once(app, emu, bot, provider):
    ann = await group(app, emu, bot)
    await topics_on(ann)
    rental = await rent(app, ann)
    card = ann.screen(rental.topic_id)
    await ann.press("Cancel & refund", card)
    answer = await ann.press("Cancel it, $1.10 back", ann.screen(rental.topic_id))
    assert "refund" in (answer["text"] or "").lower() or "cancel" in (answer["text"] or "").lower()
    assert (await app.rentals.rentals.get(rental.id)).status == "cancelled"
    assert emu.chat_topics(FORUM)[0]["closed"] is True  # no job round needed
    assert (await app.rentals.rentals.get(rental.id)).topic_state == "closed"
    assert "Cancel & refund" not in str(ann.screen(rental.topic_id).get("reply_markup"))  # the card, edited there


async def test_a_members_request_approved_the_number_gets_its_topic_with_its_card(app, emu, bot, provider):
    emu.add_user(2002, "Max", username="max")
    ann = await group(app, emu, bot, members={2002: "member"})
    await topics_on(ann)
    max_ = ann.as_user(2002)
    await max_.send("/rent@rent_test_bot telegram")
    await max_.press("Telegram")
    await max_.press("$1.10")
    await max_.press("Request this number")
    request = max_.screen()
    assert "asks for a number" in request["text"]
    await ann.press("Approve", request)
    [rental] = (await app.rentals.rentals.for_chat(FORUM))[0]
    assert rental.user_id == 2002 and rental.topic_state == "open"
    [topic] = emu.chat_topics(FORUM)
    assert topic["message_thread_id"] == rental.topic_id
    assert any("Telegram" in t for t in texts(emu, rental.topic_id))  # the card, in its topic
    assert any("Approved by @ann" in t for t in texts(emu, None))  # the request stays in the main chat


@pytest.fixture
async def getatext_app(settings):
    from playground.sandbox.getatext import FakeGetAText
    from providers.getatext import GetATextClient

    async with FakeGetAText(api_key="set-key", rate_limit_interval=0.0, cancel_after_seconds=0) as fake:
        fake.enforce_rate_limit = False
        client = GetATextClient("set-key", base_url=fake.url, timeout=2.0, backoff=0.01, rent_interval=0.0,
                                poll_interval=0.0)
        async with open_world(settings, {"getatext": client}) as world:
            yield world.app  # its bot is the emulator's (the fixture ``bot``), not the world's


async def test_one_number_for_several_services_one_topic_named_for_all(getatext_app, emu, bot):
    app = getatext_app
    ann = await group(app, emu, bot)
    await credit(app, FORUM, 4000)
    await topics_on(ann)
    await ann.send("/rent@rent_test_bot telegram")
    await ann.press("Telegram")
    await ann.press("Same number, more services")
    await ann.press("Whatsapp")
    await ann.press("Continue")
    await ann.press("Rent all for")
    first, second = [await app.rentals.rentals.get(r["id"]) for r in
                     await app.db.fetchall("SELECT id FROM rentals ORDER BY id")]
    assert second.set_id == first.id and first.topic_state == "open" and second.topic_state is None
    [topic] = emu.chat_topics(FORUM)
    assert topic["name"].startswith("Telegram + Whatsapp · ") and topic["message_thread_id"] == first.topic_id
    assert "its own topic" in ann.screen()["text"]


async def test_a_number_the_reconciler_confirmed_gets_its_topic_with_its_card(app, emu, bot, provider):
    """The rent reply was lost (pending), the provider had rented it: the reconciler links it, and the number gets
    its topic and card as the tap would have given it."""
    from providers import errors

    ann = await group(app, emu, bot)
    await topics_on(ann)
    provider.fail_rent = errors.OutcomeUnknownError("request timed out; outcome unknown", provider=provider.name)
    await ann.send("/rent@rent_test_bot telegram")
    await ann.press("Telegram")
    await ann.press("$1.10")
    await ann.press("Rent for")
    [pending] = (await app.rentals.rentals.for_chat(FORUM))[0]
    assert pending.status == "pending" and emu.chat_topics(FORUM) == []
    await provider.rent((await provider.list_offers(provider.services[0]))[0])  # what the provider did
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE rentals SET created_at = ? WHERE id = ?",
                           ((utcnow() - timedelta(minutes=1)).isoformat(), pending.id))
    background = Background(app, bot, Limits.unlimited())
    assert await background.jobs.reconcile() == 1
    rental = await app.rentals.rentals.get(pending.id)
    [topic] = emu.chat_topics(FORUM)
    assert rental.status == "active" and rental.topic_id == topic["message_thread_id"]
    [card] = [m for m in emu.topic_messages(FORUM, topic["message_thread_id"]) if m["from"]["is_bot"] and "text" in m]
    assert phones.display(rental.phone) in card["text"]
    await push(background, provider, rental, "Telegram code: 40777")
    assert any("40777" in text for text in texts(emu, topic["message_thread_id"]))
