"""Cards through Telegram Payments: both amounts shown before paying, the invoice in the operator's currency with
the provider token, pre-checkout checked, credited exactly once per Telegram charge id (replayed, or after a
restart between payment and credit), the ledger naming the method."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiogram.methods import AnswerPreCheckoutQuery, SendInvoice
from aiogram.types import Message, PreCheckoutQuery, SuccessfulPayment, Update
from pydantic import SecretStr

from handlers.i18n import Texts
from handlers.views import ledger_line
from playground.recording import Person
from tests.conftest import open_world
from tests.test_money_news import tell

PROVIDER_TOKEN = "284685063:TEST:card-token"


@pytest.fixture
def card_settings(settings):
    return settings.model_copy(update={"payments_provider_token": SecretStr(PROVIDER_TOKEN), "card_currency": "EUR",
                                       "card_rate": Decimal("1.0837"), "card_amounts": (Decimal(5), Decimal(20))})


@pytest.fixture
async def world(card_settings, session):
    async with open_world(card_settings, session=session) as world:
        yield world.app, world.dp, world.bot, world.person(1001, name="Alice")


async def pre_checkout(dp, bot, person: Person, invoice: SendInvoice, query_id: str, *, total: int | None = None,
                       currency: str | None = None) -> AnswerPreCheckoutQuery:
    query = PreCheckoutQuery(id=query_id, from_user=person.user, currency=currency or invoice.currency,
                             total_amount=invoice.prices[0].amount if total is None else total,
                             invoice_payload=invoice.payload)
    await dp.feed_update(bot, Update(update_id=abs(hash(query_id)) % 10**8, pre_checkout_query=query))
    return [c for c in person.session.calls if isinstance(c, AnswerPreCheckoutQuery)
            and c.pre_checkout_query_id == query_id][-1]


def paid_update(person: Person, invoice: SendInvoice, charge_id: str, update_id: int) -> Update:
    payment = SuccessfulPayment(currency=invoice.currency, total_amount=invoice.prices[0].amount,
                                invoice_payload=invoice.payload, telegram_payment_charge_id=charge_id,
                                provider_payment_charge_id=f"prov-{charge_id}")
    message = Message(message_id=update_id, date=datetime.now(UTC), chat=person.chat, from_user=person.user,
                      successful_payment=payment)
    return Update(update_id=update_id, message=message)


async def open_card_invoice(alice: Person, amount: str = "€5.00") -> SendInvoice:
    await alice.send("/start")
    await alice.press("Balance")
    await alice.press("Top up")
    await alice.press("Pay by card")
    await alice.press(amount)
    return [c for c in alice.session.calls if isinstance(c, SendInvoice)][-1]


async def test_both_amounts_before_paying_then_credited_once_under_replay(world):
    app, dp, bot, alice = world
    await alice.send("/start")
    await alice.press("Balance")
    await alice.press("Top up")
    await alice.press("Pay by card")
    # €5 at 1.0837 is $5.4185: rounded down, in the operator's favour by less than a cent.
    assert alice.buttons() == ["€5.00 → $5.41", "€20.00 → $21.67", "« Back"]
    invoice = await open_card_invoice(alice)
    assert (invoice.currency, invoice.prices[0].amount, invoice.provider_token) == ("EUR", 500, PROVIDER_TOKEN)
    assert "$5.41" in invoice.description

    assert (await pre_checkout(dp, bot, alice, invoice, "q1")).ok
    await dp.feed_update(bot, paid_update(alice, invoice, "charge-1", 40_000_001))
    assert (await app.chats.get(1001)).balance == 541
    assert await tell(app, bot) == 1  # "Payment received" is money news: sent by its own loop
    assert "Payment received: $5.41 added" in alice.screen().text
    await dp.feed_update(bot, paid_update(alice, invoice, "charge-1", 40_000_002))  # Telegram delivers it again
    assert (await app.chats.get(1001)).balance == 541
    assert await tell(app, bot) == 0
    [entry] = [e for e in await app.ledger_repo.recent(1001) if e.kind == "topup"]
    assert ledger_line(Texts("en"), entry).endswith("+$5.41 · card top-up 💳 €5.00")
    assert "пополнение картой 💳 €5.00" in ledger_line(Texts("ru"), entry)


async def test_a_restart_between_payment_and_credit_credits_once(card_settings, session):
    async with open_world(card_settings, session=session) as first:
        dp, bot = first.dp, first.bot
        alice = first.person(1001, name="Alice")
        invoice = await open_card_invoice(alice, "€20.00")
        assert (await pre_checkout(dp, bot, alice, invoice, "q1")).ok
        update = paid_update(alice, invoice, "charge-7", 40_000_010)
    # killed before the successful payment was handled: Telegram keeps the update

    async with open_world(card_settings, session=session) as again:
        await again.dp.feed_update(again.bot, update)
        await again.dp.feed_update(again.bot, update)  # and hands it over twice
        assert (await again.app.chats.get(1001)).balance == 2167
        assert len([e for e in await again.app.ledger_repo.recent(1001) if e.kind == "topup"]) == 1


async def test_pre_checkout_refuses_what_the_bot_did_not_offer(world):
    app, dp, bot, alice = world
    invoice = await open_card_invoice(alice)
    assert not (await pre_checkout(dp, bot, alice, invoice, "q-total", total=1)).ok
    assert not (await pre_checkout(dp, bot, alice, invoice, "q-currency", currency="USD")).ok
    app.cards.rate = Decimal("1.5")  # the operator changed the rate since the invoice: a new one is needed
    assert not (await pre_checkout(dp, bot, alice, invoice, "q-rate")).ok
    forged = SendInvoice(chat_id=1001, title="t", description="d", payload="card:1001:500:999999", currency="EUR",
                         prices=invoice.prices)
    assert not (await pre_checkout(dp, bot, alice, forged, "q-forged")).ok
    assert (await app.chats.get(1001)).balance == 0


async def test_without_a_provider_token_there_is_no_card_button(settings, session):
    async with open_world(settings, session=session) as world:
        alice = world.person(1001, name="Alice")
        await alice.send("/start")
        await alice.press("Balance")
        await alice.press("Top up")
        assert not any("card" in b for b in alice.buttons())
        answer = await alice.press_data("uc:500")  # an old or forged card button
        assert "out of date" in answer.text


async def test_a_payment_is_credited_only_for_an_invoice_the_bot_made_in_its_amount_and_currency(world, caplog):
    """Telegram sends only what pre-checkout accepted; an update forged past the webhook secret, or a bug, must not
    mint money: a payload the bot never sealed, the same invoice paid in another currency or amount, credits
    nothing, is logged for the operator with its charge id, and the payer is told plainly."""
    app, dp, bot, alice = world
    invoice = await open_card_invoice(alice)
    forged = invoice.model_copy(update={"payload": "card:1001:500:999999:EUR"})  # $9,999.99 the bot never offered
    paid_as_yen = invoice.model_copy(update={"currency": "JPY"})
    paid_as_stars = invoice.model_copy(update={"currency": "XTR"})
    less = invoice.model_copy(update={"prices": [invoice.prices[0].model_copy(update={"amount": 1})]})
    tampered = invoice.model_copy(update={"payload": invoice.payload.replace(":541:", ":99999:")})
    with caplog.at_level(logging.ERROR):
        for n, wrong in enumerate((forged, paid_as_yen, paid_as_stars, less, tampered)):
            await dp.feed_update(bot, paid_update(alice, wrong, f"charge-wrong-{n}", 9100 + n))
            assert "does not match an invoice of this bot" in alice.screen().text
    assert (await app.chats.get(1001)).balance == 0 and await app.ledger_repo.recent(1001) == []
    logged = [r.getMessage() for r in caplog.records if "not credited" in r.getMessage()]
    assert len(logged) == 5 and "charge-wrong-0" in logged[0]
    # The invoice as the bot made it, paid as it asked: credited once.
    await dp.feed_update(bot, paid_update(alice, invoice, "charge-right", 9200))
    assert (await app.chats.get(1001)).balance == 541


async def test_a_stars_payment_is_credited_only_for_an_invoice_the_bot_made(world):
    app, dp, bot, alice = world
    await alice.send("/start")
    stars = app.topups.amounts[0]
    unsealed = f"topup:1001:{stars}"
    for n, (payload, total, currency) in enumerate(((unsealed, stars, "XTR"),  # not sealed by this bot
                                                    (app.topups.invoice(1001, stars), stars * 100, "XTR"),
                                                    (app.topups.invoice(1001, stars), stars, "USD"))):
        payment = SuccessfulPayment(currency=currency, total_amount=total, invoice_payload=payload,
                                    telegram_payment_charge_id=f"stars-wrong-{n}", provider_payment_charge_id="")
        message = Message(message_id=9300 + n, date=datetime.now(UTC), chat=alice.chat, from_user=alice.user,
                          successful_payment=payment)
        await dp.feed_update(bot, Update(update_id=9300 + n, message=message))
        assert "does not match an invoice of this bot" in alice.screen().text
    assert (await app.chats.get(1001)).balance == 0
    query = PreCheckoutQuery(id="pcq-unsealed", from_user=alice.user, currency="XTR", total_amount=stars,
                             invoice_payload=unsealed)
    await dp.feed_update(bot, Update(update_id=9400, pre_checkout_query=query))
    answer = [c for c in alice.session.calls if isinstance(c, AnswerPreCheckoutQuery)][-1]
    assert not answer.ok  # refused before Telegram takes anything


async def test_a_card_amount_is_written_like_the_balance_in_every_language(world):
    """"€5.00 → $5.41" on a Russian screen too: one line never mixes "5,00" and "5.41"."""
    app, _, _, _ = world
    assert app.cards.label(500, "ru") == app.cards.label(500, "en") == "€5.00"


async def test_the_balance_names_the_ways_to_pay_that_are_really_offered(world):
    app, _, _, alice = world
    await alice.send("/start")
    await alice.press("Balance")
    assert "Top up with Telegram Stars or a card: ➕ Top up below." in alice.screen().text  # no crypto here
    await alice.press("Top up")
    assert alice.screen().text.startswith("<b>Top up the balance</b> with Telegram Stars or a card.")
