"""Referrals through the production Dispatcher: every user's invite link (aiogram's start link), the inviter set at
the user's first /start only and never to themselves, and the inviter's share of each payment (Stars, card,
crypto) credited once with it, in its transaction; nothing for operator credits, promo codes or a replayed
payment. The ledger invariant holds after each test."""
from __future__ import annotations

import re
import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiogram.methods import SendInvoice
from aiogram.types import Message, PreCheckoutQuery, SuccessfulPayment, Update
from aiogram.utils.deep_linking import decode_payload, encode_payload
from pydantic import SecretStr

from bot.background import Background
from bot.outbound.pace import Limits
from bot.services.referrals import decode_inviter
from handlers.i18n import Texts
from handlers.views import ledger_line
from playground.recording import Person
from playground.sandbox.cryptopay import FakeCryptoPay
from storage import Database, LedgerRepo, ledger
from storage import db as storage_db
from storage.referrals import ReferralRepo
from tests import conftest
from tests.conftest import ADMIN_ID, open_world

ALICE, BOB, CAROL, DAVE = 1001, 1002, 1003, 1004
LINK = re.compile(r"https://t\.me/rent_test_bot\?start=([A-Za-z0-9_-]+)")
CP_TOKEN = "15911:AAcryptoPayAppTokenForTestsOnly"


@pytest.fixture
def ref_settings(settings):
    return settings.model_copy(update={
        "referral_percent": Decimal("10"), "payments_provider_token": SecretStr("284685063:TEST:card-token"),
        "card_currency": "EUR", "card_rate": Decimal("1.0837"), "card_amounts": (Decimal(5),)})


class World:
    """The shared world (tests/conftest.py open_world) with the steps these tests take in it."""

    def __init__(self, world: conftest.World) -> None:
        self.world, self.app, self.session = world, world.app, world.session
        self.dp, self.bot = world.dp, world.bot
        self._ids = iter(range(50_000_000, 60_000_000))

    def person(self, user_id: int, name: str, *, chat_id: int | None = None, language: str = "en") -> Person:
        return self.world.person(user_id, chat_id=chat_id, name=name, language=language)

    async def balance(self, chat_id: int) -> int:
        return (await self.app.chats.get(chat_id)).balance

    async def rows(self, chat_id: int, kind: str):
        return [e for e in await self.app.ledger_repo.recent(chat_id, limit=100) if e.kind == kind]

    async def code_of(self, person: Person) -> str:
        """The person's invite link from their invite screen (Balance → Invite friends), its start code."""
        await person.send("/balance")
        await person.press("Invite friends")
        found = LINK.search(person.screen().text)
        assert found, person.screen().text
        return found.group(1)

    async def pay_stars(self, person: Person, stars: int, charge_id: str) -> Update:
        """Top up → ``stars`` ⭐ → Telegram's pre-checkout and successful payment. Returns the payment update."""
        await person.send("/balance")
        await person.press("Top up")
        await person.press(f"{stars} ⭐")
        invoice = self.session.calls_of(SendInvoice)[-1]
        return await self.pay(person, invoice, charge_id)

    async def pay_card(self, person: Person, charge_id: str) -> Update:
        await person.send("/balance")
        await person.press("Top up")
        await person.press("Pay by card")
        await person.press("€5.00")
        return await self.pay(person, self.session.calls_of(SendInvoice)[-1], charge_id)

    async def pay(self, person: Person, invoice: SendInvoice, charge_id: str) -> Update:
        query = PreCheckoutQuery(id=f"q-{charge_id}", from_user=person.user, currency=invoice.currency,
                                 total_amount=invoice.prices[0].amount, invoice_payload=invoice.payload)
        await self.dp.feed_update(self.bot, Update(update_id=next(self._ids), pre_checkout_query=query))
        payment = SuccessfulPayment(currency=invoice.currency, total_amount=invoice.prices[0].amount,
                                    invoice_payload=invoice.payload, telegram_payment_charge_id=charge_id,
                                    provider_payment_charge_id=f"p-{charge_id}")
        message = Message(message_id=next(self._ids), date=datetime.now(UTC), chat=person.chat, from_user=person.user,
                          successful_payment=payment)
        update = Update(update_id=next(self._ids), message=message)
        await self.dp.feed_update(self.bot, update)
        return update


