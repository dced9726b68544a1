"""One tap puts exactly the digits on the clipboard: Telegram's copy_text buttons for the number (international
and national form) on the card and for the code under every pushed code."""
from __future__ import annotations

from handlers import phones
from handlers.i18n import Texts
from handlers.keyboards import copy_number
from tests.conftest import to_confirm


def copies(message) -> dict[str, str]:
    return {b.text: b.copy_text.text for row in message.reply_markup.inline_keyboard for b in row if b.copy_text}


async def test_the_card_copies_the_number_in_both_forms(app, alice):
    await to_confirm(alice, app)
    await alice.press("Rent for")
    assert copies(alice.screen()) == {"📋 +15550000001": "+15550000001", "📋 5550000001": "5550000001"}


def test_national_forms_come_from_libphonenumber():
    assert phones.international("1234567890") == "+11234567890"  # GetAText: US numbers without the +1
    assert phones.national("+447700900123") == "07700900123"  # the UK trunk prefix
    assert phones.national("+79161234567") == "89161234567"
    assert phones.international("not a number") == "not a number" and phones.national("not a number") is None


def test_no_copy_buttons_without_a_number():
    assert copy_number(Texts("en"), None) == []
