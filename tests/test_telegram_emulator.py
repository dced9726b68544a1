"""The Telegram Bot API emulator, driven by a real aiogram Bot + Dispatcher."""
from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command, CommandStart
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)

from playground.emulator import DEFAULT_TOKEN, EmulatorError, TelegramEmulator
from playground.stack import wait_until

ALICE, BOB, CAROL = 111, 222, 333
GROUP = -4001


@pytest.fixture
async def emu():
    async with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu):
    bot = Bot(emu.token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
    yield bot
    await bot.session.close()


@contextlib.asynccontextmanager
async def polling(emu: TelegramEmulator, dp: Dispatcher, bot: Bot):
    calls_before = len(emu.calls_to("getUpdates"))
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
    await emu.wait_for_call("getUpdates", count=calls_before + 1)
    try:
        yield
    finally:
        await dp.stop_polling()
        await task


def menu_router() -> Router:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="Rent a number", callback_data="rent"),
            InlineKeyboardButton(text="Help", url="https://example.com/help"),
        ]])
        await message.answer(f"<b>Hello, {message.from_user.first_name}!</b> Pick an action:",
                             parse_mode="HTML", reply_markup=keyboard)

    @router.callback_query(F.data == "rent")
    async def rent(query: CallbackQuery) -> None:
        await query.message.edit_text("Choose a country", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="🇺🇸 USA", callback_data="country:us")]]))
        await query.answer("OK")

    return router


async def test_start_button_edit_flow(emu, bot):
    emu.add_user(ALICE, "Alice", username="alice")
    dp = Dispatcher()
    dp.include_router(menu_router())
    async with polling(emu, dp, bot):
        sent = emu.send_message(ALICE, ALICE, "/start")
        assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
        greeting = await emu.wait_for(chat_id=ALICE, text="Pick an action")
        assert greeting["text"] == "Hello, Alice! Pick an action:"
        assert greeting["entities"][0] == {"type": "bold", "offset": 0, "length": 13}

        with pytest.raises(EmulatorError, match="not a callback button"):
            emu.press_button(ALICE, ALICE, greeting["message_id"], text="Help")
        query_id = emu.press_button(ALICE, ALICE, greeting["message_id"], text="Rent a number")
        edited = await emu.wait_for(chat_id=ALICE, text="Choose a country")
        await emu.wait_for_call("answerCallbackQuery")

    assert edited["message_id"] == greeting["message_id"] and "edit_date" in edited
    assert emu.callback_answers[query_id]["text"] == "OK"
    assert emu.unanswered_callbacks() == []
    assert [m["text"] for m in emu.messages(ALICE)] == ["/start", "Choose a country"]
    assert [(h["action"], h["method"]) for h in emu.history(ALICE)] == [
        ("send", "sendMessage"), ("edit", "editMessageText")]
    assert emu.history(ALICE)[0]["params"]["parse_mode"] == "HTML"
    with pytest.raises(EmulatorError, match="no button"):
        emu.press_button(ALICE, ALICE, greeting["message_id"], text="Rent a number")  # keyboard was replaced
    assert {c["method"] for c in emu.calls} >= {"getMe", "getUpdates", "sendMessage", "editMessageText"}


