"""Forwarding a number's codes (issue 18): to a second chat, to a signed https URL (a local server here, allowed by
FORWARD_ALLOWED_HOSTS), exactly once across a restart, addresses inside a network refused, a target failing for
24 h switched off with the chat told once. Through the production Dispatcher and the real background loops."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from aiogram.methods import DeleteMessage
from aiohttp import web

from bot.app import App, build_bot
from bot.background import Background
from bot.outbound.pace import Limits
from bot.services.forwarding import (
    ForwardUrlInvalid,
    ForwardUrlPrivate,
    ForwardUrlScheme,
    ForwardUrlUnresolved,
    check_url,
)
from playground.recording import BOT_USER, Person, RecordingSession
from storage.models import utcnow
from tests.conftest import TOKEN, credit, open_world, to_confirm
from tests.test_spoilers import GROUP, setup_group

LOCAL = frozenset({"127.0.0.1", "localhost"})


@pytest.fixture
def team(telegram, session):
    """Ann an admin, Max who rents the number, Zoe another member (as in test_spoilers.py)."""
    dp, bot = telegram
    session.admins.add((GROUP, 2001))
    return (Person(dp, bot, session, 2001, chat_id=GROUP, name="Ann"),
            Person(dp, bot, session, 2002, chat_id=GROUP, name="Max"),
            Person(dp, bot, session, 2003, chat_id=GROUP, name="Zoe"))


class Receiver:
    """A local https-receiver stand-in (plain http on 127.0.0.1, allowed by FORWARD_ALLOWED_HOSTS)."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self.status = 200
        self.url = ""

    async def hook(self, request: web.Request) -> web.Response:
        self.requests.append((await request.read(), dict(request.headers)))
        return web.Response(status=self.status, text="ok")


@pytest.fixture
async def receiver():
    found = Receiver()
    web_app = web.Application()
    web_app.router.add_post("/hook", found.hook)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    found.url = f"http://127.0.0.1:{port}/hook"
    yield found
    await runner.cleanup()


@pytest.fixture
def local_settings(settings):
    return settings.model_copy(update={"forward_allowed_hosts": LOCAL})


async def rent_private(alice: Person, app: App):
    await to_confirm(alice, app)
    await alice.press("Rent for")
    [rental], _ = await app.rentals.rentals.for_chat(alice.chat_id)
    return rental


async def store_code(background: Background, provider, rental, body: str) -> None:
    provider.inject_sms(rental.provider_rental_id, body)
    await background.pollers[provider.name].tick()


