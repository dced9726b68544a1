"""Fault paths that once lost a code, a cent or a user's screen: each test is named after the behaviour it holds."""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditMessageText, SendMessage

from bot.background import Background
from bot.outbound.pace import Limits
from handlers import phones
from playground.recording import Person
from playground.sandbox.memory import MemoryProvider
from providers import Capability, Rental, RentalStatus, Service
from storage import Database, RentalRepo
from storage import db as storage_db
from tests.conftest import ADMIN_ID, credit, open_world
from tests.test_push import pushed, rented

EASTERN = timezone(timedelta(hours=-5))


@pytest.fixture
def background(memory_world):
    return Background(memory_world.app, memory_world.bot, Limits.unlimited())  # the world's bot, as alice's


# -- times -------------------------------------------------------------------------------------------------


class EasternProvider(MemoryProvider):
    """Reports end times in US Eastern, as GetAText does."""

    async def rent(self, offer, choice=None):
        rental = await super().rent(offer, choice)
        eastern = Rental(**{**{f: getattr(rental, f) for f in rental.__slots__},
                            "active_from": rental.active_from.astimezone(EASTERN),
                            "active_till": (datetime.now(UTC) + timedelta(minutes=10)).astimezone(EASTERN)})
        self.rentals[rental.id] = eastern
        return eastern


async def test_a_rental_from_a_provider_in_another_zone_is_not_expired_early(settings, session):
    provider = EasternProvider()
    async with open_world(settings, {provider.name: provider}, session) as world:
        app = world.app
        rental = await rented(app)
        stored = await app.db.fetchone("SELECT active_till FROM rentals WHERE id = ?", (rental.id,))
        assert stored[0].endswith("+00:00")  # one stored form: UTC
        background = Background(app, world.bot, Limits.unlimited())
        assert await background.jobs.expire() == 0
        assert (await app.rentals.rentals.get(rental.id)).status == "active"
        assert not session.sent(1001)  # nobody is told "expired" while waiting for the code
        # ...and it does expire once its end (given in Eastern time) has passed.
        async with app.db.transaction() as conn:
            await RentalRepo.update(conn, rental.id,
                                    active_till=(datetime.now(UTC) - timedelta(seconds=5)).astimezone(EASTERN))
        assert await background.jobs.expire() == 1


async def _database_at_version_3(path, monkeypatch, active_till: str | None = None, sms_keys=()) -> None:
    """A file as the previous release left it: one chat, one GetAText rental, some SMS."""
    monkeypatch.setattr(storage_db, "MIGRATIONS", storage_db.MIGRATIONS[:3])
    old = Database(path)
    await old.connect()
    async with old.transaction() as conn:
        await conn.execute("INSERT INTO chats (id, kind) VALUES (1, 'private')")
        await conn.execute(
            "INSERT INTO rentals (chat_id, user_id, provider, offer_id, service_name, billing, price_charged,"
            " provider_cost, status, active_till, request_key) VALUES (1, 1, 'getatext', 'wa', 'WhatsApp', 'sms',"
            " 100, '0.9', 'active', ?, 'k1')", (active_till,))
        for key in sms_keys:
            await conn.execute("INSERT INTO sms (provider, provider_message_id, rental_id) VALUES ('getatext', ?, 1)",
                               (key,))
    await old.close()
    monkeypatch.undo()


async def test_migration_rewrites_stored_times_in_utc(tmp_path, monkeypatch):
    path = tmp_path / "old.sqlite3"
    await _database_at_version_3(path, monkeypatch, active_till="2026-12-01T17:26:00-05:00")

    db = Database(path)
    await db.connect()
    try:
        row = await db.fetchone("SELECT active_till, period_price FROM rentals")
        assert row[0] == "2026-12-01T22:26:00.000+00:00" and row[1] == 100
        assert await db.schema_version() == len(storage_db.MIGRATIONS)
    finally:
        await db.close()