@pytest.fixture
async def world(ref_settings, session):
    async with open_world(ref_settings, {}, session) as opened:
        yield World(opened)


async def test_the_invite_screen_shows_the_link_the_invited_count_and_the_earnings(world):
    alice = world.person(ALICE, "Alice")
    await alice.send("/start")
    await alice.send("/balance")
    assert "🎁 Invite friends" in alice.buttons() and "🎟 Promo code" in alice.buttons()
    code = await world.code_of(alice)
    screen = alice.screen().text
    assert "10% of each payment" in screen and "Invited: <b>0</b> · Earned: <b>$0.00</b>" in screen
    assert decode_payload(code) == f"ref:{ALICE}" and decode_inviter(code) == ALICE  # aiogram's own encoding
    assert alice.buttons() == ["📋 Copy the link", "↗️ Share the link", "« Back"]
    [copy, share, _] = [row[0] for row in alice.screen().reply_markup.inline_keyboard]
    assert copy.copy_text.text == f"https://t.me/rent_test_bot?start={code}"
    assert share.url.startswith("https://t.me/share/url?url=https%3A%2F%2Ft.me%2Frent_test_bot%3Fstart%3D")

    bob = world.person(BOB, "Bob")
    await bob.send(f"/start {code}")
    assert "Virtual numbers for SMS codes" in bob.screen().text  # the main menu, as any /start
    assert await world.app.referrals.repo.inviter_of(BOB) == ALICE
    await world.pay_stars(bob, 100, "charge-1")  # 100 ⭐ = $1.30: 13 cents to Alice
    await alice.send("/invite")
    assert "Invited: <b>1</b> · Earned: <b>$0.13</b>" in alice.screen().text

    # In Russian too, and the group's balance screen has no invite button (a person's link, a person's money).
    ru = world.person(CAROL, "Ann", language="ru")
    await ru.send("/invite")
    assert "Пригласите друзей" in ru.screen().text and "Приглашено: <b>0</b>" in ru.screen().text
    group = world.person(ALICE, "Alice", chat_id=-100777)
    await group.send("/balance")
    assert "🎁 Invite friends" not in group.buttons() and "🎟 Promo code" in group.buttons()
    await group.send("/invite")
    assert "open @rent_test_bot and send /invite" in group.screen().text


async def test_the_inviter_gets_the_percent_of_each_payment_once_even_when_it_is_delivered_again(world):
    alice, bob = world.person(ALICE, "Alice"), world.person(BOB, "Bob")
    await alice.send("/start")
    await bob.send(f"/start {await world.code_of(alice)}")

    update = await world.pay_stars(bob, 250, "stars-1")  # 250 ⭐ × 1.3 = $3.25 → 32.5 cents, rounded down: 32
    assert await world.balance(BOB) == 325 and await world.balance(ALICE) == 32
    await world.dp.feed_update(world.bot, update)  # Telegram hands the same payment over again
    assert await world.balance(BOB) == 325 and await world.balance(ALICE) == 32

    await world.pay_card(bob, "card-1")  # €5 at 1.0837 = $5.41 → 54 cents
    update = await world.pay_card(bob, "card-1")  # the same charge id paid "again": credited once
    await world.dp.feed_update(world.bot, update)
    assert await world.balance(BOB) == 325 + 541 and await world.balance(ALICE) == 32 + 54

    [card, stars] = await world.rows(ALICE, "referral")
    assert (stars.amount, card.amount) == (32, 54)
    key = await world.app.db.fetchone("SELECT idempotency_key, actor_id FROM ledger WHERE id = ?", (stars.id,))
    assert (key["idempotency_key"], key["actor_id"]) == ("referral:stars:stars-1", BOB)
    assert ledger_line(Texts("en"), stars).endswith("+$0.32 · invite reward: 10% of a friend's top-up of $3.25")
    assert ledger_line(Texts("ru"), card).endswith("награда за приглашение: 10% от пополнения друга на $5.41")
    # The operator's /ledger reads it too.
    admin = world.person(ADMIN_ID, "Op")
    await admin.send(f"/ledger {ALICE}")
    assert "invite reward: 10% of a friend's top-up of $3.25" in admin.screen().text