def verified(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Signature"])


# -- to a second chat ------------------------------------------------------------------------------------------


async def test_forwarding_to_the_renters_private_chat_and_to_another_group(app, telegram, session, team, provider):
    ann, max_, zoe = team
    rental = await setup_group(app, team, spoiler=False, delete=False)
    card = max_.screen()
    assert "📤 Forward codes" in max_.buttons(card)

    # A member who neither rented it nor is an admin: refused; a forged id: refused as out of date.
    answer = await zoe.press("📤 Forward codes", card)
    assert "Only the member who rented this number" in answer.text
    assert "out of date" in (await zoe.press_data("fw:999999:chat", card)).text
    assert "out of date" in (await max_.press_data("fw:abc:chat", card)).text

    # The renter: to a chat, "me".
    await max_.press("📤 Forward codes", card)
    assert "Not forwarded now." in max_.screen().text
    await max_.press("💬 To a chat")
    asked = session.last(GROUP)
    assert "reply to this message" in asked.text
    await max_.send("me", reply_to=asked)
    assert "now also go to <b>2002</b>" in session.last(GROUP).text  # a chat the bot knows no name of: its id
    target = await app.forwarding.target(rental.id)
    assert (target.kind, target.target, target.set_by) == ("chat", "2002", 2002)

    await max_.send("/numbers@rent_test_bot")
    await max_.press("Telegram")
    assert "📤 Forwarding to <b>2002</b>" in max_.screen().text

    background = Background(app, telegram[1], Limits.unlimited())
    await store_code(background, provider, rental, "Telegram code: 44120")
    assert await background.deliverer.deliver_once() == 1  # the group's own push, as ever
    assert await background.forwarder.forward_once() == 1
    [forwarded] = [m for m in session.sent(2002) if "44120" in m.text]
    assert forwarded.text.startswith("📤 Forwarded from <b>Team</b>\n") and "<code>44120</code>" in forwarded.text
    assert await background.forwarder.forward_once() == 0  # once

    # The admin: another group, where Ann is an admin and the bot a member.
    other = -100999
    session.admins.add((other, ann.user.id))
    await ann.send("/numbers@rent_test_bot")
    await ann.press("Telegram")
    await ann.press("📤 Forward codes")
    await ann.press("💬 To a chat")
    await ann.send(str(other), reply_to=session.last(GROUP))
    assert f"now also go to <b>{other}</b>" in session.last(GROUP).text
    # The target group hides its codes under a spoiler: a forwarded code follows that group's rule, laid out as
    # a pushed code (the number formatted, the code once, a copy button), in the group's language.
    await app.chats.ensure(other, "supergroup", "Shop")
    await app.chats.set_team(other, code_spoiler=True)
    await store_code(background, provider, rental, "Telegram code: 55120")
    await background.forwarder.forward_once()
    [there] = [m for m in session.sent(other) if "55120" in m.text]
    assert there.text.startswith("📤 Forwarded from <b>Team</b>\n")
    assert "<tg-spoiler>" in there.text and there.text.count("55120") == 2  # the code line and the SMS, both hidden
    assert "+1 555 000 0001" in there.text
    [[copy]] = there.reply_markup.inline_keyboard
    assert copy.copy_text.text == "55120" and "55120" not in copy.text
    # ... and its deletion rule: gone from the group once its minutes have passed, like the group's own codes.
    await app.chats.set_team(other, code_delete_minutes=5)
    assert await background.hider.run_once() == 0  # not yet
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE forward_outbox SET sent_at = '2000-01-01T00:00:00.000+00:00'")
    assert await background.hider.run_once() == 1
    assert len([c for c in session.calls_of(DeleteMessage) if c.chat_id == other]) == 1
    assert (await app.db.fetchone("SELECT hide_result FROM forward_outbox WHERE target = ?", (str(other),)))[0] \
        == "deleted"
    assert await background.hider.run_once() == 0  # once
    assert not [m for m in session.sent(2002) if "55120" in m.text]  # the new target only


async def test_a_chat_target_is_checked_when_set(app, telegram, session, team):
    ann, max_, _ = team
    await setup_group(app, team, spoiler=False, delete=False)

    async def answer_with(person: Person, text: str) -> str:
        await person.send("/numbers@rent_test_bot")
        await person.press("Telegram")
        await person.press("📤 Forward codes")
        await person.press("💬 To a chat")
        await person.send(text, reply_to=session.last(GROUP))
        return session.last(GROUP).text

    session.admins.add((-100777, ann.user.id))
    assert "must be an admin of that group" in await answer_with(max_, "-100777")  # Max is not an admin there
    session.left.add((-100777, BOT_USER.id))
    assert "can't post in that chat" in await answer_with(ann, "-100777")  # the bot is not in it
    session.unknown_chats.add(-100666)
    assert "can't reach that chat" in await answer_with(ann, "-100666")
    assert "already come to this chat" in await answer_with(ann, str(GROUP))
    assert "Only your own private chat" in await answer_with(ann, "2003")
    assert "Send a chat id" in await answer_with(ann, "@somewhere")
    [rental], _ = await app.rentals.rentals.for_chat(GROUP)
    assert await app.forwarding.target(rental.id) is None


async def test_the_secret_is_sent_privately_in_a_group_and_rotated(app, telegram, session, team):
    ann, max_, _ = team
    await setup_group(app, team, spoiler=False, delete=False)
    await max_.press("📤 Forward codes", max_.screen())
    answer = await max_.press("🔑 Secret privately")
    assert "private message" in answer.text
    secret = await app.forwarding.secret(GROUP)
    assert secret in session.last(2002).text and secret not in session.last(GROUP).text
    assert "old one no longer signs" not in answer.text
    await ann.press("🔄 New secret", session.last(GROUP))
    assert await app.forwarding.secret(GROUP) != secret
    assert (await app.forwarding.secret(GROUP)) in session.last(2001).text


# -- to a URL --------------------------------------------------------------------------------------------------


@pytest.fixture
async def local_world(local_settings, provider, session):
    async with open_world(local_settings, {provider.name: provider}, session) as world:
        yield world


@pytest.fixture
def local_app(local_world) -> App:
    return local_world.app


@pytest.fixture
def local_telegram(local_world):
    return local_world.dp, local_world.bot


@pytest.fixture
def local_alice(local_world) -> Person:
    return local_world.person(1001, name="Alice")


async def set_url(alice: Person, url: str) -> str:
    await alice.press("📤 Forward codes")
    await alice.press("🌐 To a URL")
    await alice.send(url)
    return alice.screen().text


async def test_a_url_target_gets_a_signed_post(local_app, local_telegram, local_alice, session, provider, receiver):
    app, alice = local_app, local_alice
    rental = await rent_private(alice, app)
    assert "now also sent to <code>127.0.0.1" in await set_url(alice, receiver.url)
    await alice.press("🔑 Show the secret")
    secret = await app.forwarding.secret(1001)
    assert f"<code>{secret}</code>" in alice.screen().text

    background = Background(app, local_telegram[1], Limits.unlimited())
    await store_code(background, provider, rental, "Telegram code: 31337. Do not share it.")
    assert await background.forwarder.forward_once() == 1
    [(body, headers)] = receiver.requests
    assert verified(secret, body, headers)
    sent = json.loads(body)
    [sms] = await app.sms_repo.for_rental(rental.id)
    assert sent == {"rental_id": rental.id, "number": rental.phone, "service": "Telegram",
                    "text": "Telegram code: 31337. Do not share it.", "code": "31337",
                    "received_at": sent["received_at"]}
    assert headers["X-Idempotency-Key"] == str(sms.id) and headers["Content-Type"] == "application/json"
    assert await background.forwarder.forward_once() == 0 and len(receiver.requests) == 1
    await background.forwarder.aclose()

    # A new secret signs what comes next; the old one no longer verifies.
    await alice.press("🔄 New secret", session.last(1001))  # still on the forward screen
    rotated = await app.forwarding.secret(1001)
    await store_code(background, provider, rental, "Telegram code: 31338")
    await background.forwarder.forward_once()
    body, headers = receiver.requests[-1]
    assert verified(rotated, body, headers) and not verified(secret, body, headers)
    await background.forwarder.aclose()


async def test_forwarded_once_across_a_kill_and_a_restart(local_app, local_settings, provider, receiver):
    app = local_app
    from tests.test_push import rented
    rental = await rented(app)
    await app.forwarding.set_url(1001, rental.id, receiver.url, 7)
    first = Background(app, build_bot(TOKEN, local_settings, session=RecordingSession()), Limits.unlimited())
    await store_code(first, provider, rental, "Your code is 555111")  # stored and queued; then "killed"
    await app.db.close()

    for expected in (1, 0):  # the first restart forwards it; the second finds it sent
        async with open_world(local_settings, {provider.name: provider}) as reopened:
            again = Background(reopened.app, reopened.bot, Limits.unlimited())
            await again.pollers[provider.name].tick()  # the provider still lists it: no second row
            assert await again.forwarder.forward_once() == expected
            assert await again.forwarder.forward_once() == 0
            await again.forwarder.aclose()
    assert len(receiver.requests) == 1
    assert json.loads(receiver.requests[0][0])["code"] == "555111"
    await app.db.connect()


async def test_the_real_loop_forwards_and_stops_cleanly(local_app, local_settings, provider, receiver):
    """Started and stopped with the rest of the background: a code stored is forwarded by the running loop."""
    import asyncio
    app = local_app
    from tests.test_push import rented
    rental = await rented(app)
    await app.forwarding.set_url(1001, rental.id, receiver.url, 7)
    background = Background(app, build_bot(TOKEN, local_settings, session=RecordingSession()), Limits.unlimited())
    await background.start()
    try:
        await store_code(background, provider, rental, "Your code is 246810")
        background.stored()
        for _ in range(200):
            if receiver.requests:
                break
            await asyncio.sleep(0.01)
    finally:
        await background.stop()
    assert len(receiver.requests) == 1


# -- addresses inside a network ---------------------------------------------------------------------------------


async def test_a_url_inside_a_network_is_refused_with_a_clear_message(app, alice, provider):
    rental = await rent_private(alice, app)
    for url in ("https://127.0.0.1/hook", "https://10.0.0.1/hook", "https://[::1]/hook", "https://localhost/hook"):
        text = await set_url(alice, url)
        assert "inside a private or local network" in text, url
        await alice.send("/numbers")
        await alice.press("Telegram")
    assert "Only <code>https://</code>" in await set_url(alice, "http://example.com/hook")
    await alice.send("/numbers")
    await alice.press("Telegram")
    assert "not an address codes can be sent to" in await set_url(alice, "ftp://example.com")
    assert await app.forwarding.target(rental.id) is None


def resolver(*addresses: str):
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)
    return resolve


