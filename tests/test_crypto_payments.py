"""Crypto through Crypto Pay, against the fake Crypto Pay server (playground/sandbox/cryptopay.py) and the bot's
own HTTP server: the top-up screen with both amounts, the invoice with its pay button, credited exactly once by
the signed webhook (replayed, or after a restart) or by the poll when the webhook is lost; unsigned and altered
updates refused; an expired invoice closed and never credited; a poll that gets no answer leaves the invoice open."""
from __future__ import annotations

import json
import socket
from contextlib import AsyncExitStack
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from bot.background import Background
from bot.outbound.pace import Limits
from handlers.i18n import Texts
from handlers.views import ledger_line
from playground.recording import Person
from playground.sandbox.cryptopay import FakeCryptoPay
from providers.cryptopay import SIGNATURE_HEADER, signature
from tests.conftest import ADMIN_ID, open_world

CP_TOKEN = "15911:AAcryptoPayAppTokenForTestsOnly"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def fake():
    async with FakeCryptoPay(CP_TOKEN) as server:
        yield server


@pytest.fixture
def crypto_settings(settings, fake):
    return settings.model_copy(update={
        "cryptopay_token": SecretStr(CP_TOKEN), "cryptopay_api_url": fake.api_url,
        "cryptopay_assets": ("USDT", "TON"), "cryptopay_amounts": (Decimal(5), Decimal(10)),
        "cryptopay_expires_in": 900, "http_host": "127.0.0.1", "http_port": free_port(), "provider_timeout": 0.3})


class Bot:
    """One run of the bot: the production App, Dispatcher and Background, its HTTP server listening."""

    def __init__(self, settings, session, fake) -> None:
        self.settings, self.session, self.fake = settings, session, fake

    async def __aenter__(self) -> Bot:
        async with AsyncExitStack() as stack:
            world = await stack.enter_async_context(open_world(self.settings, {}, self.session))
            self.app, self.dp, self.bot = world.app, world.dp, world.bot
            self.background = Background(self.app, self.bot, Limits.unlimited())
            await self.background.http.start()
            stack.push_async_callback(self.background.http.stop)  # stopped first, then the world checked and closed
            self.fake.webhook_url = f"http://127.0.0.1:{self.settings.http_port}{self.settings.cryptopay_webhook_path}"
            self.alice = world.person(1001, name="Alice")
            self._running = stack.pop_all()
        return self

    async def __aexit__(self, *exc) -> bool | None:
        return await self._running.__aexit__(*exc)

    async def balance(self, chat_id: int = 1001) -> int:
        return (await self.app.chats.get(chat_id)).balance

    async def topups(self, chat_id: int = 1001):
        return [e for e in await self.app.ledger_repo.recent(chat_id) if e.kind == "topup"]

    async def told(self, chat_id: int = 1001) -> list[str]:
        """What the chat was told of payments, once the money news loop has sent what was written."""
        await self.background.money_news.send_once()
        return [c.text for c in self.session.sent(chat_id) if "Payment received" in c.text]

    async def status(self, invoice_id: int) -> str:
        return (await self.app.crypto.repo.get(invoice_id)).status


@pytest.fixture
async def world(crypto_settings, session, fake):
    async with Bot(crypto_settings, session, fake) as running:
        yield running


async def open_invoice(alice: Person, amount: str = "10 USD") -> str:
    """Balance → Top up → Pay with crypto → the amount: the pay button's URL."""
    await alice.send("/start")
    await alice.press("Balance")
    await alice.press("Top up")
    await alice.press("Pay with crypto")
    await alice.press(amount)
    [[button]] = alice.screen().reply_markup.inline_keyboard
    return button.url


def invoice_of(fake: FakeCryptoPay, url: str) -> dict:
    return next(i for i in fake.invoices.values() if i["bot_invoice_url"] == url)


async def post(world: Bot, body: bytes, headers: dict) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(world.fake.webhook_url, content=body,
                                 headers={"Content-Type": "application/json", **headers})


