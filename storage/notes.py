"""Ledger notes the bot writes, as data rather than prose: why the row was written and the names and numbers
that say it (a service, a plan's minutes), put into words in the reader's language when shown.

A note that is not such data is shown as written: a service's name (rent charges and refunds), an operator's
own words (/credit, /debit). Rows from before notes were data carry English the bot wrote itself; ``read``
recognises those few phrases, so old ledgers read in the chat's language too."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# Why -> the ledger kind of the rows it explains. Each has a text "note-<why>" in the locales.
KIND_OF = {"renewal": "charge", "renewal-not-made": "refund", "switch": "charge", "switch-failed": "refund",
           "switch-not-made": "refund", "stars-refund-requested": "adjustment", "stars-refund-refused": "adjustment",
           "moved-out": "adjustment", "moved-in": "adjustment", "crypto-topup": "topup",
           "transfer-out": "transfer", "transfer-in": "transfer", "referral": "referral", "promo": "promo",
           "stars-topup": "topup", "card-topup": "topup", "hold-returned": "refund"}
WHY = tuple(KIND_OF)

# What the bot wrote before notes were data (exact phrases, or the service name before a suffix).
_LEGACY = {"plan switch failed": "switch-failed", "plan switch not made": "switch-not-made",
           "Stars refund requested": "stars-refund-requested",
           "Stars refund refused by Telegram": "stars-refund-refused",
           "moved to the supergroup": "moved-out", "moved from the group": "moved-in"}
_LEGACY_SUFFIXES = ((" renewal not made", "renewal-not-made"), (" renewal", "renewal"))
_LEGACY_SWITCH = re.compile(r"(?P<service>.+) · (?P<label>.+)")  # "{service} · {provider's plan label}"


@dataclass(frozen=True, slots=True)
class Note:
    why: str | None  # one of WHY; None: free text, shown as written
    text: str = ""
    fields: dict[str, str | int] = field(default_factory=dict)  # service, minutes, label, paid, payment, code


def make(why: str, **fields: str | int | None) -> str:
    """The stored form of a note: compact JSON, names kept as they are (not escaped)."""
    if why not in KIND_OF:
        raise ValueError(f"unknown ledger note {why!r}")
    data = {"why": why, **{k: v for k, v in fields.items() if v not in (None, "")}}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def read(note: str, kind: str) -> Note:
    """The note of a ledger row of this kind. Only a row of the kind a reason belongs to is read as that
    reason, so an operator's note that happens to look like one stays the operator's words."""
    found = _structured(note)
    return found if found is not None and KIND_OF[found.why] == kind else Note(None, text=note)


def _structured(note: str) -> Note | None:
    if note.startswith("{"):
        try:
            data = json.loads(note)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("why") in KIND_OF:
            why = data.pop("why")
            return Note(why, fields=data)
    if note in _LEGACY:
        return Note(_LEGACY[note])
    for suffix, why in _LEGACY_SUFFIXES:
        if note.endswith(suffix) and len(note) > len(suffix):
            return Note(why, fields={"service": note.removesuffix(suffix)})
    if switch := _LEGACY_SWITCH.fullmatch(note):
        return Note("switch", fields=switch.groupdict())
    return None
