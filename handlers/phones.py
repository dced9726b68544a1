"""A rented number in the forms a service asks for, with Google's libphonenumber (the `phonenumbers` package)
rather than rules written by hand: international (E.164, +15550000001) and national (the digits dialled
inside the country, 07700900123 for a UK mobile)."""
from __future__ import annotations

import phonenumbers

# GetAText sends US numbers without the country code ("1234567890"); numbers with "+" carry their own.
DEFAULT_REGION = "US"


def _parsed(phone: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(phone, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None


def international(phone: str) -> str:
    """+<country><number>, no spaces; the provider's text when it is no phone number at all."""
    parsed = _parsed(phone)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) if parsed else phone


def national(phone: str) -> str | None:
    """The national dialling digits (trunk prefix included where the country has one), or None."""
    parsed = _parsed(phone)
    if parsed is None:
        return None
    digits = "".join(c for c in phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
                     if c.isdigit())
    return digits or None


def display(phone: str) -> str:
    """The number as people read it: international, grouped by spaces ("+1 212 555 0123"); the provider's
    text when it is no phone number."""
    parsed = _parsed(phone)
    if parsed is None:
        return phone
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL).replace("-", " ")