# -- input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["c:99999999999999999999:show:", "o:1:99999999999999999999", "sv:-1:",
                                  "u:99999999999999999999", "t:1:1:100:x", "p:0"])
async def test_out_of_range_callback_data_is_a_stale_button_without_an_error_log(app, alice, caplog, data):
    caplog.set_level(logging.DEBUG)
    await alice.send("/start")
    answer = await alice.press_data(data)
    assert "out of date" in answer.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("amount", ["٥", "５", "1٠", "²"])
async def test_operator_amounts_take_ascii_digits_only(app, telegram, session, alice, amount):
    dp, bot = telegram
    await alice.send("/start")
    admin = Person(dp, bot, session, ADMIN_ID, name="Op")
    await admin.send(f"/credit {alice.chat_id} {amount}")
    assert "Usage" in admin.screen().text
    await admin.send("/credit ١٠٠١ 5")
    assert "Usage" in admin.screen().text
    await admin.send("/ledger ١٠٠١")
    assert "Usage" in admin.screen().text
    assert (await app.chats.get(alice.chat_id)).balance == 0


# -- one name per service -------------------------------------------------------------------------------------


async def test_one_display_name_per_service_whichever_provider_sold_it(settings, session):
    lowercase = MemoryProvider("lower", "Lower")
    lowercase.services = [Service("wa", "Whatsapp")]
    lowercase.prices = {"wa": Decimal("0.10")}  # the cheapest: its number is the one rented
    branded = MemoryProvider()
    async with open_world(settings, {"lower": lowercase, branded.name: branded}, session) as world:
        app = world.app
        await app.chats.ensure(1001, "private", "Alice")
        await credit(app, 1001, 1000)
        alice = world.person(1001)
        await alice.send("/rent whats")
        assert "WhatsApp" in alice.buttons() and "Whatsapp" not in alice.buttons()
        await alice.press("WhatsApp")
        assert "Lower" in alice.buttons()[0]
        await alice.press("Lower")
        await alice.press("Rent for")
        [rental] = (await app.rentals.rentals.for_chat(1001))[0]
        assert rental.provider == "lower" and rental.service_name == "WhatsApp"
        assert "WhatsApp" in alice.screen().text
        [charge, _] = await app.ledger_repo.recent(1001)
        assert charge.note == "WhatsApp"


# -- pushed codes --------------------------------------------------------------------------------------------


async def test_number_button_under_a_pushed_code_opens_a_new_card_and_keeps_the_code(
        app, provider, session, background, alice):
    rental = await rented(app)
    provider.inject_sms(rental.provider_rental_id, "Telegram code: 48213")
    await background.pollers[provider.name].tick()
    await background.deliverer.deliver_once()
    code = session.last(alice.chat_id)
    code_text = code.text
    await alice.press("Number", code)
    assert session.messages[alice.chat_id][code.message_id].text == code_text  # the code is still there
    card = session.last(alice.chat_id)
    assert card.message_id != code.message_id and "Time left" in card.text
    assert not [c for c in session.calls_of(EditMessageText) if c.message_id == code.message_id]
    # Buttons on the new card edit the card, as usual.
    await alice.press("Refresh", card)
    assert session.last(alice.chat_id).message_id == card.message_id


def _refuse(session, message: str, count: int = 1) -> None:
    for _ in range(count):
        session.fail_next(SendMessage, TelegramBadRequest(method=SendMessage(chat_id=0, text=""), message=message))


async def test_a_chat_that_refuses_for_now_keeps_its_codes_and_gets_them_when_it_can(
        app, provider, session, background):
    rental = await rented(app, -100500, kind="supergroup")
    provider.inject_sms(rental.provider_rental_id, "code 111111")
    provider.inject_sms(rental.provider_rental_id, "code 222222")
    await background.pollers[provider.name].tick()
    _refuse(session, "Bad Request: not enough rights to send text messages to the chat")
    assert await background.deliverer.deliver_once() == 0
    assert (await app.chats.get(-100500)).active  # the chat is not dropped
    assert await app.sms_repo.outbox() == []  # both wait, in order, for the retry time
    [waiting] = await app.db.fetchall("SELECT COUNT(*) FROM sms WHERE delivery = 'held'")
    assert waiting[0] == 2
    # The bot's rights change (a my_chat_member update): what waits is tried at once, in arrival order.
    await app.sms_repo.retry_chat_now(-100500)
    assert await background.deliverer.deliver_once() == 2
    texts = [m.text for m in pushed(session, -100500) if "code" in m.text]
    assert "111111" in texts[-2] and "222222" in texts[-1]