async def test_bot_api_errors(emu, bot):
    emu.add_user(ALICE, "Alice")
    me = await bot.get_me()
    assert (me.username, me.is_bot) == ("rentsms_test_bot", True)

    msg = await bot.send_message(ALICE, "Balance: 5 USD", link_preview_options={"is_disabled": True})
    assert msg.chat.first_name == "Alice" and msg.from_user.id == me.id
    assert emu.messages(ALICE)[-1]["link_preview_options"] == {"is_disabled": True}
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Balance: 5 USD", chat_id=ALICE, message_id=msg.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE, message_id=999)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hi")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(ALICE, "1 < 2 <b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="reserved"):
        await bot.send_message(ALICE, "Price: 1.5", parse_mode="MarkdownV2")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE, "x", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="long", callback_data="x" * 65)]]))
    with pytest.raises(TelegramNotFound, match="method not found"):
        await bot.send_dice(ALICE)
    assert emu.unknown_methods == ["sendDice"]

    edited = await bot.edit_message_reply_markup(chat_id=ALICE, message_id=msg.message_id,
                                                 reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
                                                     InlineKeyboardButton(text="Top up", callback_data="topup")]]))
    assert edited.reply_markup.inline_keyboard[0][0].text == "Top up"
    assert await bot.delete_message(ALICE, msg.message_id) is True
    assert emu.messages(ALICE) == []
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ALICE, msg.message_id)

    emu.block_bot(ALICE)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ALICE, "come back")
    emu.add_user(BOB, "Bob", started=False)
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(BOB, "hello")

    stranger = Bot("42:wrong-token", session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    finally:
        await stranger.session.close()


async def test_spoiler_entities_and_deleting_in_a_group(emu, bot):
    """Codes under a spoiler and deleted after N minutes (issue 18): <tg-spoiler> and <span class="tg-spoiler">
    become spoiler entities; deleteMessage removes the bot's message once, and refuses one older than 48 hours."""
    emu.create_group(GROUP, "Renters", {ALICE: "creator", BOB: "member"})
    sent = await bot.send_message(GROUP, "🔑 <tg-spoiler><code>48213</code></tg-spoiler> — Telegram\n"
                                         '<blockquote><span class="tg-spoiler">code 48213</span></blockquote>',
                                  parse_mode="HTML")
    assert sent.text == "🔑 48213 — Telegram\ncode 48213"
    units = sent.text.encode("utf-16-le")  # entity offsets count UTF-16 code units (🔑 is two)
    kinds = {(e.type, units[2 * e.offset:2 * (e.offset + e.length)].decode("utf-16-le")) for e in sent.entities}
    assert ("spoiler", "48213") in kinds and ("code", "48213") in kinds and ("spoiler", "code 48213") in kinds
    [stored] = [m for m in emu.messages(GROUP) if m["message_id"] == sent.message_id]
    assert {"type": "spoiler", "offset": 3, "length": 5} in stored["entities"]  # "🔑 ": three units

    assert await bot.delete_message(GROUP, sent.message_id) is True
    assert all(m["message_id"] != sent.message_id for m in emu.messages(GROUP))
    assert [h["method"] for h in emu.history(GROUP)][-1] == "deleteMessage"
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(GROUP, sent.message_id)

    old = await bot.send_message(GROUP, "an old code")
    emu._msgs[GROUP][old.message_id]["date"] -= 49 * 3600  # sent two days ago
    with pytest.raises(TelegramBadRequest, match="message can't be deleted"):
        await bot.delete_message(GROUP, old.message_id)
    assert any(m["message_id"] == old.message_id for m in emu.messages(GROUP))


async def test_commands_and_noops(emu, bot):
    await bot.delete_webhook(drop_pending_updates=True)
    await bot.set_my_commands([BotCommand(command="rent", description="Rent a number"),
                               BotCommand(command="balance", description="Your balance")])
    assert [c.command for c in await bot.get_my_commands()] == ["rent", "balance"]
    assert emu.commands == [{"command": "rent", "description": "Rent a number"},
                            {"command": "balance", "description": "Your balance"}]
    await bot.set_my_commands([BotCommand(command="start", description="Start")], language_code="ru")
    assert emu.commands_for(language_code="ru") == [{"command": "start", "description": "Start"}]
    assert await bot.delete_my_commands() is True
    assert emu.commands == []
    assert await bot.set_my_description("Rents numbers") is True
    assert await bot.set_my_short_description("SMS") is True
    assert await bot.set_chat_menu_button() is True
    assert (await bot.get_my_description()).description == "Rents numbers"
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Rent-Now", description="x")])


async def test_get_updates_long_poll_offsets(emu, bot):
    emu.add_user(ALICE, "Alice")
    started = time.monotonic()
    assert await bot.get_updates(timeout=0) == []
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    first = emu.send_message(ALICE, ALICE, "one")
    updates = await poll
    assert time.monotonic() - started < 2
    assert [u.message.text for u in updates] == ["one"] and updates[0].message.message_id == first["message_id"]
    emu.send_message(ALICE, ALICE, "two")
    emu.send_message(ALICE, ALICE, "three")
    again = await bot.get_updates(offset=updates[0].update_id, limit=2)  # not confirmed yet: still there
    assert [u.message.text for u in again] == ["one", "two"]
    last = await bot.get_updates(offset=again[-1].update_id + 1)  # confirms "one" and "two"
    assert [u.message.text for u in last] == ["three"]
    assert [u["message"]["text"] for u in emu.pending_updates] == ["three"]
    emu.send_message(ALICE, ALICE, "four")
    assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["four"]
    started = time.monotonic()
    assert await bot.get_updates(offset=last[-1].update_id + 2, timeout=1) == []
    assert 0.9 < time.monotonic() - started < 2

    older = asyncio.create_task(bot.get_updates(offset=last[-1].update_id + 2, timeout=5))
    await asyncio.sleep(0.05)
    assert await bot.get_updates(offset=last[-1].update_id + 2) == []  # a second poller terminates the first
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await older


async def test_webhook_on_the_token_refuses_get_updates_until_deleted(emu, bot):
    emu.add_user(ALICE, "Alice")
    emu.send_message(ALICE, ALICE, "sent while the webhook was set")
    emu.set_webhook("https://old.example/hook/s3cret")
    assert (await bot.get_webhook_info()).url == "https://old.example/hook/s3cret"
    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates(timeout=0)

    assert await bot.delete_webhook() is True  # pending updates kept unless asked
    assert (await bot.get_webhook_info()).url == ""
    kept = await bot.get_updates()
    assert [u.message.text for u in kept] == ["sent while the webhook was set"]
    waiting = asyncio.create_task(bot.get_updates(offset=kept[-1].update_id + 1, timeout=5))
    await asyncio.sleep(0.05)
    emu.set_webhook()  # set by another tool while a long poll waits: Telegram ends that poll too
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await waiting

    await bot.set_webhook("")  # an empty url removes it, as on Telegram
    emu.send_message(ALICE, ALICE, "to be dropped")
    assert (await bot.get_webhook_info()).pending_update_count == 1
    await bot.set_webhook("https://new.example/hook", drop_pending_updates=True)
    assert (await bot.get_webhook_info()).pending_update_count == 0
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == []


async def test_fail_next_answers_errors_then_recovers(emu, bot):
    menu = [BotCommand(command="rent", description="Rent a number")]
    emu.fail_next("setMyCommands", 502, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.set_my_commands(menu)
    emu.fail_next("setMyCommands", 0)  # the connection ends without an answer
    with pytest.raises(TelegramNetworkError):
        await bot.set_my_commands(menu)
    assert await bot.set_my_commands(menu) is True
    assert [c["command"] for c in emu.commands] == ["rent"]
    assert [c.get("error_code") for c in emu.calls_to("setMyCommands")] == [502, 502, 0, None]
    assert (await bot.get_me()).username == "rentsms_test_bot"  # other methods never failed


async def test_flood_limits(emu, bot):
    emu.add_user(ALICE, "Alice")
    emu.create_group(GROUP, "Renters", {ALICE: "creator"})
    emu.set_flood_limits(True)
    first = await bot.send_message(ALICE, "first")  # a short burst is allowed in a private chat ...
    await bot.send_message(ALICE, "second")
    with pytest.raises(TelegramRetryAfter) as edit_err:  # ... and an edit counts against it like a send
        await bot.edit_message_text("first, edited", chat_id=ALICE, message_id=first.message_id)
        await bot.send_message(ALICE, "fourth")
    assert edit_err.value.retry_after == 1
    for n in range(20):
        news = await bot.send_message(GROUP, f"news {n}")
    with pytest.raises(TelegramRetryAfter) as group_err:
        await bot.send_message(GROUP, "one too many")
    assert 59 <= group_err.value.retry_after <= 60
    with pytest.raises(TelegramRetryAfter):  # a group's 20 a minute hold for edits too
        await bot.edit_message_text("edited", chat_id=GROUP, message_id=news.message_id)
    assert emu.flood_429_count == 3
    assert emu.calls[-1]["error_code"] == 429
    emu.set_flood_limits(False)
    await bot.send_message(GROUP, "flood limits off")


async def test_group_membership_kick_and_migration(emu, bot):
    events: list[tuple[int, str]] = []
    router = Router()

    @router.my_chat_member()
    async def my_member(update: ChatMemberUpdated) -> None:
        events.append((update.chat.id, update.new_chat_member.status))

    dp = Dispatcher()
    dp.include_router(router)
    async with polling(emu, dp, bot):
        emu.create_group(GROUP, "Renters", {ALICE: "creator", BOB: "administrator", CAROL: "member"})
        for _ in range(100):
            if events:
                break
            await asyncio.sleep(0.01)
        assert events == [(GROUP, "member")]

        statuses = {uid: (await bot.get_chat_member(GROUP, uid)).status for uid in (ALICE, BOB, CAROL)}
        assert statuses == {ALICE: "creator", BOB: "administrator", CAROL: "member"}
        admins = await bot.get_chat_administrators(GROUP)
        assert {a.user.id for a in admins} == {ALICE, BOB}
        chat = await bot.get_chat(GROUP)
        assert (chat.type, chat.title) == ("group", "Renters")
        assert (await bot.get_chat_member(GROUP, emu.bot_user["id"])).status == "member"

        new_id = emu.migrate_group_to_supergroup(GROUP)
        with pytest.raises(TelegramMigrateToChat) as migrated:
            await bot.send_message(GROUP, "hello")
        assert migrated.value.migrate_to_chat_id == new_id
        service = emu.messages(GROUP)[-1], emu.messages(new_id)[-1]
        assert service[0]["migrate_to_chat_id"] == new_id and service[1]["migrate_from_chat_id"] == GROUP
        assert (await bot.send_message(new_id, "moved")).chat.type == "supergroup"

        emu.remove_bot_from_group(new_id)
        for _ in range(100):
            if len(events) == 2:
                break
            await asyncio.sleep(0.01)
        assert events[-1] == (new_id, "kicked")
        with pytest.raises(TelegramForbiddenError, match="bot was kicked from the supergroup chat"):
            await bot.send_message(new_id, "still here?")


async def test_invoice_payment_reaches_handler_once(emu, bot):
    payments: list[str] = []
    deliveries: list[str] = []
    router = Router()

    @router.message(Command("buy"))
    async def buy(message: Message) -> None:
        await message.answer_invoice(title="100 credits", description="Top up", payload="topup:100",
                                     currency="XTR", prices=[LabeledPrice(label="100 credits", amount=50)])

    @router.pre_checkout_query()
    async def checkout(query: PreCheckoutQuery) -> None:
        await query.answer(ok=query.invoice_payload.startswith("topup:"), error_message="unknown product")

    @router.message(F.successful_payment)
    async def paid(message: Message) -> None:
        charge = message.successful_payment.telegram_payment_charge_id
        deliveries.append(charge)
        if charge in payments:
            return  # idempotent: a redelivered update does not credit twice
        payments.append(charge)
        await message.answer(f"Paid {message.successful_payment.total_amount} stars")

    emu.add_user(ALICE, "Alice")
    dp = Dispatcher()
    dp.include_router(router)
    async with polling(emu, dp, bot):
        emu.send_message(ALICE, ALICE, "/buy")
        invoice = await emu.wait_for(chat_id=ALICE, predicate=lambda m: "invoice" in m)
        assert invoice["invoice"] == {"title": "100 credits", "description": "Top up", "start_parameter": "",
                                      "currency": "XTR", "total_amount": 50}
        outcome = await emu.pay_invoice(ALICE, ALICE, invoice["message_id"])
        assert outcome["status"] == "paid"
        await emu.wait_for(chat_id=ALICE, text="Paid 50 stars")
        emu.resend_update(outcome["update_id"])
        for _ in range(200):
            if len(deliveries) == 2:
                break
            await asyncio.sleep(0.01)

    assert deliveries == [outcome["telegram_payment_charge_id"]] * 2  # the redelivered copy carries the same id

    assert payments == [outcome["telegram_payment_charge_id"]]
    assert len([m for m in emu.bot_messages(ALICE) if m.get("text", "").startswith("Paid")]) == 1
    assert emu.pre_checkout_answers[outcome["pre_checkout_query_id"]]["ok"] is True
    assert await bot.refund_star_payment(ALICE, outcome["telegram_payment_charge_id"]) is True
    with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(ALICE, outcome["telegram_payment_charge_id"])


async def test_the_playground_shows_invoice_amounts_in_major_units(emu, bot, tmp_path):
    # Telegram counts prices in the currency's smallest units: 1000 EUR cents is €10.00, Stars have none.
    from types import SimpleNamespace

    from playground.server import Playground

    pg = Playground(SimpleNamespace(emulator=emu), tmp_path / "none.sqlite3")
    emu.add_user(ALICE, "Alice")
    card = await bot.send_invoice(ALICE, title="Top up", description="Card", payload="card:1000", currency="EUR",
                                  prices=[LabeledPrice(label="Top up", amount=1000)], provider_token="test")
    yen = await bot.send_invoice(ALICE, title="Top up", description="Card", payload="card:500", currency="JPY",
                                 prices=[LabeledPrice(label="Top up", amount=500)], provider_token="test")
    stars = await bot.send_invoice(ALICE, title="Top up", description="Stars", payload="stars:50", currency="XTR",
                                   prices=[LabeledPrice(label="Top up", amount=50)])
    shown = {m["message_id"]: pg.render_message(ALICE, m)["invoice"]["amount_text"]
             for m in emu.messages(ALICE) if "invoice" in m}
    assert [shown[card.message_id], shown[yen.message_id], shown[stars.message_id]] == ["€10.00", "¥500", "⭐ 50"]
    paid = {"message_id": 99, "date": 0, "chat": {"id": ALICE}, "from": {"id": ALICE, "first_name": "Alice"},
            "successful_payment": {"currency": "EUR", "total_amount": 1000}}
    assert pg.render_message(ALICE, paid)["service"] == f"Alice paid €10.00 to {emu.bot_user['first_name']}"


async def test_unanswered_pre_checkout_times_out(emu, bot):
    emu.add_user(ALICE, "Alice")
    invoice = await bot.send_invoice(ALICE, title="Credits", description="Top up", payload="p", currency="XTR",
                                     prices=[LabeledPrice(label="Credits", amount=10)])
    outcome = await emu.pay_invoice(ALICE, ALICE, invoice.message_id, timeout=0.1)
    assert outcome["status"] == "timeout"
    query_id = (await bot.get_updates())[-1].pre_checkout_query.id
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_pre_checkout_query(query_id, ok=True)


async def test_http_control_and_raw_bot_api(emu):
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=5) as http:
        async def control(path: str, **body):
            response = await http.post(f"/_control/{path}", json=body)
            assert response.status_code == 200, response.text
            return response.json()["result"]

        await control("users", user_id=ALICE, first_name="Alice", username="alice")
        await control("groups", chat_id=GROUP, title="Renters", members={str(ALICE): "creator"})
        api = f"/bot{emu.token}"
        # aiogram-style form post: nested objects are JSON strings inside form fields
        sent = (await http.post(f"{api}/sendMessage", data={
            "chat_id": str(ALICE), "text": "Pick one",
            "reply_markup": '{"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}'})).json()
        assert sent["ok"] and sent["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "go"
        mid = sent["result"]["message_id"]
        # JSON body
        group_msg = (await http.post(f"{api}/sendMessage", json={"chat_id": GROUP, "text": "hi group"})).json()
        assert group_msg["result"]["chat"] == {"id": GROUP, "type": "group", "title": "Renters"}

        user_msg = await control("send", chat_id=ALICE, user_id=ALICE, text="/rent@rentsms_test_bot")
        assert user_msg["entities"] == [{"type": "bot_command", "offset": 0, "length": 22}]
        # privacy mode: in groups the bot only gets commands addressed to it, replies and mentions
        await control("send", chat_id=GROUP, user_id=ALICE, text="hello everyone")
        await control("send", chat_id=GROUP, user_id=ALICE, text="/rent@other_bot")
        await control("send", chat_id=GROUP, user_id=ALICE, text="/rent")
        pressed = await control("press", chat_id=ALICE, user_id=ALICE, message_id=mid, callback_data="go")
        assert pressed["callback_query_id"]
        missing = await http.post("/_control/press", json={"chat_id": ALICE, "user_id": ALICE, "message_id": mid,
                                                           "text": "Nope"})
        assert missing.status_code == 400 and "no button" in missing.json()["error"]

        messages = (await http.get(f"/_control/chats/{ALICE}/messages")).json()["result"]
        assert [m["text"] for m in messages] == ["Pick one", "/rent@rentsms_test_bot"]
        group_texts = [m.get("text") for m in (await http.get(f"/_control/chats/{GROUP}/messages")).json()["result"]]
        assert group_texts == [None, "hi group", "hello everyone", "/rent@other_bot", "/rent"]
        updates = (await http.get(f"{api}/getUpdates")).json()["result"]
        kinds = [next(k for k in u if k != "update_id") for u in updates]
        assert kinds == ["my_chat_member", "message", "message", "message", "callback_query"]
        assert [u["message"].get("text") for u in updates if "message" in u] == [
            None, "/rent@rentsms_test_bot", "/rent"]  # None: the new_chat_members service message

        unknown = await http.post(f"{api}/sendStory", json={})
        assert unknown.status_code == 404
        assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        wrong = await http.post("/bot1:nope/getMe")
        assert wrong.status_code == 401
        assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}

        await control("block", user_id=ALICE)
        blocked = await http.post(f"{api}/sendMessage", json={"chat_id": ALICE, "text": "x"})
        assert blocked.status_code == 403 and blocked.json()["description"] == "Forbidden: bot was blocked by the user"

        assert (await control("flood", enabled=True)) == {"enabled": True, "count_429": 0}
        await http.post(f"{api}/sendMessage", json={"chat_id": GROUP, "text": "1"})
        calls = (await http.get("/_control/calls", params={"method": "sendMessage"})).json()["result"]
        assert [c.get("error_code") for c in calls] == [None, None, 403, None]
        state = (await http.get("/_control/state")).json()["result"]
        assert state["unknown_methods"] == ["sendStory"] and state["flood_limits"] is True

        assert (await control("webhook", url="https://old.example/hook")) == {"url": "https://old.example/hook"}
        refused = await http.get(f"{api}/getUpdates")
        assert refused.status_code == 409 and "webhook is active" in refused.json()["description"]
        await http.post(f"{api}/deleteWebhook")
        await control("fail", method="getMe", status=500)
        assert (await http.post(f"{api}/getMe")).json() == {"ok": False, "error_code": 500,
                                                           "description": "Internal Server Error"}
        assert (await http.post(f"{api}/getMe")).json()["ok"] is True


def test_standalone_cli_prints_url():
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "playground.emulator", "--port", "0"], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        me = httpx.get(f"{url}/bot{DEFAULT_TOKEN}/getMe", timeout=5).json()
        assert me["result"]["username"] == "rentsms_test_bot"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stdout.close()


