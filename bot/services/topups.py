"""Telegram Stars top-ups: credited once per charge id; refunds debit the ledger first."""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from storage import Database, InsufficientBalanceError, LedgerEntry
from storage import ledger

from . import errors

PAYLOAD_PREFIX = "topup"


@dataclass(frozen=True, slots=True)
class TopUpPayload:
    chat_id: int
    stars: int

    def encode(self) -> str:
        return f"{PAYLOAD_PREFIX}:{self.chat_id}:{self.stars}"

    @classmethod
    def decode(cls, payload: str) -> TopUpPayload | None:
        parts = payload.split(":")
        if len(parts) != 3 or parts[0] != PAYLOAD_PREFIX:
            return None
        try:
            return cls(int(parts[1]), int(parts[2]))
        except ValueError:
            return None


class StarsRefundRefused(errors.UserFacingError):
    key = "error-stars-refund"


class TopUps:
    def __init__(self, db: Database, star_value_cents: Decimal, amounts: tuple[int, ...]) -> None:
        self.db = db
        self.star_value_cents = star_value_cents
        self.amounts = amounts

    def credit_for(self, stars: int) -> int:
        return math.floor(Decimal(stars) * self.star_value_cents)

    async def chat_language(self, payload: str) -> str | None:
        parsed = TopUpPayload.decode(payload)
        row = await self.db.fetchone("SELECT language FROM chats WHERE id = ?", (parsed.chat_id,)) if parsed else None
        return row["language"] if row else None

    async def check(self, payload: str, currency: str, total: int) -> TopUpPayload | None:
        """Pre-checkout: the invoice still fits (known amount, existing active chat)."""
        parsed = TopUpPayload.decode(payload)
        if parsed is None or currency != "XTR" or total != parsed.stars or parsed.stars not in self.amounts:
            return None
        row = await self.db.fetchone("SELECT active FROM chats WHERE id = ?", (parsed.chat_id,))
        return parsed if row and row["active"] else None

    async def credit(self, payload: str, charge_id: str, payer_id: int, stars: int) -> LedgerEntry | None:
        """Successful payment: credit once per Telegram charge id. None when this charge was already credited."""
        parsed = TopUpPayload.decode(payload)
        if parsed is None:
            raise errors.StaleButton()
        amount = self.credit_for(stars)
        async with self.db.transaction() as conn:
            return await ledger.post(conn, parsed.chat_id, amount, "topup", f"stars:{charge_id}",
                                     idempotency_key=f"stars:{charge_id}", actor_id=payer_id,
                                     note=f"{stars} XTR")

    async def payment(self, charge_id: str) -> LedgerEntry | None:
        row = await self.db.fetchone("SELECT * FROM ledger WHERE idempotency_key = ?", (f"stars:{charge_id}",))
        return LedgerEntry.from_row(row) if row else None

    async def payer_of(self, charge_id: str) -> int | None:
        row = await self.db.fetchone("SELECT actor_id FROM ledger WHERE idempotency_key = ?", (f"stars:{charge_id}",))
        return row["actor_id"] if row else None

    async def debit_refund(self, charge_id: str, admin_id: int) -> LedgerEntry:
        """Take a Stars payment back off the balance before Telegram returns the stars."""
        payment = await self.payment(charge_id)
        if payment is None:
            raise StarsRefundRefused(reason=errors.TextKey("refund-reason-unknown"))
        try:
            async with self.db.transaction() as conn:
                entry = await ledger.post(conn, payment.chat_id, -payment.amount, "adjustment",
                                          f"stars-refund:{charge_id}", idempotency_key=f"stars-refund:{charge_id}",
                                          actor_id=admin_id, note="Stars refund")
        except InsufficientBalanceError:
            raise StarsRefundRefused(reason=errors.TextKey("refund-reason-spent")) from None
        if entry is None:
            raise StarsRefundRefused(reason=errors.TextKey("refund-reason-done"))
        return entry

    async def undo_refund(self, charge_id: str, admin_id: int) -> None:
        """Telegram refused the refund: give the balance back."""
        payment = await self.payment(charge_id)
        async with self.db.transaction() as conn:
            await ledger.post(conn, payment.chat_id, payment.amount, "adjustment", f"stars-refund:{charge_id}",
                              idempotency_key=f"stars-refund-undo:{charge_id}", actor_id=admin_id,
                              note="Stars refund failed")