async def test_a_refused_code_waits_with_growing_pauses_and_leaves_the_outbox_after_a_day(
        app, provider, session, background):
    rental = await rented(app, -100500, kind="supergroup")
    provider.inject_sms(rental.provider_rental_id, "code 333333")
    await background.pollers[provider.name].tick()
    waits = []
    for _ in range(3):
        _refuse(session, "Bad Request: TOPIC_CLOSED")
        async with app.db.transaction() as conn:
            await conn.execute("UPDATE sms SET next_try_at = datetime('now', '-1 second') WHERE delivery = 'held'")
        await background.deliverer.deliver_once()
        row = await app.db.fetchone("SELECT next_try_at FROM sms")
        waits.append(datetime.fromisoformat(row[0]) - datetime.now(UTC))
    assert waits[0] < waits[1] < waits[2] <= timedelta(minutes=30)
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE sms SET next_try_at = datetime('now', '-1 second'),"
                           " stored_at = datetime('now', '-25 hours') WHERE delivery = 'held'")
    _refuse(session, "Bad Request: TOPIC_CLOSED")
    await background.deliverer.deliver_once()
    row = await app.db.fetchone("SELECT undeliverable_reason FROM sms")
    assert row[0] and "may not write" in row[0]
    assert (await app.sms_repo.for_rental(rental.id))[0].code == "333333"  # still on the card


@pytest.mark.parametrize("message", ["Bad Request: chat not found", "Forbidden: bot was kicked from the group chat"])
async def test_only_a_gone_chat_stops_delivery(app, provider, session, background, message):
    from aiogram.exceptions import TelegramForbiddenError

    rental = await rented(app, -100500, kind="supergroup")
    provider.inject_sms(rental.provider_rental_id, "code 444444")
    await background.pollers[provider.name].tick()
    error_type = TelegramForbiddenError if message.startswith("Forbidden") else TelegramBadRequest
    session.fail_next(SendMessage, error_type(method=SendMessage(chat_id=0, text=""), message=message))
    await background.deliverer.deliver_once()
    assert not (await app.chats.get(-100500)).active
    row = await app.db.fetchone("SELECT undeliverable_reason FROM sms")
    assert row[0] == "chat unreachable"


async def test_a_code_for_a_number_closed_a_moment_ago_is_posted_at_once_saying_so(
        app, provider, session, background):
    """Seen once: a code for a cancelled number came 11 minutes late. It had arrived after the cancel; the poll
    asked only about active rentals, so it waited until another rental's SMS made the poller acknowledge
    everything unread."""
    rental = await rented(app)
    await app.rentals.cancel(1001, rental.id)
    provider.inject_sms(rental.provider_rental_id, "Telegram code: 909090")
    assert await background.pollers[provider.name].tick() == 1
    assert await background.deliverer.deliver_once() == 1
    [message] = [m for m in pushed(session, 1001) if "909090" in m.text]
    assert "closed now" in message.text and "cancelled" in message.text


# -- a lost rent reply ----------------------------------------------------------------------------------------


class NoListProvider(MemoryProvider):
    """Like GetAText: no list of short rentals to reconcile against, a webhook that names the service."""

    async def list_active_rentals(self):
        from providers import errors

        raise errors.UnsupportedOperationError("no rent list", provider=self.name)


