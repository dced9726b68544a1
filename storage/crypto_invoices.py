"""Crypto Pay invoices of the chats: recorded when made, credited once, or closed. Each change one transaction;
the credit writes its ledger row (key ``crypto:<invoice_id>``) in the same one."""
from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import aiosqlite

from . import ledger, notes
from .db import Database, first_row
from .models import LedgerEntry, db_time, utcnow


class Outcome(enum.Enum):
    CREDITED = "credited"  # credited now
    ALREADY = "already"  # credited before: nothing changes (a replayed webhook, the poll after the webhook)
    CLOSED = "closed"  # the invoice was closed (expired) before: never credited
    MISMATCH = "mismatch"  # paid, but not the amount or currency recorded: kept for the operator, not credited
    UNKNOWN = "unknown"  # not an invoice of this bot


@dataclass(frozen=True, slots=True)
class CryptoInvoice:
    invoice_id: int
    chat_id: int
    user_id: int
    credit: int
    amount: Decimal
    currency: str
    assets: tuple[str, ...]
    pay_url: str
    status: str
    paid_asset: str
    paid_amount: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> CryptoInvoice:
        return cls(invoice_id=row["invoice_id"], chat_id=row["chat_id"], user_id=row["user_id"],
                   credit=row["credit"], amount=Decimal(row["amount"]), currency=row["currency"],
                   assets=tuple(a for a in row["assets"].split(",") if a), pay_url=row["pay_url"],
                   status=row["status"], paid_asset=row["paid_asset"], paid_amount=row["paid_amount"],
                   created_at=datetime.fromisoformat(row["created_at"]),
                   expires_at=datetime.fromisoformat(row["expires_at"]))


@dataclass(frozen=True, slots=True)
class Credit:
    outcome: Outcome
    invoice: CryptoInvoice | None = None
    entry: LedgerEntry | None = None  # the ledger row written, when CREDITED


OnCredit = Callable[[aiosqlite.Connection, int, "LedgerEntry | None"], Awaitable[object]]


def ledger_key(invoice_id: int) -> str:
    return f"crypto:{invoice_id}"


class CryptoInvoiceRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, invoice_id: int, chat_id: int, user_id: int, credit: int, amount: Decimal, currency: str,
                  assets: tuple[str, ...], pay_url: str, expires_at: datetime) -> CryptoInvoice:
        now = db_time(utcnow())
        async with self.db.transaction() as conn:
            row = await first_row(
                conn,
                "INSERT INTO crypto_invoices (invoice_id, chat_id, user_id, credit, amount, currency, assets, pay_url,"
                " status, created_at, expires_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)"
                " ON CONFLICT(invoice_id) DO NOTHING RETURNING *",
                (invoice_id, chat_id, user_id, credit, str(amount), currency, ",".join(assets), pay_url, now,
                 db_time(expires_at), now))
            if row is None:  # Crypto Pay gave an id the bot already has: it is kept as it was
                row = await first_row(conn, "SELECT * FROM crypto_invoices WHERE invoice_id = ?", (invoice_id,))
        return CryptoInvoice.from_row(row)

    async def get(self, invoice_id: int) -> CryptoInvoice | None:
        row = await self.db.fetchone("SELECT * FROM crypto_invoices WHERE invoice_id = ?", (invoice_id,))
        return CryptoInvoice.from_row(row) if row else None

    async def open_for(self, chat_id: int, credit: int, valid_after: datetime) -> CryptoInvoice | None:
        """The chat's newest active invoice of this credit that can still be paid after ``valid_after``."""
        row = await self.db.fetchone(
            "SELECT * FROM crypto_invoices WHERE chat_id = ? AND credit = ? AND status = 'active' AND expires_at > ?"
            " ORDER BY invoice_id DESC LIMIT 1", (chat_id, credit, db_time(valid_after)))
        return CryptoInvoice.from_row(row) if row else None

    async def active(self) -> list[CryptoInvoice]:
        rows = await self.db.fetchall("SELECT * FROM crypto_invoices WHERE status = 'active' ORDER BY invoice_id")
        return [CryptoInvoice.from_row(r) for r in rows]

    async def credit(self, invoice_id: int, amount: Decimal, currency: str, paid_asset: str,
                     paid_amount: Decimal | None, on_credit: OnCredit | None = None) -> Credit:
        """Crypto Pay says this invoice is paid: active -> credited with its ledger row, once; what it says must be
        what was recorded when it was made (else -> paid, not credited). Closed invoices stay closed.
        ``on_credit(conn, payer, entry)`` runs in the same transaction (the payer's inviter's share)."""
        paid = f"{paid_amount.normalize():f} {paid_asset}" if paid_amount is not None and paid_asset else ""
        async with self.db.transaction() as conn:
            row = await first_row(conn, "SELECT * FROM crypto_invoices WHERE invoice_id = ?", (invoice_id,))
            if row is None:
                return Credit(Outcome.UNKNOWN)
            invoice = CryptoInvoice.from_row(row)
            if invoice.status != "active":
                outcome = {"credited": Outcome.ALREADY, "expired": Outcome.CLOSED}.get(invoice.status, Outcome.MISMATCH)
                return Credit(outcome, invoice)
            if amount != invoice.amount or currency != invoice.currency:
                await _set(conn, invoice_id, "paid", paid_asset, str(paid_amount or ""))
                return Credit(Outcome.MISMATCH, invoice)
            note = notes.make("crypto-topup", paid=paid or f"{invoice.amount.normalize():f} {invoice.currency}")
            entry = await ledger.post(conn, invoice.chat_id, invoice.credit, "topup", ledger_key(invoice_id),
                                      idempotency_key=ledger_key(invoice_id), actor_id=invoice.user_id, note=note)
            if on_credit is not None:
                await on_credit(conn, invoice.user_id, entry)
            await _set(conn, invoice_id, "credited", paid_asset, str(paid_amount or ""))
            return Credit(Outcome.CREDITED if entry else Outcome.ALREADY, invoice, entry)

    async def close(self, invoice_id: int) -> bool:
        """active -> expired: it can no longer be paid, and is never credited. False if it was not active."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("UPDATE crypto_invoices SET status = 'expired', updated_at = ?"
                                     " WHERE invoice_id = ? AND status = 'active'", (db_time(utcnow()), invoice_id))
            return cur.rowcount == 1


async def _set(conn: aiosqlite.Connection, invoice_id: int, status: str, paid_asset: str, paid_amount: str) -> None:
    await conn.execute("UPDATE crypto_invoices SET status = ?, paid_asset = ?, paid_amount = ?, updated_at = ?"
                       " WHERE invoice_id = ?", (status, paid_asset, paid_amount, db_time(utcnow()), invoice_id))