async def test_the_url_rules():
    public = resolver("93.184.216.34")
    assert await check_url("https://example.com/h", frozenset(), public) == "https://example.com/h"
    for addresses in (("93.184.216.34", "10.1.2.3"), ("169.254.169.254",), ("::ffff:10.0.0.1",), ("224.0.0.1",),
                      ("0.0.0.0",), ("240.0.0.1",), ("fe80::1",), ("fc00::1",), ("192.168.1.1",)):
        with pytest.raises(ForwardUrlPrivate):
            await check_url("https://example.com/h", frozenset(), resolver(*addresses))
    with pytest.raises(ForwardUrlUnresolved):
        await check_url("https://example.com/h", frozenset(), resolver())
    with pytest.raises(ForwardUrlScheme):
        await check_url("http://example.com/h", frozenset(), public)
    for bad in ("https://user:pw@example.com/", "https://", "https://example.com:99999/", "javascript:alert(1)",
                "https://exa mple.com/"):
        with pytest.raises(ForwardUrlInvalid):
            await check_url(bad, frozenset(), public)
    # The operator's allowed hosts: their own receiver, inside the network, over http too.
    assert await check_url("http://LocalHost:8080/h", LOCAL, resolver("127.0.0.1"))
    with pytest.raises(ForwardUrlPrivate):  # carrier-grade NAT: not named private, still not the internet
        await check_url("https://example.com/h", frozenset(), resolver("100.64.0.1"))


