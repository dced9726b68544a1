"""End-to-end: the real `python -m bot` process, driven through the Telegram emulator's control API, renting from
the fake providers. Each test gets a fresh Stack (emulator + fakes + bot) in its tmp_path."""
from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import time
from dataclasses import dataclass

import pytest

from playground.stack import Stack, wait_until

pytestmark = [pytest.mark.e2e]

OP = 900  # the operator (ADMIN_IDS)
BOT = "@rentsms_test_bot"
T = 15.0  # generous timeout for one bot reaction
# After an empty answer to a tap: how long its screen may still take (a tap that changes none waits this).
SCREEN_WAIT = 5.0
GOTSMS_DAY = ("GotSMS", "1 day")  # $1.00 + 10 % = $1.10
GETATEXT_SHORT = ("GetAText",)  # $0.45 + 10 % = $0.50 (rounded up)


async def _teardown(stack: Stack) -> None:
    # SIGKILL: a gentle stop costs ~1 s of interpreter shutdown per test; test_stars_topup_credited_once checks
    # that SIGTERM ends the bot cleanly.
    await stack.kill_bot()
    await stack.stop()


@pytest.fixture
async def stack(tmp_path):
    stack = Stack(tmp_path)
    await stack.start()
    yield stack
    await _teardown(stack)


# ------------------------------------------------------------------------------------------------ acting as users
@dataclass
class Pressed:
    answer: dict  # the callback answer: text, show_alert, ...
    screen: dict  # the pressed message as it is after the bot's handler finished