async def test_the_top_up_screen_shows_crypto_with_both_amounts_and_the_invoice_its_pay_button(world):
    alice = world.alice
    await alice.send("/start")
    await alice.press("Balance")
    await alice.press("Top up")
    assert "🪙 Pay with crypto" in alice.buttons()
    await alice.press("Pay with crypto")
    assert alice.buttons() == ["5 USD → $5.00", "10 USD → $10.00", "« Back"]  # paid → credited
    assert "@CryptoBot in USDT, TON" in alice.screen().text
    await alice.press("10 USD")
    screen = alice.screen()
    [[button]] = screen.reply_markup.inline_keyboard
    assert button.text == "🪙 Pay 10 USD in @CryptoBot" and button.url.startswith(world.fake.url + "/pay/")
    assert "Invoice for $10.00" in screen.text and "Pay 10 USD in USDT, TON" in screen.text
    [(method, params)] = world.fake.requests
    assert method == "createInvoice"
    assert (params["currency_type"], params["fiat"], params["amount"], params["accepted_assets"],
            params["expires_in"]) == ("fiat", "USD", "10.00", "USDT,TON", 900)
    invoice = invoice_of(world.fake, button.url)
    assert (await world.app.crypto.repo.get(invoice["invoice_id"])).credit == 1000

    # The same amount again while that invoice is open: the same invoice, no second one at Crypto Pay.
    again = await open_invoice(alice)
    assert again == button.url and len(world.fake.requests) == 1


async def test_a_paid_invoice_is_credited_once_however_often_the_webhook_comes(world):
    url = await open_invoice(world.alice)
    invoice = invoice_of(world.fake, url)
    update = await world.fake.pay(invoice["invoice_id"], "TON")
    assert world.fake.webhooks_sent[-1][1] == 200
    assert await world.balance() == 1000
    assert await world.told() == ["✅ Payment received: $10.00 added. Balance: $10.00."]
    for _ in range(2):  # Crypto Pay retries an update it thinks was lost
        assert await world.fake.send_webhook(update) == 200
    assert await world.background.jobs.reconcile_crypto() == 0  # and the poll finds it paid: nothing more
    assert await world.balance() == 1000 and len(await world.told()) == 1
    [entry] = await world.topups()
    assert entry.reference == f"crypto:{invoice['invoice_id']}"
    row = await world.app.db.fetchone("SELECT idempotency_key, actor_id FROM ledger WHERE id = ?", (entry.id,))
    assert (row["idempotency_key"], row["actor_id"]) == (f"crypto:{invoice['invoice_id']}", 1001)
    assert ledger_line(Texts("en"), entry).endswith("+$10.00 · top-up in crypto 🪙 1.9047619 TON")
    assert ledger_line(Texts("ru"), entry).endswith("пополнение криптовалютой 🪙 1.9047619 TON")
    assert await world.status(invoice["invoice_id"]) == "credited"

    # The operator's /ledger names the method too.
    admin = Person(world.dp, world.bot, world.session, ADMIN_ID, name="Op")
    await admin.send("/start")
    await admin.send("/ledger 1001")
    assert "top-up in crypto 🪙 1.9047619 TON" in world.session.last(ADMIN_ID).text


async def test_the_sandbox_pay_page_names_a_whole_paid_amount_plainly(world):
    url = await open_invoice(world.alice)
    await world.fake.pay(invoice_of(world.fake, url)["invoice_id"], "USDT")
    async with httpx.AsyncClient() as client:
        page = (await client.get(url)).text
    assert "Paid with 10 USDT." in page  # not "1E+1"


async def test_a_lost_webhook_is_credited_by_the_poll(world):
    world.fake.drop_webhooks = True
    invoice = invoice_of(world.fake, await open_invoice(world.alice))
    await world.fake.pay(invoice["invoice_id"])
    assert await world.balance() == 0 and world.fake.webhooks_sent == []
    assert world.background.scheduler.get_job("cryptopay") is not None  # the fallback runs on its own too
    assert await world.background.jobs.reconcile_crypto() == 1
    assert await world.balance() == 1000 and len(await world.told()) == 1
    assert await world.background.jobs.reconcile_crypto() == 0
    assert await world.balance() == 1000 and len(await world.topups()) == 1