async def test_a_post_goes_to_the_address_checked_never_to_a_name_resolved_again():
    """DNS rebinding: the name is resolved once, checked, and the POST connects to that address (the Host header
    and TLS's server name stay the name, so the certificate is still checked against it)."""
    import httpx

    from bot.services.forwarding import pin_url

    pinned = await pin_url("https://example.com:8443/h?x=1", frozenset(), resolver("93.184.216.34"))
    assert pinned.url == "https://93.184.216.34:8443/h?x=1"
    assert pinned.headers == {"Host": "example.com:8443"} and pinned.extensions == {"sni_hostname": "example.com"}
    v6 = await pin_url("https://example.com/h", frozenset(), resolver("2606:2800:220:1:248:1893:25c8:1946"))
    assert v6.url == "https://[2606:2800:220:1:248:1893:25c8:1946]/h" and v6.headers == {"Host": "example.com"}
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), follow_redirects=False) as client:
        await client.post(pinned.url, content=b"{}", headers=pinned.headers, extensions=pinned.extensions)
    [request] = seen
    assert request.url.host == "93.184.216.34" and request.headers["Host"] == "example.com:8443"
    assert request.extensions["sni_hostname"] == "example.com"
    # An allowed host is the operator's own: connected to as named.
    assert (await pin_url("http://localhost:8080/h", LOCAL, resolver("127.0.0.1"))).url == "http://localhost:8080/h"


async def test_a_name_resolving_inside_the_network_later_is_refused_at_send(local_app, local_settings, provider):
    app = local_app
    from tests.test_push import rented
    rental = await rented(app)
    app.forwarding.resolve = resolver("93.184.216.34")
    await app.forwarding.set_url(1001, rental.id, "https://hooks.example.com/x", 7)
    app.forwarding.resolve = resolver("10.0.0.5")  # the name now points inside
    background = Background(app, build_bot(TOKEN, local_settings, session=RecordingSession()), Limits.unlimited())
    await store_code(background, provider, rental, "code 777")
    assert await background.forwarder.forward_once() == 0
    [(_, _, status, attempts)] = await app.forwarding.repo.pending(rental.id)
    assert (status, attempts) == ("pending", 1)
    row = await app.db.fetchone("SELECT last_error FROM forward_outbox")
    assert "private" in row["last_error"]


# -- failing for 24 h -------------------------------------------------------------------------------------------


