"""Money news: what a chat is told when money moved for it (a payment received, a refund, a renewal charged, a
transfer received). Each notice is written in the transaction that writes its ledger row (storage/notices.py) and
sent by the money news loop (bot/outbound/money_news.py), exactly once, across 429s and restarts.

A notice stores a text key and its parameters, not a text: it is rendered when it is sent, in the chat's language
then. Amounts are kept as minor units ({"money": 150}) and a plan's length as minutes with the provider's label
({"minutes": 43200, "label": "30 days"}), each put into words at sending (``rendered``)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiosqlite

from storage import LedgerEntry, RentalRecord
from storage.notices import Notice, enqueue

from .localize import duration_name
from .pricing import format_money

# In the transaction that moved a rental's money: (connection, the rental as it is now, the ledger row's key).
RentalTell = Callable[[aiosqlite.Connection, RentalRecord, str], Awaitable[object]]


def money(minor: int) -> dict[str, int]:
    return {"money": int(minor)}


def plan(minutes: int | None, label: str) -> dict:
    return {"minutes": minutes, "label": label}


def rendered(params: dict, language: str) -> dict[str, str]:
    """A notice's parameters as its text wants them, in ``language``."""
    out: dict[str, str] = {}
    for name, value in params.items():
        if isinstance(value, dict) and "money" in value:
            out[name] = format_money(value["money"])
        elif isinstance(value, dict) and "label" in value:  # a plan: its length in the language, else its label
            out[name] = duration_name(value.get("minutes"), language) or value["label"]
        else:
            out[name] = "" if value is None else str(value)
    return out


def for_rental(rental: RentalRecord, text_key: str, ledger_key: str, **params) -> Notice:
    """A notice about a rental: its number and service always come with it (as Jobs' notices do)."""
    return Notice(rental.chat_id, text_key, ledger_key,
                  {"phone": rental.phone or "", "service": rental.service_name, **params})


async def tell(conn: aiosqlite.Connection, notice: Notice, ledger_id: int | None = None) -> bool:
    """In the transaction writing the ledger row: the notice, once per ledger key."""
    return await enqueue(conn, notice, ledger_id)


async def tell_topup(conn: aiosqlite.Connection, entry: LedgerEntry) -> bool:
    """"Payment received: $X added. Balance: $Y." (Stars, card and crypto top-ups), in the credit's transaction;
    keyed by the credit's reference, its ledger key (stars:, card:, crypto:<id>)."""
    return await tell(conn, Notice(entry.chat_id, "topup-done", entry.reference,
                                   {"amount": money(entry.amount), "balance": money(entry.balance_after)}), entry.id)