async def _rent_with_lost_reply(app, provider, chat_id: int):
    from providers import errors

    provider.fail_rent = errors.OutcomeUnknownError("request timed out; outcome unknown", provider=provider.name)
    pending = await rented(app, chat_id)
    assert pending.status == "pending" and pending.provider_rental_id is None
    made = await provider.rent((await provider.list_offers(provider.services[0]))[0])  # what the provider did
    return pending, made


def _webhook_sms(provider, made, code: str, service: str = "Telegram"):
    from providers import Sms

    return Sms(provider.name, f"{made.id}:{code}", made.id, code, code, datetime.now(UTC), phone=made.phone,
               service_name=service)


async def test_a_lost_rent_reply_is_adopted_from_the_webhook_sms_and_the_code_reaches_the_chat(settings, session):
    provider = NoListProvider()
    async with open_world(settings, {provider.name: provider}, session) as world:
        app = world.app
        background = Background(app, world.bot, Limits.unlimited())
        pending, made = await _rent_with_lost_reply(app, provider, 1001)
        await background.pollers[provider.name].store([_webhook_sms(provider, made, "55001")])
        adopted = await app.rentals.rentals.get(pending.id)
        assert adopted.status == "active" and adopted.provider_rental_id == made.id and adopted.phone == made.phone
        assert abs(adopted.active_till - made.active_till) < timedelta(milliseconds=1)  # the provider's own record
        assert await background.deliverer.deliver_once() == 1
        [message] = [m for m in session.sent(1001) if "55001" in m.text]
        assert phones.display(made.phone) in message.text
        # ...and nothing is refunded later: it is not pending any more.
        async with app.db.transaction() as conn:
            await conn.execute("UPDATE rentals SET created_at = datetime('now', '-1 hour')")
        assert await app.rentals.reconcile_pending() == []
        assert (await app.chats.get(1001)).balance == 1000 - 110


async def test_a_webhook_sms_matching_two_pending_rentals_adopts_neither(settings, session):
    provider = NoListProvider()
    async with open_world(settings, {provider.name: provider}, session) as world:
        app = world.app
        background = Background(app, world.bot, Limits.unlimited())
        first, made = await _rent_with_lost_reply(app, provider, 1001)
        second, _ = await _rent_with_lost_reply(app, provider, 1002)
        await background.pollers[provider.name].store([_webhook_sms(provider, made, "55002")])
        assert (await app.rentals.rentals.get(first.id)).status == "pending"
        assert (await app.rentals.rentals.get(second.id)).status == "pending"
        assert await background.deliverer.deliver_once() == 0  # kept as an orphan, never posted to a guess
        orphans = await app.db.fetchone("SELECT COUNT(*) FROM orphan_sms")
        assert orphans[0] == 1
        # Another service's SMS never matches either.
        await background.pollers[provider.name].store([_webhook_sms(provider, made, "55003", service="Google")])
        assert (await app.rentals.rentals.get(first.id)).status == "pending"


async def test_a_cancel_by_the_provider_found_on_refresh_refunds_the_chat(app, alice, provider):
    rental = await rented(app)
    provider._set(rental.provider_rental_id, RentalStatus.CANCELLED)
    await alice.send("/numbers")
    await alice.press("Telegram")
    await alice.press("Refresh")
    assert "cancelled, refunded" in alice.screen().text
    assert (await app.chats.get(1001)).balance == 1000
    [refund, *_] = await app.ledger_repo.recent(1001)
    assert refund.kind == "refund" and refund.amount == 110
    assert "🔄 Refresh" not in alice.buttons()
    await app.rentals.refresh(1001, rental.id)
    assert (await app.chats.get(1001)).balance == 1000  # refunded once


# -- auto-renewal is paid by the chat, never by the operator ------------------------------------------------------


async def _ends_in(app, rental_id: int, delta: timedelta) -> None:
    async with app.db.transaction() as conn:
        await RentalRepo.update(conn, rental_id, active_till=datetime.now(UTC) + delta)


async def _balance(app, chat_id: int = 1001) -> int:
    return (await app.chats.get(chat_id)).balance