async def test_a_target_failing_for_24_hours_is_switched_off_and_the_chat_told_once(
        local_app, local_telegram, local_alice, session, provider, receiver):
    app, alice = local_app, local_alice
    rental = await rent_private(alice, app)
    await set_url(alice, receiver.url)
    receiver.status = 500
    background = Background(app, local_telegram[1], Limits.unlimited())
    forwarder = background.forwarder
    start = utcnow() + timedelta(seconds=1)
    now = [start]
    forwarder.clock = lambda: now[0]
    await store_code(background, provider, rental, "Telegram code: 10101")
    await background.deliverer.deliver_once()  # the chat's own code is not held up by a failing target

    assert await forwarder.forward_once() == 0
    assert await forwarder.forward_once() == 0  # not due: the next try is 30 s later
    assert len(receiver.requests) == 1
    waits = []
    for _ in range(200):  # retried with back-off: 30 s doubling, at most 30 min apart
        if now[0] - start >= timedelta(hours=23):
            break  # retried with back-off: 30 s doubling, at most 30 min apart
        row = await app.db.fetchone("SELECT next_try_at FROM forward_outbox WHERE kind = 'url'")
        from storage.models import parse_ts
        due = parse_ts(row["next_try_at"])
        waits.append(due - now[0])
        now[0] = due
        await forwarder.forward_once()
    assert [round(w.total_seconds()) for w in waits[:4]] == [30, 60, 120, 240]  # (stored to the millisecond)
    assert round(max(waits).total_seconds()) == 30 * 60
    assert (await app.forwarding.target(rental.id)).active
    told = [m for m in session.sent(1001) if "switched off" in m.text]
    assert told == []

    now[0] = start + timedelta(hours=24, minutes=1)
    await forwarder.forward_once()  # fails once more: 24 h without a break, switched off
    target = await app.forwarding.target(rental.id)
    assert not target.active
    await forwarder.forward_once()  # the notice
    await forwarder.forward_once()
    told = [m for m in session.sent(1001) if "switched off" in m.text]
    assert len(told) == 1 and "127.0.0.1" in told[0].text
    tries = len(receiver.requests)

    # Nothing more goes to it; a new code is not queued for it; the card says so.
    await store_code(background, provider, rental, "Telegram code: 20202")
    now[0] += timedelta(hours=1)
    await forwarder.forward_once()
    assert len(receiver.requests) == tries
    await alice.send("/numbers")
    await alice.press("Telegram")
    assert "switched off: it failed for 24 h" in alice.screen().text
    await forwarder.aclose()


async def test_a_success_ends_the_run_of_failures(local_app, local_settings, provider, receiver):
    app = local_app
    from tests.test_push import rented
    rental = await rented(app)
    await app.forwarding.set_url(1001, rental.id, receiver.url, 7)
    background = Background(app, build_bot(TOKEN, local_settings, session=RecordingSession()), Limits.unlimited())
    now = [utcnow() + timedelta(seconds=1)]
    background.forwarder.clock = lambda: now[0]
    receiver.status = 503
    await store_code(background, provider, rental, "code 1")
    await background.forwarder.forward_once()
    assert (await app.forwarding.target(rental.id)).failing_since is not None
    receiver.status = 200
    now[0] += timedelta(hours=23)
    assert await background.forwarder.forward_once() == 1
    assert (await app.forwarding.target(rental.id)).failing_since is None
    receiver.status = 500
    now[0] += timedelta(hours=2)
    await store_code(background, provider, rental, "code 2")
    await background.forwarder.forward_once()
    assert (await app.forwarding.target(rental.id)).active  # a new run began just now
    await background.forwarder.aclose()


async def test_stop_forwarding(app, alice, provider, telegram, session):
    rental = await rent_private(alice, app)
    session.admins.add((-100321, alice.user.id))
    await alice.press("📤 Forward codes")
    await alice.press("💬 To a chat")
    await alice.send("-100321")
    assert "Forwarding to <b>-100321</b>" in alice.screen().text
    answer = await alice.press("⏹ Stop forwarding")
    assert answer.text == "Forwarding stopped."
    assert await app.forwarding.target(rental.id) is None
    background = Background(app, telegram[1], Limits.unlimited())
    await store_code(background, provider, rental, "code 4")
    assert await background.forwarder.forward_once() == 0
    assert session.sent(-100321) == []


def test_the_back_off_doubles_from_30_seconds_to_a_30_minute_cap():
    from bot.outbound.forwarding import pause_after
    assert [pause_after(n).total_seconds() for n in (1, 2, 3, 4, 5, 6, 7)] == [30, 60, 120, 240, 480, 960, 1800]
    assert pause_after(10_000) == timedelta(minutes=30)  # a day of failures: no overflow