async def test_a_payment_into_a_group_rewards_the_payers_inviter_on_their_private_balance(world):
    alice, bob = world.person(ALICE, "Alice"), world.person(BOB, "Bob")
    await alice.send("/start")
    await bob.send(f"/start {await world.code_of(alice)}")
    team = world.person(BOB, "Bob", chat_id=-100555)
    await team.send("/start")  # a /start in a group is no first start and sets no inviter
    await world.pay_stars(team, 100, "group-1")
    assert await world.balance(-100555) == 130 and await world.balance(ALICE) == 13
    assert await world.rows(-100555, "referral") == []


async def test_no_self_referral(world):
    alice = world.person(ALICE, "Alice")
    own = encode_payload(f"ref:{ALICE}")  # what her own link carries
    await alice.send(f"/start {own}")  # her first /start, through her own link
    assert await world.app.referrals.repo.started(ALICE)
    assert await world.app.referrals.repo.inviter_of(ALICE) is None
    await world.pay_stars(alice, 100, "self-1")
    assert await world.balance(ALICE) == 130 and await world.rows(ALICE, "referral") == []
    await alice.send("/invite")
    assert "Invited: <b>0</b> · Earned: <b>$0.00</b>" in alice.screen().text


async def test_the_inviter_is_set_at_the_first_start_only_and_never_changed(world):
    alice, dave = world.person(ALICE, "Alice"), world.person(DAVE, "Dave")
    await alice.send("/start")
    await dave.send("/start")
    alice_code, dave_code = await world.code_of(alice), await world.code_of(dave)

    carol = world.person(CAROL, "Carol")
    await carol.send("/start")  # came on her own
    await carol.send(f"/start {alice_code}")  # a link opened later sets nobody
    assert await world.app.referrals.repo.inviter_of(CAROL) is None

    bob = world.person(BOB, "Bob")
    await bob.send(f"/start {alice_code}")
    await bob.send(f"/start {dave_code}")  # another link later: Alice stays Bob's inviter
    await bob.send("/start")
    assert await world.app.referrals.repo.inviter_of(BOB) == ALICE
    await world.pay_stars(bob, 100, "bob-1")
    await world.pay_stars(carol, 100, "carol-1")
    assert await world.balance(ALICE) == 13 and await world.balance(DAVE) == 0

    # A link of nobody the bot knows, or a broken one: the menu as usual, no inviter.
    for n, args in enumerate((encode_payload("ref:777777"), "!!!", "abc", encode_payload("something-else"))):
        newcomer = world.person(2000 + n, "Max")
        await newcomer.send(f"/start {args}")
        assert "Virtual numbers for SMS codes" in newcomer.screen().text
        assert await world.app.referrals.repo.inviter_of(2000 + n) is None


async def test_operator_credits_and_promo_money_reward_nobody(world):
    alice, bob = world.person(ALICE, "Alice"), world.person(BOB, "Bob")
    await alice.send("/start")
    await bob.send(f"/start {await world.code_of(alice)}")
    admin = world.person(ADMIN_ID, "Op")
    await admin.send(f"/credit {BOB} 50 goodwill")
    assert await world.balance(BOB) == 5000
    await admin.send("/promo WELCOME 3 10")
    await bob.send("/redeem welcome")
    assert await world.balance(BOB) == 5300
    assert await world.balance(ALICE) == 0 and await world.rows(ALICE, "referral") == []