async def test_auto_renew_cannot_be_switched_on_when_the_balance_does_not_cover_the_next_period(app, provider):
    rental = await rented(app)  # 1000 - 110
    await app.wallet.adjust(ADMIN_ID, 1001, -(await _balance(app)), "empty")
    from bot.services import errors

    with pytest.raises(errors.AutoRenewNeedsBalance):
        await app.rentals.set_auto_renew(1001, rental.id, True)
    assert not provider.rentals[rental.provider_rental_id].auto_renew


def _time_passes(monkeypatch, delta: timedelta) -> datetime:
    """The jobs' clock moves on (the rental's end stays where it was reserved from)."""
    import bot.jobs

    later = datetime.now(UTC) + delta
    monkeypatch.setattr(bot.jobs, "utcnow", lambda: later)
    return later


async def test_the_next_period_is_reserved_at_the_cut_off_and_charged_once_when_the_provider_renews(
        app, provider, background, monkeypatch):
    rental = await rented(app)
    await app.rentals.set_auto_renew(1001, rental.id, True)
    await _ends_in(app, rental.id, timedelta(minutes=50))
    await background.jobs.warn_renewals()
    assert await _balance(app) == 1000 - 110 - 110  # held now: it cannot be spent before the renewal
    await background.jobs.warn_renewals()
    assert await _balance(app) == 1000 - 220  # reserved once
    # The provider renews at the end; the reservation is the charge.
    renewed_till = _time_passes(monkeypatch, timedelta(hours=1)) + timedelta(days=1)
    provider.rentals[rental.provider_rental_id] = Rental(
        **{**{f: getattr(provider.rentals[rental.provider_rental_id], f) for f in Rental.__slots__},
           "active_till": renewed_till})
    assert await background.jobs.expire() == 0
    assert await _balance(app) == 1000 - 220
    assert abs((await app.rentals.rentals.get(rental.id)).active_till - renewed_till) < timedelta(seconds=1)


async def test_a_balance_short_at_the_cut_off_switches_auto_renew_off_at_the_provider_first(
        app, provider, background, session):
    rental = await rented(app)
    await app.rentals.set_auto_renew(1001, rental.id, True)
    await app.wallet.adjust(ADMIN_ID, 1001, -(await _balance(app)), "spent elsewhere")  # emptied after switching on
    await _ends_in(app, rental.id, timedelta(minutes=50))
    await background.jobs.warn_renewals()
    assert not provider.rentals[rental.provider_rental_id].auto_renew  # off where it matters
    assert not (await app.rentals.rentals.get(rental.id)).auto_renew
    assert "turned off" in pushed(session, 1001)[-1].text
    assert await _balance(app) == 0


async def test_a_reserved_period_comes_back_when_auto_renew_is_switched_off_or_the_provider_does_not_renew(
        app, provider, background, monkeypatch):
    rental = await rented(app)
    await app.rentals.set_auto_renew(1001, rental.id, True)
    await _ends_in(app, rental.id, timedelta(minutes=50))
    await background.jobs.warn_renewals()
    assert await _balance(app) == 1000 - 220
    await app.rentals.set_auto_renew(1001, rental.id, False)
    assert await _balance(app) == 1000 - 110
    # Again on, reserved, and this time the provider lets it end.
    await app.rentals.set_auto_renew(1001, rental.id, True)
    await background.jobs.warn_renewals()
    assert await _balance(app) == 1000 - 220
    _time_passes(monkeypatch, timedelta(hours=1))
    provider._set(rental.provider_rental_id, RentalStatus.EXPIRED)
    assert await background.jobs.expire() == 1
    assert await _balance(app) == 1000 - 110
    assert (await app.rentals.rentals.get(rental.id)).status == "expired"


# -- one user must not slow everyone --------------------------------------------------------------------------