async def test_set_webhook_posts_each_update_in_order_with_the_secret_and_retries_a_refusal(emu, bot):
    """Telegram's webhook as the bot's webhook mode meets it: POST, secret header, kept until a 2xx."""
    from aiohttp import web

    received, answers = [], [503]  # the first answer refuses: the update must come again

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/telegram", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        emu.add_user(ALICE, "Alice")
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/telegram", secret_token="s3cret-token_ok",
                                     allowed_updates=["message"])
        with pytest.raises(TelegramConflictError):
            await bot.get_updates(timeout=0)
        emu.send_message(ALICE, ALICE, "first")
        emu.send_message(ALICE, ALICE, "second")
        await wait_until(lambda: len(received) == 3, 5.0, "three deliveries")
        assert [secret for secret, _ in received] == ["s3cret-token_ok"] * 3
        assert [u["message"]["text"] for _, u in received] == ["first", "first", "second"]  # refused, then again
        assert [d["status"] for d in emu.webhook_deliveries] == [503, 200, 200]
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 0 and info.allowed_updates == ["message"]

        assert await bot.delete_webhook()
        emu.send_message(ALICE, ALICE, "after delete")
        [update] = await bot.get_updates()
        assert update.message.text == "after delete" and len(received) == 3
    finally:
        await runner.cleanup()


