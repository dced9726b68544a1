"""What a ledger row was for, in the chat's language: the bot's notes are data (storage.notes), put into words
here when shown, so a Russian ledger reads as Russian whatever language the chat had when the row was written."""
from __future__ import annotations

import re

from bot.services.localize import duration_name
from bot.services.pricing import format_money
from storage import LedgerEntry, notes

from . import phones
from .i18n import Texts

# Top-up notes written before they were data: "500 XTR" (Stars), "💳 5.00 EUR" (a card).
_LEGACY_STARS = re.compile(r"(\d+) XTR")


def ledger_what(t: Texts, entry: LedgerEntry) -> str:
    note = notes.read(entry.note, entry.kind)
    if note.why is not None:
        fields = note.fields
        minutes = fields.get("minutes")
        # The plan in the chat's language; the provider's label only when its length is unknown.
        duration = duration_name(minutes if isinstance(minutes, int) else None, t.language) or fields.get("label", "")
        payment = fields.get("payment")  # a referral reward: the friend's payment it is a share of
        what = t(f"note-{note.why}", service=fields.get("service", ""), duration=duration, paid=fields.get("paid", ""),
                 payment=format_money(payment) if isinstance(payment, int) else "", percent=fields.get("percent", ""),
                 code=fields.get("code", ""), party=fields.get("party", ""), stars=fields.get("stars", ""),
                 returned=format_money(entry.amount))
        return _with_number(what, entry)
    if entry.kind == "topup" and (stars := _LEGACY_STARS.fullmatch(note.text)):
        return t("note-stars-topup", stars=stars.group(1))
    if entry.kind == "topup" and note.text.startswith("💳 "):
        return t("note-card-topup", paid=note.text.removeprefix("💳 "))
    if entry.kind == "adjustment" and note.text:
        # The operator's own words (/credit, /debit), in whatever language they were typed: quoted as theirs.
        return t("ledger-adjustment-by-operator", note=note.text)
    # a rent's charge or refund: the number it was for, then the service's name
    return t(f"ledger-{entry.kind}", note=_with_number(note.text, entry))


def _with_number(what: str, entry: LedgerEntry) -> str:
    """A rental's row names its number ("+1 202 555 0101 · Telegram"): a ledger read later says which it was."""
    return f"{phones.display(entry.phone)} · {what}" if entry.phone else what