async def test_unsigned_altered_and_unknown_updates_are_refused_and_credit_nothing(world):
    world.fake.drop_webhooks = True
    invoice = invoice_of(world.fake, await open_invoice(world.alice))
    update = await world.fake.pay(invoice["invoice_id"])
    raw = json.dumps(update, separators=(",", ":")).encode()
    good = signature(CP_TOKEN, raw)

    assert (await post(world, raw, {})).status_code == 401  # unsigned
    assert (await post(world, raw, {SIGNATURE_HEADER: signature("other:token", raw)})).status_code == 401
    tampered = raw.replace(b'"amount":"10.00"', b'"amount":"1000.00"')
    assert tampered != raw
    assert (await post(world, tampered, {SIGNATURE_HEADER: good})).status_code == 401  # altered after signing
    assert (await post(world, raw + b" ", {SIGNATURE_HEADER: good})).status_code == 401  # not the raw body signed
    unknown = json.dumps({**update, "payload": {**update["payload"], "invoice_id": 999999}}).encode()
    assert (await post(world, unknown, {SIGNATURE_HEADER: signature(CP_TOKEN, unknown)})).status_code == 400
    assert (await post(world, b"not json", {SIGNATURE_HEADER: signature(CP_TOKEN, b"not json")})).status_code == 400
    assert await world.balance() == 0 and await world.status(invoice["invoice_id"]) == "active"

    # Signed, but not what the bot recorded (another amount): not credited, kept for the operator.
    other = json.dumps({**update, "payload": {**update["payload"], "amount": "1000.00"}}).encode()
    reply = await post(world, other, {SIGNATURE_HEADER: signature(CP_TOKEN, other)})
    assert reply.status_code == 200 and reply.json() == {"ok": True, "credited": False}
    assert await world.balance() == 0 and await world.status(invoice["invoice_id"]) == "paid"


async def test_the_real_update_after_refused_ones_is_credited(world):
    world.fake.drop_webhooks = True
    invoice = invoice_of(world.fake, await open_invoice(world.alice))
    update = await world.fake.pay(invoice["invoice_id"])
    assert await world.fake.send_webhook(update, sign=False) == 401
    assert await world.fake.send_webhook(update) == 200
    assert await world.balance() == 1000


async def test_a_restart_between_payment_and_credit_credits_once(crypto_settings, session, fake):
    async with Bot(crypto_settings, session, fake) as first:
        invoice = invoice_of(fake, await open_invoice(first.alice))
    # The bot is down when the buyer pays: the update does not arrive.
    update = await fake.pay(invoice["invoice_id"])
    assert fake.webhooks_sent[-1][1] is None

    async with Bot(crypto_settings.model_copy(update={"http_port": free_port()}), session, fake) as second:
        assert await second.status(invoice["invoice_id"]) == "active"
        assert await fake.send_webhook(update) == 200  # Crypto Pay's retry reaches the new run
        assert await second.background.jobs.reconcile_crypto() == 0
        assert await fake.send_webhook(update) == 200
        assert await second.balance() == 1000 and len(await second.topups()) == 1


async def test_after_a_restart_the_poll_credits_what_was_paid_while_down(crypto_settings, session, fake):
    async with Bot(crypto_settings, session, fake) as first:
        invoice = invoice_of(fake, await open_invoice(first.alice))
    fake.drop_webhooks = True
    await fake.pay(invoice["invoice_id"])
    async with Bot(crypto_settings, session, fake) as second:
        assert await second.background.jobs.reconcile_crypto() == 1
        assert await second.balance() == 1000 and len(await second.topups()) == 1


async def test_an_expired_invoice_is_closed_and_never_credited_even_by_a_late_webhook(world):
    invoice = invoice_of(world.fake, await open_invoice(world.alice))
    world.fake.expire(invoice["invoice_id"])
    assert await world.background.jobs.reconcile_crypto() == 0
    assert await world.status(invoice["invoice_id"]) == "expired"
    assert not await world.app.crypto.repo.active()
    with pytest.raises(ValueError):
        await world.fake.pay(invoice["invoice_id"])
    # A signed invoice_paid for it arriving late anyway: acknowledged (no retries for days), not credited.
    late = world.fake.update_of({**invoice, "status": "paid", "paid_asset": "USDT", "paid_amount": "10"})
    assert await world.fake.send_webhook(late) == 200
    assert await world.balance() == 0 and await world.status(invoice["invoice_id"]) == "expired"
    assert await world.told() == []
    # A new tap makes a new invoice: the closed one is not shown again.
    assert await open_invoice(world.alice) != invoice["bot_invoice_url"]