async def test_a_flooding_user_is_answered_politely_and_others_are_served(settings, session):
    throttled = settings.model_copy(update={"user_rate_per_second": 2.0, "user_rate_burst": 8})
    async with open_world(throttled, {"memsms": MemoryProvider()}, session) as world:
        dp = world.dp
        flooder, other = world.person(1001), world.person(1002, name="Bob")
        await flooder.send("/start")
        menu = flooder.screen()
        balance = flooder.data_of("Balance", menu)
        answers = [await flooder.press_data(balance, menu) for _ in range(20)]
        refused = [a for a in answers if a.text and "Too many taps" in a.text]
        assert 10 <= len(refused) <= 13  # a burst of 8 (minus /start), then about 2 a second
        for _ in range(5):
            await flooder.send("spam")
        told = [m for m in session.sent(1001) if "Too many taps" in m.text]
        assert len(told) == 1  # one polite reply, not one per message
        await other.send("/start")
        assert "📱 Rent a number" in other.buttons()
        assert len(dp["throttle"]) == 2


def test_the_user_budget_refills_and_its_table_is_bounded():
    from handlers.throttle import ThrottleMiddleware

    now = [0.0]
    throttle = ThrottleMiddleware(rate=2.0, burst=2, max_users=100, clock=lambda: now[0])
    assert [throttle.allow(1) for _ in range(3)] == [True, True, False]
    now[0] += 0.5
    assert throttle.allow(1) is True
    for user in range(1000):
        throttle.allow(user)
    assert len(throttle) == 100


def _count_calls(provider: MemoryProvider, method: str) -> list:
    """The provider's method, recording each call's arguments in the list returned."""
    calls, real = [], getattr(provider, method)

    async def counted(*args):
        calls.append(args)
        return await real(*args)

    setattr(provider, method, counted)
    return calls


async def test_refresh_history_and_wake_up_wait_between_presses(settings, session):
    provider = MemoryProvider(capabilities=(Capability.HISTORY, Capability.WAKE_UP, Capability.CANCEL))
    calls = _count_calls(provider, "get_rental")
    cooled = settings.model_copy(update={"action_cooldown": 10.0})
    async with open_world(cooled, {provider.name: provider}, session) as world:
        app = world.app
        assert app.rentals.cooldowns.seconds["refresh"] == 10.0
        from bot.services.cooldowns import Cooldowns

        app.rentals.cooldowns = Cooldowns(10.0, clock=lambda: 1000.0)  # a frozen clock: a slow machine changes nothing
        rental = await rented(app)
        alice = world.person(1001)
        await alice.send("/numbers")
        await alice.press("Telegram")
        card = alice.screen()
        answers = [await alice.press("Refresh", card) for _ in range(200)]
        assert len(calls) == 1  # one provider call, not 200
        assert "Try again in" in answers[-1].text and "10 s" in answers[-1].text
        history_calls = _count_calls(provider, "history")
        await alice.press("SMS history", card)
        await alice.press("SMS history", card)  # within 30 s: the stored history, no second provider read
        assert "SMS history" in alice.screen().text and len(history_calls) == 1
        assert len(app.rentals.cooldowns) == 2 and rental.id


# -- a 5xx on the renting call -------------------------------------------------------------------------------


def _server_error_after(provider: MemoryProvider, *, rented_anyway: bool, status: int = 500):
    from providers import errors

    real = provider.rent

    async def rent(offer, choice=None):
        if rented_anyway:
            await real(offer, choice)
        raise errors.OutcomeUnknownError(f"server error {status}; outcome unknown", provider=provider.name,
                                         status=status)

    provider.rent = rent


async def test_a_500_after_which_the_provider_rented_anyway_links_the_rental(app, provider):
    _server_error_after(provider, rented_anyway=True)
    rental = await rented(app)
    assert rental.status == "active" and rental.provider_rental_id in provider.rentals
    assert (await app.chats.get(1001)).balance == 1000 - 110


