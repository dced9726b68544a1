"""A code that arrives while the number's card is the chat's newest bot message refreshes that card too: no
stale "No codes yet" above the code. Only then; and a refused edit never disturbs the delivery."""
from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditMessageText

from bot.background import Background
from bot.outbound.pace import Limits
from tests.conftest import to_confirm


@pytest.fixture
def bot_options() -> dict:
    return {"screens": True}  # the world's bot with the production bot's middleware: which message is on top


async def card_then_code(app, provider, memory_world, between=None):
    """Alice rents (the card is on top), ``between`` may act, then a code arrives and is pushed."""
    bot = memory_world.bot
    alice = memory_world.person(1001)
    await to_confirm(alice, app)
    await alice.press("Rent for")
    card = alice.screen()
    assert "No codes yet" in card.text
    if between is not None:
        await between(alice)
    [rental], _ = await app.rentals.rentals.for_chat(1001)
    background = Background(app, bot, Limits.unlimited())
    provider.inject_sms(rental.provider_rental_id, "Telegram code: 60514")
    await background.pollers[provider.name].tick()
    assert await background.deliverer.deliver_once() == 1
    return card


async def test_the_card_on_top_shows_the_code_that_came(app, provider, session, memory_world):
    card = await card_then_code(app, provider, memory_world)
    refreshed = session.messages[1001][card.message_id]
    assert "60514" in refreshed.text and "No codes yet" not in refreshed.text
    assert len([m for m in session.sent(1001) if "60514" in m.text]) == 1  # the code itself, once


async def test_a_card_with_newer_messages_below_is_left_as_it_was(app, provider, session, memory_world):
    async def balance(alice):
        await alice.send("/balance")  # a newer bot message: the card is no longer what the chat looks at

    card = await card_then_code(app, provider, memory_world, between=balance)
    assert session.messages[1001][card.message_id].text == card.text
    assert not [c for c in session.calls_of(EditMessageText) if c.message_id == card.message_id and "60514" in c.text]


async def test_a_refused_edit_leaves_the_code_delivered(app, provider, session, memory_world):
    async def refuse_next_edit(alice):
        session.fail_next(EditMessageText, TelegramBadRequest(method=None, message="Bad Request: message to edit "
                                                                                    "not found"))

    card = await card_then_code(app, provider, memory_world, between=refuse_next_edit)
    assert [m for m in session.sent(1001) if "60514" in m.text]
    assert await app.sms_repo.outbox() == []
    assert session.messages[1001][card.message_id].text == card.text


async def test_in_a_group_the_card_is_not_edited_the_groups_budget_is_for_codes(app, provider, session, memory_world):
    from tests.conftest import credit

    bot = memory_world.bot
    session.admins.add((-100500, 1001))
    ann = memory_world.person(1001, chat_id=-100500, name="Ann")
    await ann.send("/start")
    await credit(app, -100500, 2000)
    for label in ("Rent a number", "Telegram", "1 day", "Rent for"):
        await ann.press(label)
    card = ann.screen()
    [rental], _ = await app.rentals.rentals.for_chat(-100500)
    background = Background(app, bot, Limits.unlimited())
    provider.inject_sms(rental.provider_rental_id, "Telegram code: 70707")
    await background.pollers[provider.name].tick()
    assert await background.deliverer.deliver_once() == 1
    assert session.messages[-100500][card.message_id].text == card.text


async def test_a_question_asked_over_the_card_stays_until_answered(app, provider, session, memory_world):
    """Turn auto-renew on? asked in the card's message: a code arriving comes as its own message and leaves the
    question where it was (the card is drawn again when the question is answered)."""
    async def ask(alice):
        await alice.press("Auto-renew: off")
        assert "Turn auto-renew on?" in alice.screen().text

    card = await card_then_code(app, provider, memory_world, between=ask)
    question = session.messages[1001][card.message_id]
    assert "Turn auto-renew on?" in question.text and "60514" not in question.text
    assert len([m for m in session.sent(1001) if "60514" in m.text]) == 1  # the code, in its own message

