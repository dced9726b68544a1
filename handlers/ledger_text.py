"""What a ledger row was for, in the chat's language: the bot's notes are data (storage.notes), put into words
here when shown, so a Russian ledger reads as Russian whatever language the chat had when the row was written."""
from __future__ import annotations

from bot.services.localize import duration_name
from bot.services.pricing import format_money
from storage import LedgerEntry, notes

from .i18n import Texts


def ledger_what(t: Texts, entry: LedgerEntry) -> str:
    note = notes.read(entry.note, entry.kind)
    if note.why is not None:
        fields = note.fields
        minutes = fields.get("minutes")
        # The plan in the chat's language; the provider's label only when its length is unknown.
        duration = duration_name(minutes if isinstance(minutes, int) else None, t.language) or fields.get("label", "")
        payment = fields.get("payment")  # a referral reward: the friend's payment it is a share of
        return t(f"note-{note.why}", service=fields.get("service", ""), duration=duration, paid=fields.get("paid", ""),
                 payment=format_money(payment) if isinstance(payment, int) else "", percent=fields.get("percent", ""),
                 code=fields.get("code", ""), party=fields.get("party", ""))
    if entry.kind == "adjustment" and note.text:
        # The operator's own words (/credit, /debit), in whatever language they were typed: quoted as theirs.
        return t("ledger-adjustment-by-operator", note=note.text)
    return t(f"ledger-{entry.kind}", note=note.text)  # a rent's charge or refund: the service's name