async def test_an_invoice_past_its_time_by_the_bots_clock_is_deleted_at_crypto_pay_then_closed(world):
    invoice = invoice_of(world.fake, await open_invoice(world.alice))
    await world.app.db.conn.execute("UPDATE crypto_invoices SET expires_at = '2020-01-01T00:00:00.000+00:00'")
    world.fake.fail_next(500, count=3)  # no answer to getInvoices: nothing is decided on a guess
    assert await world.background.jobs.reconcile_crypto() == 0
    assert await world.status(invoice["invoice_id"]) == "active"
    assert await world.background.jobs.reconcile_crypto() == 0
    assert ("deleteInvoice", {"invoice_id": invoice["invoice_id"]}) in world.fake.requests
    assert await world.status(invoice["invoice_id"]) == "expired"
    assert invoice["invoice_id"] not in world.fake.invoices  # it can no longer be paid at Crypto Pay


async def test_a_poll_that_times_out_leaves_the_invoice_open_and_a_later_one_credits_it(world):
    world.fake.drop_webhooks = True
    invoice = invoice_of(world.fake, await open_invoice(world.alice))
    await world.fake.pay(invoice["invoice_id"])
    world.fake.slow_seconds = 1.0
    world.fake.set_mode("slow")  # every getInvoices outlives PROVIDER_TIMEOUT
    assert await world.background.jobs.reconcile_crypto() == 0
    assert await world.balance() == 0 and await world.status(invoice["invoice_id"]) == "active"
    world.fake.set_mode("ok")
    assert await world.background.jobs.reconcile_crypto() == 1
    assert await world.balance() == 1000


async def test_an_invoice_crypto_pay_did_not_confirm_is_not_shown_and_can_be_asked_for_again(world):
    alice = world.alice
    await alice.send("/start")
    await alice.press("Balance")
    await alice.press("Top up")
    await alice.press("Pay with crypto")
    world.fake.fail_next(502)  # a gateway lost the reply: maybe made, nobody has its link
    answer = await alice.press("10 USD")
    assert "did not answer in time" in answer.text
    world.fake.fail_next(400, {"ok": False, "error": {"code": 400, "name": "AMOUNT_TOO_SMALL"}})
    answer = await alice.press("10 USD")
    assert "not answering" in answer.text
    assert not await world.app.crypto.repo.active() and await world.balance() == 0
    await alice.press("10 USD")
    assert alice.screen().reply_markup.inline_keyboard[0][0].url.startswith(world.fake.url)


async def test_new_invoices_wait_for_the_cooldown(crypto_settings, session, fake):
    async with Bot(crypto_settings.model_copy(update={"action_cooldown": 30.0}), session, fake) as world:
        await open_invoice(world.alice, "5 USD")
        screen = [m for m in world.session.messages[1001].values() if "5 USD → $5.00" in str(m.reply_markup)][-1]
        answer = await world.alice.press("10 USD", screen)
        assert "Try again in" in answer.text
        assert [m for m, _ in fake.requests] == ["createInvoice"]
        await world.alice.press("5 USD", screen)  # the open invoice again: no provider call, no wait
        assert [m for m, _ in fake.requests] == ["createInvoice"]


async def test_without_a_token_there_is_no_crypto_button_and_no_webhook(settings, session):
    configured = settings.model_copy(update={"http_host": "127.0.0.1", "http_port": free_port()})
    async with open_world(configured, {}, session) as world:
        app, bot = world.app, world.bot
        alice = world.person(1001, name="Alice")
        await alice.send("/start")
        await alice.press("Balance")
        await alice.press("Top up")
        assert not any("crypto" in b for b in alice.buttons())
        assert "out of date" in (await alice.press_data("ux:500")).text  # an old or forged button
        background = Background(app, bot, Limits.unlimited())
        assert background.scheduler.get_job("cryptopay") is None
        await background.http.start()
        try:
            async with httpx.AsyncClient() as client:
                reply = await client.post(f"http://127.0.0.1:{configured.http_port}/cryptopay", content=b"{}")
            assert reply.status_code == 404
        finally:
            await background.http.stop()


def test_no_secret_in_the_settings_repr(crypto_settings):
    assert CP_TOKEN not in repr(crypto_settings) and CP_TOKEN in crypto_settings.secrets()
