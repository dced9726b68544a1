"""A way to reach a person, always: with no SUPPORT_CONTACT, Support is a message to the operators through the bot
(one a minute per person), which they answer with /reply; /terms and /paysupport offer it."""
from __future__ import annotations

from bot.services.cooldowns import Cooldowns
from playground.recording import Person
from tests.conftest import ADMIN_ID

GROUP = -100777


async def test_a_message_to_the_operator_and_the_answer_back(app, telegram, session, settings):
    dp, bot = telegram
    settings.support_contact = ""
    app.rentals.cooldowns = Cooldowns(10.0)  # the tests' settings turn the base cooldown off
    ann = Person(dp, bot, session, 2001, name="Ann")
    op = Person(dp, bot, session, ADMIN_ID, name="Op")
    await op.send("/start")
    await ann.send("/start")
    await ann.send("/paysupport")
    assert "Write to the operator with the button below" in ann.screen().text
    await ann.press("Write to the operator")
    assert "Write your message to the operator" in ann.screen().text
    await ann.send("My Stars top-up of 500 did not arrive")
    assert ann.screen().text.startswith("✅ Sent to the operator")
    told = session.sent(ADMIN_ID)[-1].text
    assert "@ann" in told or "Ann" in told
    assert "My Stars top-up of 500 did not arrive" in told and "/reply 2001" in told

    await ann.send("hello again")  # the question was answered: chatter is not sent on
    assert "hello again" not in session.sent(ADMIN_ID)[-1].text
    await ann.press("Write to the operator", (await _paysupport(ann)))
    await ann.send("one more thing")  # within the minute: refused, said how long to wait
    assert "wait" in ann.screen().text and "one more thing" not in session.sent(ADMIN_ID)[-1].text

    await op.send("/reply 2001 Credited now, sorry for the wait")
    assert session.sent(2001)[-1].text == "💬 <b>Support:</b> Credited now, sorry for the wait"
    assert "Sent to chat 2001" in op.screen().text
    await ann.send("/reply 2001 I am the operator now")  # not an operator
    assert "Not allowed" in ann.screen().text
    await op.send("/reply ann hi")
    assert "/reply &lt;chat id&gt; &lt;text&gt;" in op.screen().text


async def _paysupport(person: Person):
    await person.send("/paysupport")
    return person.screen()


async def test_terms_without_a_file_and_no_operator_say_so(app, telegram, session, settings, tmp_path):
    dp, bot = telegram
    settings.support_contact = ""
    settings.terms_dir = str(tmp_path / "none")
    ann = Person(dp, bot, session, 2001, name="Ann")
    await ann.send("/start")
    await ann.send("/terms")
    assert "has not published terms yet" in ann.screen().text and "💬 Write to the operator" in ann.buttons()
    app.wallet.admin_ids = frozenset()  # no operator configured: the tap says so instead of a dead end
    answer = await ann.press("Write to the operator")
    assert "cannot be reached through the bot" in answer.text


async def test_a_contact_with_a_link_is_the_support_button(app, telegram, session, settings):
    dp, bot = telegram
    settings.support_contact = "@shop_support"
    ann = Person(dp, bot, session, 2001, name="Ann")
    await ann.send("/start")
    await ann.send("/paysupport")
    assert "@shop_support" in ann.screen().text and "💬 Support" in ann.buttons()