async def test_set_webhook_refuses_a_secret_token_telegram_would_refuse(emu, bot):
    with pytest.raises(TelegramBadRequest, match="secret token contains unallowed characters"):
        await bot.set_webhook("http://127.0.0.1:9/telegram", secret_token="has space")


FORUM = -100777


async def test_forum_topics_create_send_close_delete(emu, bot):
    emu.add_user(ALICE, "Alice")
    emu.create_group(FORUM, "Team", {ALICE: "creator"}, forum=True)
    plain = -100778
    emu.create_group(plain, "Plain", {ALICE: "creator"}, supergroup=True)
    assert (await bot.get_chat(FORUM)).is_forum is True
    assert not (await bot.get_chat(plain)).is_forum
    # a member bot, then an admin without the right: refused; with it: created
    with pytest.raises(TelegramBadRequest, match="not enough rights to create a topic"):
        await bot.create_forum_topic(FORUM, "WhatsApp")
    emu.set_bot_rights(FORUM, can_manage_topics=False)
    me = await bot.get_chat_member(FORUM, emu.bot_user["id"])
    assert me.status == "administrator" and me.can_manage_topics is False
    with pytest.raises(TelegramBadRequest, match="not enough rights to create a topic"):
        await bot.create_forum_topic(FORUM, "WhatsApp")
    emu.set_bot_rights(FORUM, can_manage_topics=True)
    assert (await bot.get_chat_member(FORUM, emu.bot_user["id"])).can_manage_topics is True
    emu.set_bot_rights(plain)
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(plain, "WhatsApp")
    topic = await bot.create_forum_topic(FORUM, "WhatsApp · +1 555 0100")
    assert topic.name == "WhatsApp · +1 555 0100" and topic.icon_color == 7322096
    with pytest.raises(TelegramBadRequest, match="TOPIC_TITLE_INVALID"):
        await bot.create_forum_topic(FORUM, "x" * 129)

    sent = await bot.send_message(FORUM, "code 1234", message_thread_id=topic.message_thread_id)
    assert sent.message_thread_id == topic.message_thread_id and sent.is_topic_message
    general = await bot.send_message(FORUM, "hello all")
    assert general.message_thread_id is None
    assert [m.get("text") for m in emu.topic_messages(FORUM, topic.message_thread_id)] == [None, "code 1234"]
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(FORUM, "x", message_thread_id=9999)

    # a person closes it: sends refused; the bot reopens its own topic, then closes it
    emu.close_topic(FORUM, topic.message_thread_id, by_user_id=ALICE)
    assert emu.chat_topics(FORUM)[0]["closed"] is True
    with pytest.raises(TelegramBadRequest, match="TOPIC_CLOSED"):
        await bot.send_message(FORUM, "x", message_thread_id=topic.message_thread_id)
    assert await bot.reopen_forum_topic(FORUM, topic.message_thread_id)
    assert await bot.edit_forum_topic(FORUM, topic.message_thread_id, name="WhatsApp · ended")
    assert await bot.close_forum_topic(FORUM, topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await bot.close_forum_topic(FORUM, topic.message_thread_id)
    closed = [m for m in emu.messages(FORUM) if "forum_topic_closed" in m]
    assert [m["from"]["id"] for m in closed] == [ALICE, emu.bot_user["id"]]

    # a person deletes it: its messages go, later sends are not found
    emu.delete_topic(FORUM, topic.message_thread_id)
    assert emu.chat_topics(FORUM) == [] and emu.topic_messages(FORUM, topic.message_thread_id) == []
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(FORUM, "x", message_thread_id=topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.close_forum_topic(FORUM, topic.message_thread_id)
    other = await bot.create_forum_topic(FORUM, "Telegram · +44")
    assert await bot.delete_forum_topic(FORUM, other.message_thread_id)
    assert [m.get("text") for m in emu.messages(FORUM) if m.get("text")] == ["hello all"]


async def test_forum_control_endpoints(emu):
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=5) as http:
        async def control(path: str, **body):
            response = await http.post(f"/_control/{path}", json=body)
            assert response.status_code == 200, response.text
            return response.json()["result"]

        await control("users", user_id=ALICE, first_name="Alice")
        await control("groups", chat_id=FORUM, title="Team", members={str(ALICE): "creator"}, supergroup=True)
        await control(f"groups/{FORUM}/forum", enabled=True)
        await control(f"groups/{FORUM}/bot_rights", can_manage_topics=True)
        api = f"/bot{emu.token}"
        topic = (await http.post(f"{api}/createForumTopic", json={"chat_id": FORUM, "name": "SMS"})).json()["result"]
        thread = topic["message_thread_id"]
        await control("send", chat_id=FORUM, user_id=ALICE, text="hi", message_thread_id=thread)
        await control(f"groups/{FORUM}/topics/{thread}/close", by_user_id=ALICE)
        refused = (await http.post(f"{api}/sendMessage", json={"chat_id": FORUM, "text": "x",
                                                               "message_thread_id": thread})).json()
        assert refused == {"ok": False, "error_code": 400, "description": "Bad Request: TOPIC_CLOSED"}
        topics = (await http.get(f"/_control/chats/{FORUM}/topics")).json()["result"]
        assert topics == [{"message_thread_id": thread, "name": "SMS", "icon_color": 7322096, "closed": True}]
        await control(f"groups/{FORUM}/topics/{thread}/delete")
        gone = (await http.post(f"{api}/sendMessage", json={"chat_id": FORUM, "text": "x",
                                                            "message_thread_id": thread})).json()
        assert gone["description"] == "Bad Request: message thread not found"
        state = (await http.get("/_control/state")).json()["result"]
        assert next(c for c in state["chats"] if c["id"] == FORUM)["is_forum"] is True


async def test_a_chat_picked_with_a_request_chat_button(emu, bot):
    """Telegram's chat picker: a private chat's reply keyboard asks for a chat; the picker lists the groups that
    match the button (the user an admin when rights are asked of them, the bot a member), and the pick reaches the
    bot as a message with chat_shared (its title only when asked). Not in groups: private chats only."""
    emu.add_user(ALICE, "Alice")
    emu.add_user(BOB, "Bob")
    emu.create_group(-100501, "Run by Alice", {ALICE: "creator", BOB: "member"})
    emu.create_group(-100502, "Alice a member", {ALICE: "member", BOB: "creator"})
    emu.create_group(-100503, "Without the bot", {ALICE: "creator"})
    emu.remove_bot_from_group(-100503)
    picker = {"keyboard": [[{"text": "Pick a group", "request_chat": {
        "request_id": 7, "chat_is_channel": False, "bot_is_member": True, "request_title": True,
        "user_administrator_rights": {"is_anonymous": False, "can_manage_chat": False}}}]],
        "one_time_keyboard": True, "resize_keyboard": True}
    await bot.send_message(ALICE, "Pick", reply_markup=picker)
    assert emu.shareable_chats(ALICE, 7) == [{"id": -100501, "title": "Run by Alice"}]
    with pytest.raises(EmulatorError, match="not one the picker offers"):
        emu.share_chat(ALICE, 7, -100502)
    with pytest.raises(EmulatorError, match="no reply button request_chat 8"):
        emu.share_chat(ALICE, 8, -100501)
    shared = emu.share_chat(ALICE, 7, -100501)
    assert shared["chat_shared"] == {"request_id": 7, "chat_id": -100501, "title": "Run by Alice"}
    assert ALICE not in emu.reply_keyboards  # one-time: gone once used
    with pytest.raises(TelegramBadRequest, match="BUTTON_TYPE_INVALID"):
        await bot.send_message(-100501, "Pick", reply_markup=picker)


async def test_a_reply_keyboards_text_button_sends_its_text_and_a_one_time_keyboard_hides(emu, bot):
    """A plain button of a reply keyboard sends its label as the user's message; a one-time keyboard hides once
    used, a lasting one stays; a label the keyboard does not have (or a button asking for a chat) is refused."""
    emu.add_user(ALICE, "Alice")
    lasting = {"keyboard": [["Yes", {"text": "No"}], [{"text": "Pick", "request_chat": {"request_id": 3}}]]}
    await bot.send_message(ALICE, "Sure?", reply_markup=lasting)
    with pytest.raises(EmulatorError, match="no reply button 'Pick'"):
        emu.press_reply_button(ALICE, ALICE, "Pick")
    assert emu.press_reply_button(ALICE, ALICE, "No")["text"] == "No"
    assert emu.reply_keyboards[ALICE]["keyboard"] == lasting["keyboard"]
    await bot.send_message(ALICE, "Once?", reply_markup={"keyboard": [[{"text": "Once"}]], "one_time_keyboard": True})
    with pytest.raises(EmulatorError, match="no reply button 'Yes'"):
        emu.press_reply_button(ALICE, ALICE, "Yes")
    assert emu.press_reply_button(ALICE, ALICE, "Once")["text"] == "Once"
    assert ALICE not in emu.reply_keyboards
    assert [m.get("text") for m in emu.messages(ALICE) if m["from"]["id"] == ALICE] == ["No", "Once"]


async def test_send_document_uploads_a_file_the_page_can_download(emu, bot):
    """sendDocument as Telegram takes it: a multipart upload with a caption (parsed like text), the message's
    document naming the file; the bytes are kept for the playground page's download; a missing file is a 400."""
    from aiogram.types import BufferedInputFile

    emu.add_user(ALICE, "Alice")
    sent = await bot.send_document(ALICE, BufferedInputFile(b"day,revenue\n2026-12-06,1.10\n", filename="revenue.csv"),
                                   caption="Revenue, <b>30</b> days", parse_mode="HTML")
    assert sent.document.file_name == "revenue.csv" and sent.document.file_size == 28
    assert sent.caption == "Revenue, 30 days" and sent.caption_entities[0].type == "bold"
    assert emu.files[sent.document.file_id][2] == b"day,revenue\n2026-12-06,1.10\n"
    again = await bot.send_document(ALICE, sent.document.file_id)  # by file_id, as Telegram allows
    assert again.document.file_id == sent.document.file_id
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_document(ALICE, "no-such-file")
    assert [h["method"] for h in emu.history(ALICE)] == ["sendDocument", "sendDocument"]