def test_a_urls_query_is_never_shown():
    from handlers import views
    from handlers.i18n import Texts
    from storage.forwarding import ForwardTarget
    target = ForwardTarget(1, "url", "https://hooks.example.com/in?token=s3cret", 1, utcnow(), None, None)
    line = views.forward_line(Texts("en"), target)
    assert "hooks.example.com/in" in line and "s3cret" not in line


async def test_a_kill_inside_the_post_repeats_it_with_the_same_idempotency_key(local_app, local_settings, provider,
                                                                                receiver):
    """The attempt was written, the POST went out, the process died before marking it sent: the restart POSTs it
    again, with the same X-Idempotency-Key, so the receiver can drop the repeat."""
    app = local_app
    from tests.test_push import rented
    rental = await rented(app)
    await app.forwarding.set_url(1001, rental.id, receiver.url, 7)
    first = Background(app, build_bot(TOKEN, local_settings, session=RecordingSession()), Limits.unlimited())
    await store_code(first, provider, rental, "Your code is 808080")
    [forward] = await app.forwarding.repo.due(utcnow())
    await app.forwarding.repo.mark_attempt(forward.id)
    await first.forwarder._post(forward, rental)  # delivered; then "killed" before mark_sent
    await first.forwarder.aclose()
    await app.db.close()
    async with open_world(local_settings, {provider.name: provider}) as reopened:
        again = Background(reopened.app, reopened.bot, Limits.unlimited())
        assert await again.forwarder.forward_once() == 1
        await again.forwarder.aclose()
    keys = [headers["X-Idempotency-Key"] for _, headers in receiver.requests]
    assert keys == [str(forward.sms.id)] * 2
    await app.db.connect()


async def test_in_a_private_chat_the_target_is_picked_with_telegrams_chat_picker_and_named(app, telegram, session):
    """Telegram's picker (a reply keyboard's request_chat button: groups where the person is an admin and the bot a
    member); the chat named by its title, never its raw id; the picked chat checked as a typed id is."""
    from aiogram.methods import EditMessageText, SendMessage
    from aiogram.types import ReplyKeyboardMarkup, ReplyKeyboardRemove

    from handlers.keyboards import FORWARD_PICK_REQUEST

    dp, bot = telegram
    alice = Person(dp, bot, session, 1001, name="Alice")
    ann_in_team = Person(dp, bot, session, 1001, chat_id=GROUP, name="Alice")
    await ann_in_team.send("/start@rent_test_bot")  # the bot knows the group and its title
    session.admins.add((GROUP, 1001))
    await alice.send("/start")
    await credit(app, 1001, 500)
    await alice.press("Rent a number")
    await alice.press("Telegram")
    await alice.press("$1.10")
    await alice.press("Rent for $1.10")
    await alice.press("📤 Forward codes")
    assert "JSON" not in alice.screen().text and "HMAC" not in alice.screen().text  # the details: behind "To a URL"
    await alice.press("💬 To a chat")
    assert "Pick the group with the button below" in session.calls_of(EditMessageText)[-1].text
    picker = session.calls_of(SendMessage)[-1].reply_markup
    assert isinstance(picker, ReplyKeyboardMarkup) and picker.one_time_keyboard
    [[group_button]] = picker.keyboard
    assert group_button.request_chat.request_id == FORWARD_PICK_REQUEST
    assert group_button.request_chat.bot_is_member and not group_button.request_chat.chat_is_channel
    assert group_button.request_chat.user_administrator_rights is not None  # groups where the person is an admin

    await alice.share_chat(FORWARD_PICK_REQUEST, GROUP, "Team")
    told = session.calls_of(SendMessage)[-2]
    assert told.text == "📤 Codes of this number now also go to <b>Team</b>."
    assert isinstance(told.reply_markup, ReplyKeyboardRemove)  # the picker goes away
    assert "📤 Forwarding to <b>Team</b>" in alice.screen().text
    [rental], _ = await app.rentals.rentals.for_chat(1001)
    assert (await app.forwarding.target(rental.id)).target == str(GROUP)

    # Picked again without being asked: nothing changes. A forged pick of a group she does not run: refused.
    await app.forwarding.stop(rental.id)
    await alice.share_chat(FORWARD_PICK_REQUEST, GROUP, "Team")
    assert await app.forwarding.target(rental.id) is None
    await alice.press_data(f"fw:{rental.id}:chat")
    session.admins.discard((GROUP, 1001))
    await alice.share_chat(FORWARD_PICK_REQUEST, GROUP, "Team")
    assert "must be an admin of that group" in alice.screen().text
    assert await app.forwarding.target(rental.id) is None