class Person:
    """A user acting in one chat (their private chat unless chat_id is given)."""

    def __init__(self, stack: Stack, user_id: int, name: str, *, chat_id: int | None = None,
                 username: str | None = None) -> None:
        self.stack, self.user_id, self.name = stack, user_id, name
        self.chat_id = user_id if chat_id is None else chat_id
        if user_id not in stack.emulator.users:
            stack.emulator.add_user(user_id, name, username=username)

    @property
    def emu(self):
        return self.stack.emulator

    def in_chat(self, chat_id: int) -> Person:
        return Person(self.stack, self.user_id, self.name, chat_id=chat_id)

    def command(self, text: str) -> str:
        """In groups (privacy mode) commands are addressed to the bot: /rent@bot args."""
        if self.chat_id > 0:
            return text
        head, _, rest = text.partition(" ")
        return f"{head}{BOT} {rest}".rstrip()

    async def send(self, text: str, expect: str | None = None, timeout: float = T) -> dict:
        """Write in the chat; return the bot's first message after it (containing ``expect``)."""
        mark = self.emu.mark()
        self.emu.send_message(self.chat_id, self.user_id, text)
        return await self.emu.wait_for(chat_id=self.chat_id, text=expect, since=mark, timeout=timeout)

    async def press(self, label: str | tuple[str, ...], message: dict | None = None, timeout: float = T) -> Pressed:
        """Tap the button whose label contains every part of ``label`` on ``message`` (default: the newest bot
        message in the chat that has one); return once the bot answered the callback (its handler is done)."""
        parts = (label,) if isinstance(label, str) else label
        candidates = [message] if message else reversed(self.emu.bot_messages(self.chat_id))
        for msg in candidates:
            current = self.current(msg["message_id"])
            buttons = [b for row in (current.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
            match = [b for b in buttons if all(p in b["text"] for p in parts)]
            if match:
                break
        else:
            raise AssertionError(f"no button {parts} in chat {self.chat_id}; screens: "
                                 f"{[m.get('text', '')[:60] for m in self.emu.bot_messages(self.chat_id)[-3:]]}")
        mark = self.emu.mark()
        qid = self.emu.press_button(self.chat_id, self.user_id, current["message_id"], text=match[0]["text"])
        await wait_until(lambda: qid in self.emu.callback_answers, timeout,
                         f"the bot answering {match[0]['text']!r}\n{self.stack.bot_log()[-3000:]}")
        if not self.emu.callback_answers[qid].get("text"):
            # An empty answer may come before the screen (bot/outbound/pace.py paces edits; a tap's spinner is stopped
            # after a second): the screen this tap leads to, if any, is waited for too.
            with contextlib.suppress(TimeoutError):
                await self.emu.wait_for(chat_id=self.chat_id, since=mark, timeout=SCREEN_WAIT)
        return Pressed(self.emu.callback_answers[qid], self.current(current["message_id"]))

    def current(self, message_id: int) -> dict:
        """A message of this chat as it is now (after edits)."""
        [msg] = [m for m in self.emu.messages(self.chat_id) if m["message_id"] == message_id]
        return msg

    async def balance_text(self) -> str:
        return (await self.send(self.command("/balance"), expect="Balance:"))["text"]


async def credit(op: Person, chat_id: int, amount: str) -> None:
    reply = await op.send(f"/credit {chat_id} {amount} e2e", expect=f"Chat {chat_id}")
    assert "applied" in reply["text"], reply["text"]


async def open_offers(person: Person, start: dict | None = None) -> Pressed:
    """From a screen with the main menu (or a fresh /rent) to the offers of Telegram in the United States (the
    sandbox sells Telegram in several countries: the first time in a chat, the country is picked first)."""
    if start is None:
        start = await person.send(person.command("/rent telegram"), expect="Services matching")
        pressed = await person.press("Telegram", start)
    else:
        services = await person.press("Rent a number", start)
        pressed = await person.press("Telegram", services.screen)
    if "pick a country" in pressed.screen["text"]:
        pressed = await person.press("United States", pressed.screen)
    return pressed


async def rent(person: Person, offer: tuple[str, ...] = GOTSMS_DAY) -> dict:
    """/rent telegram -> the offer -> confirm -> Rent; returns the number card."""
    offers = await open_offers(person)
    confirm = await person.press(offer, offers.screen)
    assert "Confirm rental" in confirm.screen["text"], confirm.screen["text"]
    done = await person.press("Rent for", confirm.screen)
    assert "active" in done.screen["text"], (done.answer, done.screen["text"], person.stack.bot_log()[-2000:])
    return done.screen


def card_phone(card: dict) -> str:
    return re.search(r"Number: (\+?[\d ]+)", card["text"]).group(1).strip()


def gotsms_rent_id(stack: Stack, card: dict) -> str:
    phone = card_phone(card)
    [rent_id] = [r["id"] for r in stack.gotsms.rents.values() if r["phone"] == phone]
    return rent_id


def code_messages(stack: Stack, chat_id: int, code: str) -> list[dict]:
    """Pushed code messages for ``code``: the code is alone on the first line, before the service."""
    return [m for m in stack.emulator.bot_messages(chat_id) if m.get("text", "").startswith(f"🔑 {code} — ")]


def pushed_codes(stack: Stack, chat_id: int) -> list[str]:
    found = []
    for m in stack.emulator.bot_messages(chat_id):
        if hit := re.match(r"🔑 (\S+) — ", m.get("text", "")):
            found.append(hit.group(1))
    return found


def unread_polls(stack: Stack) -> int:
    return sum(1 for method, path, query in stack.gotsms.requests
               if path == "/api/messages/unread" and "mark_as_read" not in query)


async def no_more(stack: Stack, chat_id: int, code: str, since: int, seconds: float) -> None:
    """Wait ``seconds`` for a repeat of ``code`` sent after ``since``; none may come."""
    with pytest.raises(TimeoutError):
        await stack.emulator.wait_for(lambda m: m.get("text", "").startswith(f"🔑 {code} — "),
                                      chat_id=chat_id, since=since, timeout=seconds)


def bot_updates_handled(stack: Stack, update_id: int) -> bool:
    return re.search(rf"Update id={update_id} is (not )?handled", stack.bot_log()) is not None


# ------------------------------------------------------------------------------------------------ the tests
async def test_private_rent_and_code_pushed_once(stack):
    emu = stack.emulator
    alice = Person(stack, 111, "Alice")
    op = Person(stack, OP, "Op")
    home = await alice.send("/start", expect="Virtual numbers")
    assert "Balance: $0.00" in home["text"]
    offers = await open_offers(alice, home)
    labels = [b["text"] for row in offers.screen["reply_markup"]["inline_keyboard"] for b in row]
    assert any("GotSMS" in x for x in labels) and any("GetAText" in x for x in labels), labels
    short = await alice.press(GOTSMS_DAY, offers.screen)
    assert "Not enough balance" in short.screen["text"] and "$1.10" in short.screen["text"]

    await credit(op, alice.chat_id, "5")
    back = await alice.press("Back", short.screen)  # to the offers again
    confirm = await alice.press(GOTSMS_DAY, back.screen)
    assert "Confirm rental" in confirm.screen["text"] and "$3.90" in confirm.screen["text"]
    card = (await alice.press("Rent for $1.10", confirm.screen)).screen
    assert "Telegram" in card["text"] and "active" in card["text"] and "GotSMS" in card["text"]
    rent_id = gotsms_rent_id(stack, card)
    assert len(stack.gotsms.rents) == 1

    mark = emu.mark()
    stack.gotsms.inject_sms(rent_id, "Telegram code: 48213. Do not give this code to anyone!")
    pushed = await emu.wait_for(chat_id=alice.chat_id, text="48213", since=mark, timeout=T)
    assert pushed["text"].startswith("🔑 48213 — Telegram"), pushed["text"]
    assert card_phone(card) in pushed["text"]
    # A few more poll ticks: the SMS (now read at the provider) must not come again.
    polls = unread_polls(stack)
    await wait_until(lambda: unread_polls(stack) >= polls + 4, T, "four more GotSMS polls")
    await no_more(stack, alice.chat_id, "48213", emu.mark(), 1.0)
    assert len(code_messages(stack, alice.chat_id, "48213")) == 1
    assert "Balance: $3.90" in await alice.balance_text()


async def test_group_member_refused_admin_rents_code_pushed_to_group(stack):
    emu = stack.emulator
    group = -100500
    ann = Person(stack, 201, "Ann", username="ann")
    max_ = Person(stack, 202, "Max")
    op = Person(stack, OP, "Op")
    emu.create_group(group, "Team", {ann.user_id: "creator", max_.user_id: "member"}, bot_status="left")
    mark = emu.mark()
    emu.add_bot_to_group(group, by_user_id=ann.user_id)
    await emu.wait_for(chat_id=group, text="Hello", since=mark, timeout=T)
    await credit(op, group, "10")

    ann, max_ = ann.in_chat(group), max_.in_chat(group)
    told = await max_.send(max_.command("/rent telegram"), expect="only the admins rent numbers")
    # Told at the first step, and still shown the services: a member may browse and ask the admins for a number.
    assert "Telegram" in [b["text"] for row in told["reply_markup"]["inline_keyboard"] for b in row]

    offers = await open_offers(ann)  # the admin's confirm screen is in the group for every member to tap
    confirm = await ann.press(GOTSMS_DAY, offers.screen)
    refused = await max_.press("Rent for", confirm.screen)
    assert "Only the group's admins" in (refused.answer["text"] or ""), refused.answer
    assert refused.answer["show_alert"]
    assert stack.gotsms.rents == {}

    card = await rent(ann)
    assert "Rented by: @ann" in card["text"]
    assert "Balance: $8.90" in await ann.balance_text()

    mark = emu.mark()
    stack.gotsms.inject_sms(gotsms_rent_id(stack, card), "Your Telegram code is 730519")
    pushed = await emu.wait_for(chat_id=group, text="730519", since=mark, timeout=T)
    assert pushed["text"].startswith("🔑 730519 — Telegram") and "Rented by @ann" in pushed["text"]
    polls = unread_polls(stack)
    await wait_until(lambda: unread_polls(stack) >= polls + 3, T, "three more GotSMS polls")
    await no_more(stack, group, "730519", emu.mark(), 1.0)
    assert len(code_messages(stack, group, "730519")) == 1
    assert code_messages(stack, ann.user_id, "730519") == []  # the group's code, not a private one


async def test_provider_failure_refunds_at_once(stack):
    alice = Person(stack, 111, "Alice")
    op = Person(stack, OP, "Op")
    await alice.send("/start", expect="Virtual numbers")
    await credit(op, alice.chat_id, "2")

    offers = await open_offers(alice)
    confirm = await alice.press(GOTSMS_DAY, offers.screen)
    # A 500 to the renting call: one look at the rent list shows nothing was rented, so it is refunded at once.
    stack.gotsms.fail_next(500)
    failed = await alice.press("Rent for", confirm.screen)
    assert "not answering" in (failed.answer["text"] or ""), failed.answer
    assert [p for m, p, q in stack.gotsms.requests if m == "POST" and p == "/api/rents"] == ["/api/rents"]
    assert [q for m, p, q in stack.gotsms.requests if m == "GET" and p == "/api/rents"], "the rent list was read"
    assert "Balance: $2.00" in await alice.balance_text()

    offers = await open_offers(alice)
    confirm = await alice.press(GOTSMS_DAY, offers.screen)
    stack.gotsms.fail_next(422, {"success": False, "message": "No numbers available for this plan."})
    failed = await alice.press("Rent for", confirm.screen)  # sold out at the last tap: back to fresh plans
    assert "sold out just now" in failed.screen["text"], failed.screen["text"]
    assert any(b["text"].startswith("⛔") for row in failed.screen["reply_markup"]["inline_keyboard"] for b in row)
    text = await alice.balance_text()
    assert "Balance: $2.00" in text
    assert text.count("refund") == 2 and text.count("rental") == 2, text
    assert stack.gotsms.rents == {}


async def test_card_topup_through_the_emulator_credited_once(stack):
    """The playground's sandbox card payments (EUR at 1.08): the emulator sends pre_checkout_query and
    successful_payment to the real bot process; a redelivered payment credits nothing more."""
    emu = stack.emulator
    bob = Person(stack, 112, "Bob")
    home = await bob.send("/start", expect="Virtual numbers")
    balance = await bob.press("Balance", home)
    topup = await bob.press("Top up", balance.screen)
    cards = await bob.press("Pay by card", topup.screen)
    mark = emu.mark()
    await bob.press(("€5.00", "$5.40"), cards.screen)  # both amounts on the button: what is paid, what it adds
    invoice = await emu.wait_for(chat_id=bob.chat_id, text="Balance top-up", since=mark, timeout=T)
    assert invoice["invoice"]["currency"] == "EUR" and invoice["invoice"]["total_amount"] == 500

    paid = await emu.pay_invoice(bob.chat_id, bob.user_id, invoice["message_id"], timeout=T)
    assert paid["status"] == "paid", paid
    assert emu.pre_checkout_answers[paid["pre_checkout_query_id"]]["ok"] is True
    done = await emu.wait_for(chat_id=bob.chat_id, text="Payment received", timeout=T)
    assert "$5.40" in done["text"]
    again = emu.resend_update(paid["update_id"])
    await wait_until(lambda: bot_updates_handled(stack, again), T, f"the bot handling update {again}")
    text = await bob.balance_text()
    assert "Balance: $5.40" in text and text.count("💳 €5.00") == 1, text


async def test_crypto_topup_through_the_sandbox_pay_page_credited_once(stack):
    """The playground's sandbox crypto payments: the pay button opens the fake Crypto Pay's page; its "Pay" posts
    the signed webhook to the real bot process, which credits once; a replayed update credits nothing more."""
    import httpx

    emu = stack.emulator
    bob = Person(stack, 113, "Bob")
    home = await bob.send("/start", expect="Virtual numbers")
    balance = await bob.press("Balance", home)
    topup = await bob.press("Top up", balance.screen)
    crypto = await bob.press("Pay with crypto", topup.screen)
    mark = emu.mark()
    await bob.press(("10 USD", "$10.00"), crypto.screen)  # what is paid, what it adds
    invoice = await emu.wait_for(chat_id=bob.chat_id, text="Invoice for $10.00", since=mark, timeout=T)
    [[button]] = invoice["reply_markup"]["inline_keyboard"]
    assert button["url"].startswith(stack.cryptopay.url + "/pay/")
    async with httpx.AsyncClient() as client:
        page = await client.get(button["url"])
        assert page.status_code == 200 and "Pay" in page.text and "10.00 USD" in page.text
        paid = await client.post(button["url"], data={"asset": "TON"})
        assert "Paid with" in paid.text
    done = await emu.wait_for(chat_id=bob.chat_id, text="Payment received", timeout=T)
    assert "$10.00" in done["text"]
    update, status = stack.cryptopay.webhooks_sent[-1]
    assert status == 200
    assert await stack.cryptopay.send_webhook(update) == 200  # Crypto Pay retries: nothing more
    text = await bob.balance_text()
    assert "Balance: $10.00" in text and text.count("top-up in crypto") == 1, text


async def test_stars_topup_credited_once(stack):
    emu = stack.emulator
    alice = Person(stack, 111, "Alice")
    home = await alice.send("/start", expect="Virtual numbers")
    balance = await alice.press("Balance", home)
    topup = await alice.press("Top up", balance.screen)
    mark = emu.mark()
    await alice.press("100 ⭐", topup.screen)
    invoice = await emu.wait_for(chat_id=alice.chat_id, text="Balance top-up", since=mark, timeout=T)
    assert invoice["invoice"]["currency"] == "XTR" and invoice["invoice"]["total_amount"] == 100
    [call] = emu.calls_to("sendInvoice")
    assert call["ok"]

    paid = await emu.pay_invoice(alice.chat_id, alice.user_id, invoice["message_id"], timeout=T)
    assert paid["status"] == "paid", paid
    assert emu.pre_checkout_answers[paid["pre_checkout_query_id"]]["ok"] is True
    done = await emu.wait_for(chat_id=alice.chat_id, text="Payment received", timeout=T)
    assert "$1.30" in done["text"]

    again = emu.resend_update(paid["update_id"])  # Telegram delivers the successful payment again
    await wait_until(lambda: bot_updates_handled(stack, again), T, f"the bot handling update {again}")
    text = await alice.balance_text()
    assert "Balance: $1.30" in text and text.count("top-up") == 1, text
    assert len([m for m in emu.bot_messages(alice.chat_id) if "Payment received" in m.get("text", "")]) == 1

    await stack.stop_bot()  # SIGTERM: aiogram stops polling, the bot closes and exits 0
    assert stack.bot_returncode == 0, stack.bot_log()[-2000:]
    assert "Polling stopped" in stack.bot_log()


async def test_getatext_code_via_webhook_pushed_once(stack):
    emu = stack.emulator
    alice = Person(stack, 111, "Alice")
    op = Person(stack, OP, "Op")
    await alice.send("/start", expect="Virtual numbers")
    await credit(op, alice.chat_id, "3")
    card = await rent(alice, GETATEXT_SHORT)
    assert "GetAText" in card["text"]
    [rental] = stack.getatext.rentals.values()
    assert rental.number in card_phone(card).replace(" ", "").replace("+", "")

    mark = emu.mark()
    # As documented, the webhook carries the code as a JSON integer: 048213 arrives as 48213.
    stack.getatext.webhook_int_codes = True
    started = time.monotonic()
    payload = await stack.getatext.inject_code(rental.id, "048213")
    assert stack.getatext.webhooks_sent == [payload] and payload["code"] == 48213

    def status_reads() -> int:
        return sum(path == "/api/v1/rental-status" and str(body.get("id")) == str(rental.id)
                   for _, path, body in stack.getatext.requests)

    pushed = await emu.wait_for(chat_id=alice.chat_id, text="048213", since=mark, timeout=T)
    assert pushed["text"].startswith("🔑 048213 — Telegram"), pushed["text"]  # the digits the integer lost
    # The poller's fallback runs every max(5 x POLL_INTERVAL, 10 s) with the webhook on: this came faster.
    assert time.monotonic() - started < 5.0

    # The poller fallback sees the same code: still one message.
    reads = status_reads()
    await wait_until(lambda: status_reads() > reads, 25, "the GetAText poller reading the rental's status")
    await no_more(stack, alice.chat_id, "048213", emu.mark(), 2.0)
    assert len(code_messages(stack, alice.chat_id, "048213")) == 1
    assert "Balance: $2.50" in await alice.balance_text()


KILL_CHATS = 4  # 3 private chats and a group
KILL_CODES = 30
KILL_SPAN = 6.0  # seconds over which the codes arrive at the provider
KILLS = 3


async def test_sigkill_while_codes_arrive_every_code_once(stack, e2e_report):
    emu = stack.emulator
    op = Person(stack, OP, "Op")
    people = [Person(stack, 301 + i, f"User{i}") for i in range(KILL_CHATS - 1)]
    boss = Person(stack, 399, "Boss", username="boss")
    group = -100600
    emu.create_group(group, "Ops", {boss.user_id: "creator"})
    await emu.wait_for(chat_id=group, text="Hello", timeout=T)
    people.append(boss.in_chat(group))
    for p in people[:-1]:
        await p.send("/start", expect="Virtual numbers")
    for p in people:
        await credit(op, p.chat_id, "5")
    cards = await asyncio.gather(*(rent(p) for p in people))
    rents = [(p.chat_id, gotsms_rent_id(stack, c)) for p, c in zip(people, cards)]

    codes = [str(c) for c in random.sample(range(100000, 999999), KILL_CODES)]
    plan = [(rents[i % len(rents)], code) for i, code in enumerate(codes)]

    async def arrive() -> None:
        for (_, rent_id), code in plan:
            stack.gotsms.inject_sms(rent_id, f"Telegram code: {code}. Do not give this code to anyone!")
            await asyncio.sleep(KILL_SPAN / KILL_CODES)  # the provider's pace, not a wait for the bot

    def delivered() -> int:
        return sum(len(code_messages(stack, chat, code)) > 0 for (chat, _), code in plan)

    rng = random.Random()
    started = time.monotonic()
    arriving = asyncio.create_task(arrive())
    pauses = []
    try:
        for _ in range(KILLS):
            # Kill at a moment unrelated to what the bot is doing (a kill right after seeing a code arrive would
            # aim at the one documented window: after Telegram took the message, before it is marked delivered).
            pauses.append(round(rng.uniform(0.3, 1.5), 2))
            await asyncio.sleep(pauses[-1])
            await stack.kill_bot()
            await stack.start_bot()
        await arriving
    finally:
        arriving.cancel()
    await wait_until(lambda: delivered() == KILL_CODES, 60,
                     f"every code delivered ({delivered()}/{KILL_CODES})\n{stack.bot_log()[-3000:]}")
    polls = unread_polls(stack)
    await wait_until(lambda: unread_polls(stack) >= polls + 3, T, "three more GotSMS polls")
    mark = emu.mark()
    with pytest.raises(TimeoutError):  # nothing more is being sent
        await emu.wait_for(lambda m: m.get("text", "").startswith("🔑 "), since=mark, timeout=1.5)

    counts = {code: len(code_messages(stack, chat, code)) for (chat, _), code in plan}
    duplicates = {code: n for code, n in counts.items() if n != 1}
    e2e_report(f"{KILL_CODES} codes to {len(rents)} chats, SIGKILL after {pauses} s of each run, all delivered "
               f"{time.monotonic() - started:.1f} s after the first code; not exactly once: "
               f"{describe_copies(stack, duplicates) or 'none'}")
    # The one window the README names: Telegram took the message and the kill came before it was marked delivered
    # (no idempotency key at Telegram). A second copy is allowed only for a first copy sent just before a kill.
    outside = {code: n for code, n in duplicates.items() if n != 2 or not sent_just_before_a_kill(stack, code)}
    assert outside == {}, f"codes delivered other than once: {describe_copies(stack, outside)}"



FORWARD_CODES = 12


async def test_sigkill_while_codes_arrive_each_forward_posted_with_one_key(tmp_path, e2e_report):
    """A number forwarding to a URL (a local receiver, allowed by FORWARD_ALLOWED_HOSTS), SIGKILLed while its codes
    arrive: every code is POSTed, signed with the chat's secret, and every copy of one code carries the same
    X-Idempotency-Key (a kill inside a POST repeats it: the receiver deduplicates by the key, README)."""
    import hashlib
    import hmac
    import json

    from aiohttp import web

    received: list[tuple[str, bytes, str]] = []  # (idempotency key, raw body, signature)

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Idempotency-Key", ""), await request.read(),
                         request.headers.get("X-Signature", "")))
        return web.Response(text="ok")

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    runner = web.AppRunner(receiver, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    stack = Stack(tmp_path, extra_env={"FORWARD_ALLOWED_HOSTS": "127.0.0.1"})
    await stack.start()
    try:
        op, alice = Person(stack, OP, "Op"), Person(stack, 311, "Alice")
        await alice.send("/start", expect="Virtual numbers")
        await credit(op, alice.chat_id, "5")
        card = await rent(alice)
        menu = await alice.press("Forward codes", card)
        shown = await alice.press("Show the secret", menu.screen)
        secret = re.search(r"Secret of this chat: (\S+)", shown.screen["text"]).group(1)
        await alice.press("To a URL", shown.screen)
        set_reply = await alice.send(f"http://127.0.0.1:{port}/hook", expect="now also sent")
        assert "127.0.0.1" in set_reply["text"]
        rent_id = gotsms_rent_id(stack, card)
        codes = [str(c) for c in random.sample(range(100000, 999999), FORWARD_CODES)]

        async def arrive() -> None:
            for code in codes:
                stack.gotsms.inject_sms(rent_id, f"Telegram code: {code}. Do not give this code to anyone!")
                await asyncio.sleep(4.0 / FORWARD_CODES)

        started = time.monotonic()
        arriving = asyncio.create_task(arrive())
        pauses = []
        try:
            for _ in range(2):
                pauses.append(round(random.uniform(0.3, 1.5), 2))
                await asyncio.sleep(pauses[-1])
                await stack.kill_bot()
                await stack.start_bot()
            await arriving
        finally:
            arriving.cancel()

        def posted() -> set[str]:
            return {json.loads(body).get("code") for _, body, _ in received}

        await wait_until(lambda: set(codes) <= posted(), 90,
                         f"every code forwarded ({len(posted() & set(codes))}/{len(codes)})\n{stack.bot_log()[-3000:]}")
        for key, body, signature in received:
            assert hmac.compare_digest(signature, hmac.new(secret.encode(), body, hashlib.sha256).hexdigest())
        keys: dict[str, set[str]] = {}
        for key, body, _ in received:
            keys.setdefault(json.loads(body)["code"], set()).add(key)
        assert all(len(k) == 1 for k in keys.values()), keys  # a repeat is the same delivery, the same key
        assert len({k for ks in keys.values() for k in ks}) == len(codes)
        repeats = len(received) - len(codes)
        e2e_report(f"{len(codes)} codes forwarded to a URL across SIGKILLs after {pauses} s, all posted "
                   f"{time.monotonic() - started:.1f} s after the first; POSTs repeated (same key): {repeats}")
    finally:
        await _teardown(stack)
        await runner.cleanup()


DOCUMENTED_WINDOW = 0.3  # seconds from Telegram accepting a message to our write that it was delivered, at most


def sent_just_before_a_kill(stack: Stack, code: str) -> bool:
    first = min(e["time"] for e in stack.emulator.history() if e["action"] == "send"
                and (e["message"] or {}).get("text", "").startswith(f"🔑 {code} — "))
    return any(0 <= kill - first <= DOCUMENTED_WINDOW for kill in stack.kill_times)


def describe_copies(stack: Stack, counts: dict[str, int]) -> list[str]:
    """For each code: when each copy reached the emulator, relative to the SIGKILLs."""
    out = []
    for code in counts:
        sends = [e["time"] for e in stack.emulator.history() if e["action"] == "send"
                 and (e["message"] or {}).get("text", "").startswith(f"🔑 {code} — ")]
        where = []
        for sent in sends:
            after = [k for k in stack.kill_times if k > sent]
            where.append(f"{(after[0] - sent) * 1000:.0f} ms before kill #{stack.kill_times.index(after[0]) + 1}"
                         if after else "after the last restart")
        out.append(f"{code} x{len(sends)}: " + "; ".join(where))
    return out


# 40 codes in all. A private chat takes 1 message/s and a group 20/minute, so 40 codes to each take 80 s+ (the
# group's second minute); E2E_FLOOD_CODES="40,40" runs that longer variant.
FLOOD_PRIVATE_CODES, FLOOD_GROUP_CODES = (int(n) for n in os.environ.get("E2E_FLOOD_CODES", "20,20").split(","))


class OutOfOrder(AssertionError):
    """Codes pushed in another order than the SMS arrived."""


@pytest.fixture
async def flood_stack(tmp_path):
    stack = Stack(tmp_path, flood_limits=True)
    await stack.start()
    yield stack
    await _teardown(stack)


async def test_flood_limits_every_code_arrives_in_order(flood_stack, e2e_report):
    stack = flood_stack
    emu = stack.emulator
    op = Person(stack, OP, "Op")
    alice = Person(stack, 111, "Alice")
    ann = Person(stack, 201, "Ann", username="ann")
    group = -100700
    # Set-up taps get replies faster than the emulator's hard 1 msg/s per private chat would allow (Telegram itself
    # tolerates such short bursts; the bot does not pace or retry handler replies): limits on for the codes only.
    emu.set_flood_limits(False)
    emu.create_group(group, "Team", {ann.user_id: "creator"})
    await emu.wait_for(chat_id=group, text="Hello", timeout=T)
    await alice.send("/start", expect="Virtual numbers")
    await credit(op, alice.chat_id, "5")
    await credit(op, group, "5")
    private_card, group_card = await asyncio.gather(rent(alice), rent(ann.in_chat(group)))
    targets = {alice.chat_id: (gotsms_rent_id(stack, private_card), FLOOD_PRIVATE_CODES),
               group: (gotsms_rent_id(stack, group_card), FLOOD_GROUP_CODES)}
    emu.set_flood_limits(True)
    before_429 = emu.flood_429_count

    expected: dict[int, list[str]] = {}
    numbers = iter(random.sample(range(100000, 999999), FLOOD_PRIVATE_CODES + FLOOD_GROUP_CODES))
    started = time.monotonic()
    for i in range(max(FLOOD_PRIVATE_CODES, FLOOD_GROUP_CODES)):
        for chat, (rent_id, count) in targets.items():
            if i < count:
                code = str(next(numbers))
                expected.setdefault(chat, []).append(code)
                stack.gotsms.inject_sms(rent_id, f"Telegram code: {code}. Do not give this code to anyone!")
        await asyncio.sleep(0.05)  # "quickly": 40 SMS within about a second

    total = FLOOD_PRIVATE_CODES + FLOOD_GROUP_CODES

    def arrived() -> int:
        return sum(len(pushed_codes(stack, chat)) for chat in targets)

    await wait_until(lambda: arrived() >= total, 60 + 1.5 * FLOOD_PRIVATE_CODES + 4 * FLOOD_GROUP_CODES,
                     f"all {total} codes delivered ({arrived()} so far)\n{stack.bot_log()[-3000:]}")
    elapsed = time.monotonic() - started
    count_429 = emu.flood_429_count - before_429
    retried = stack.bot_log().count("flood limit for chat")
    e2e_report(f"{FLOOD_PRIVATE_CODES} codes to a private chat + {FLOOD_GROUP_CODES} to a group in "
               f"{elapsed:.1f} s; emulator 429 answers: {count_429} (bot logged {retried} flood waits)")
    for chat in targets:  # every code exactly once...
        assert sorted(pushed_codes(stack, chat)) == sorted(expected[chat]), f"chat {chat}: codes differ"
    for chat in targets:  # ...in the order the SMS arrived
        if pushed_codes(stack, chat) != expected[chat]:
            raise OutOfOrder(f"chat {chat}: arrived {expected[chat]}, pushed {pushed_codes(stack, chat)}")


async def test_webhook_mode_rent_and_code_then_sigterm(tmp_path):
    """PUBLIC_URL set: the bot sets its webhook with a secret_token, the emulator POSTs every update to it, a rent
    and its code go through; an update without the secret is refused; SIGTERM ends it cleanly."""
    import httpx

    stack = Stack(tmp_path, telegram_webhook=True)
    await stack.start()
    try:
        emu = stack.emulator
        assert emu.webhook_url == f"http://127.0.0.1:{stack.webhook_port}/telegram"
        secret = emu.webhook_secret
        assert len(secret) >= 32 and secret not in stack.bot_log()  # random per start, never logged
        alice, op = Person(stack, 111, "Alice"), Person(stack, OP, "Op")
        await alice.send("/start", expect="Virtual numbers")
        await credit(op, alice.chat_id, "5")
        card = await rent(alice)
        rent_id = gotsms_rent_id(stack, card)
        mark = emu.mark()
        stack.gotsms.inject_sms(rent_id, "Telegram code: 61507. Do not give this code to anyone!")
        await emu.wait_for(chat_id=alice.chat_id, text="61507", since=mark, timeout=T)
        assert emu.calls_to("getUpdates") == []  # every update came by webhook
        assert emu.webhook_deliveries and {d["secret"] for d in emu.webhook_deliveries} == {secret}
        assert all(d["status"] == 200 for d in emu.webhook_deliveries)
        assert emu.calls_to("setWebhook")[-1]["params"].get("allowed_updates")  # chat_member asked for

        forged = {"update_id": 999_001, "message": {
            "message_id": 1, "date": int(time.time()), "chat": {"id": 777, "type": "private"},
            "from": {"id": 777, "is_bot": False, "first_name": "Mallory"}, "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.webhook_port}") as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                reply = await http.post("/telegram", json=forged, headers=headers)
                assert reply.status_code == 401
        await asyncio.sleep(0.5)
        assert emu.bot_messages(777) == [] and not bot_updates_handled(stack, 999_001)

        await stack.stop_bot()  # SIGTERM: the webhook answers 503 from now, what runs finishes, exit 0
        assert stack.bot_returncode == 0, stack.bot_log()[-2000:]
        assert "received SIGTERM: stopping" in stack.bot_log()
    finally:
        await _teardown(stack)