async def test_a_500_with_no_rental_at_the_provider_refunds_at_once(app, provider):
    from bot.services import errors

    _server_error_after(provider, rented_anyway=False)
    with pytest.raises(errors.ProviderUnavailable):
        await rented(app)
    assert (await app.chats.get(1001)).balance == 1000
    assert (await app.rentals.rentals.with_status("failed"))


async def test_a_gateway_504_stays_pending_for_the_reconciler(app, provider):
    _server_error_after(provider, rented_anyway=False, status=504)
    rental = await rented(app)
    assert rental.status == "pending" and (await app.chats.get(1001)).balance == 1000 - 110


async def test_card_actions_draw_from_a_per_provider_budget_and_a_flood_is_refused_politely():
    from bot.services.budget import ProviderBudget, TooManyAtOnce

    now = [0.0]
    budget = ProviderBudget(rate=3.0, burst=6.0, max_wait=0.0, clock=lambda: now[0])
    for _ in range(6):
        await budget.spend("gotsms")
    with pytest.raises(TooManyAtOnce):
        await budget.spend("gotsms")
    await budget.spend("getatext")  # another provider's budget is its own
    now[0] += 1.0
    for _ in range(3):  # refilled at 3 a second
        await budget.spend("gotsms")
    with pytest.raises(TooManyAtOnce):
        await budget.spend("gotsms")


async def test_a_busy_provider_budget_refuses_the_card_action_without_calling_the_provider(app, provider, alice):
    from bot.services.budget import ProviderBudget

    rental = await rented(app)
    calls = _count_calls(provider, "get_rental")
    app.rentals.budget = ProviderBudget(rate=0.001, burst=1.0, max_wait=0.0)
    await alice.send("/numbers")
    await alice.press("Telegram")
    await alice.press("Refresh")
    answer = await alice.press("Refresh")
    # the bot's own pacing, said as such: the provider was never asked, so it is not "the provider is busy"
    assert "Too many taps at once" in answer.text and "provider" not in answer.text
    assert len(calls) == 1 and rental.id


async def test_migration_rekeys_getatext_codes_with_leading_zeros(tmp_path, monkeypatch):
    path = tmp_path / "old.sqlite3"
    await _database_at_version_3(path, monkeypatch, sms_keys=("77:012345", "77:ABC012", "77:000"))

    db = Database(path)
    await db.connect()
    try:
        from providers.getatext import sms_id

        rows = await db.fetchall("SELECT provider_message_id FROM sms ORDER BY id")
        assert [r[0] for r in rows] == [sms_id("77", "012345"), sms_id("77", "ABC012"), sms_id("77", "000")]
    finally:
        await db.close()


async def test_a_chat_whose_delivery_fails_does_not_end_the_round_while_another_chat_sends(
        app, provider, session, background, monkeypatch):
    """One chat's failure must not end the round early: the next round would read the outbox while another chat's
    code is still being sent (not yet marked delivered) and send it again."""
    import asyncio

    from tests.test_push import rented
    broken, slow = await rented(app, 1001), await rented(app, 1002)
    provider.inject_sms(broken.provider_rental_id, "code 111111")
    provider.inject_sms(slow.provider_rental_id, "code 222222")
    await background.pollers[provider.name].tick()
    deliverer = background.deliverer
    real_send, real_render = deliverer.sender.send, deliverer.renderer.code_message

    def render(chat, sms, rental, actions):
        if chat.id == 1001:
            raise RuntimeError("a bug rendering this chat's code")
        return real_render(chat, sms, rental, actions)

    async def send(chat_id, *args, **kwargs):
        await asyncio.sleep(0.3)  # still sending when the other chat has failed
        return await real_send(chat_id, *args, **kwargs)

    monkeypatch.setattr(deliverer.renderer, "code_message", render)
    monkeypatch.setattr(deliverer.sender, "send", send)
    assert await deliverer.deliver_once() == 1  # returned only once the slow chat's send was done and marked
    assert await deliverer.deliver_once() == 0  # so the next round sends nothing twice
    assert len([m for m in session.sent(1002) if "222222" in m.text]) == 1