async def test_percent_zero_rewards_nothing_and_says_so(ref_settings, session):
    settings = ref_settings.model_copy(update={"referral_percent": Decimal(0)})
    async with open_world(settings, {}, session) as opened:
        world, app = World(opened), opened.app
        alice, bob = world.person(ALICE, "Alice"), world.person(BOB, "Bob")
        await alice.send("/start")
        code = await world.code_of(alice)
        assert "Invitations bring no reward at the moment" in alice.screen().text
        await bob.send(f"/start {code}")
        await world.pay_stars(bob, 100, "zero-1")
        assert await world.balance(ALICE) == 0
        assert await app.referrals.repo.inviter_of(BOB) == ALICE  # still recorded: a later percent rewards


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_crypto_payment_rewards_once_by_webhook_replay_and_poll(ref_settings, session):
    async with FakeCryptoPay(CP_TOKEN) as fake:
        settings = ref_settings.model_copy(update={
            "cryptopay_token": SecretStr(CP_TOKEN), "cryptopay_api_url": fake.api_url, "cryptopay_assets": ("USDT",),
            "cryptopay_amounts": (Decimal(5),), "http_host": "127.0.0.1", "http_port": free_port(),
            "provider_timeout": 0.3})
        async with open_world(settings, {}, session) as opened:
            world, app = World(opened), opened.app
            background = Background(app, world.bot, Limits.unlimited())
            await background.http.start()
            try:
                fake.webhook_url = f"http://127.0.0.1:{settings.http_port}{settings.cryptopay_webhook_path}"
                alice, bob = world.person(ALICE, "Alice"), world.person(BOB, "Bob")
                await alice.send("/start")
                await bob.send(f"/start {await world.code_of(alice)}")
                await bob.send("/balance")
                await bob.press("Top up")
                await bob.press("Pay with crypto")
                await bob.press("5 USD")
                [[button]] = bob.screen().reply_markup.inline_keyboard
                invoice = next(i for i in fake.invoices.values() if i["bot_invoice_url"] == button.url)
                update = await fake.pay(invoice["invoice_id"])
                assert await world.balance(BOB) == 500 and await world.balance(ALICE) == 50
                assert await fake.send_webhook(update) == 200  # Crypto Pay sends it again
                assert await background.jobs.reconcile_crypto() == 0  # and the poll finds it credited
                assert await world.balance(BOB) == 500 and await world.balance(ALICE) == 50
                [reward] = await world.rows(ALICE, "referral")
                row = await app.db.fetchone("SELECT idempotency_key FROM ledger WHERE id = ?", (reward.id,))
                assert row[0] == f"referral:crypto:{invoice['invoice_id']}"
            finally:
                await background.http.stop()


async def test_the_migration_keeps_the_ledger_and_gives_users_known_before_no_inviter(tmp_path, monkeypatch):
    """A file as the release before referrals left it: its ledger rows kept (ids, keys, kinds), its private users
    recorded as started (a link they open later sets no inviter), and the new kinds accepted."""
    path = tmp_path / "old.sqlite3"
    before = next(i for i, (description, _) in enumerate(storage_db.MIGRATIONS) if description.startswith("business"))
    monkeypatch.setattr(storage_db, "MIGRATIONS", storage_db.MIGRATIONS[:before])
    old = Database(path)
    await old.connect()
    async with old.transaction() as conn:
        await conn.execute("INSERT INTO chats (id, kind, balance) VALUES (1001, 'private', 300), (-100, 'group', 0)")
        await conn.execute("INSERT INTO ledger (chat_id, amount, balance_after, kind, reference, idempotency_key)"
                           " VALUES (1001, 500, 500, 'topup', 'stars:c1', 'stars:c1'),"
                           " (1001, -200, 300, 'charge', 'rent:1', NULL)")
    await old.close()
    monkeypatch.undo()

    db = Database(path)
    await db.connect()
    try:
        assert await db.schema_version() == len(storage_db.MIGRATIONS)
        rows = await db.fetchall("SELECT id, amount, kind, idempotency_key FROM ledger ORDER BY id")
        assert [tuple(r) for r in rows] == [(1, 500, "topup", "stars:c1"), (2, -200, "charge", None)]
        invites = await db.fetchall("SELECT user_id, inviter_id FROM invites")
        assert [tuple(r) for r in invites] == [(1001, None)]
        assert await ReferralRepo(db).record_start(1001, 1002) is None  # known before: no inviter now
        async with db.transaction() as conn:
            await ledger.post(conn, 1001, 5, "referral", "referral:x", idempotency_key="referral:x")
            await ledger.post(conn, 1001, 5, "promo", "promo:X:1001", idempotency_key="promo:X:1001")
            await ledger.post(conn, 1001, -5, "transfer", "transfer:-100", idempotency_key="transfer:t")
        indexes = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger'")
        assert "ledger_chat" in {r[0] for r in indexes}
        assert await LedgerRepo(db).totals_mismatch() == []
    finally:
        await db.close()
