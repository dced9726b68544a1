"""Telegram Stars top-ups: credited once per charge id; refunds debit the ledger first, then ask Telegram."""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from storage import ChatRepo, Database, InsufficientBalanceError, LedgerEntry, LedgerRepo, ledger, notes
from storage.stars_refunds import StarsRefund, StarsRefundRepo

from . import errors, money_news
from .invoice_seal import InvoiceSeal
from .referrals import Referrals

log = logging.getLogger(__name__)
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


class PaymentUnmatched(errors.UserFacingError):
    """Paid, but not for an invoice this bot made (or in another amount or currency): not credited, logged for
    the operator with its charge id (they refund it or credit it by hand)."""

    key = "error-payment-unmatched"


class StarsRefundRefused(errors.UserFacingError):
    key = "error-stars-refund"


class StarsRefundPending(errors.UserFacingError):
    """Telegram did not answer the refund: the debit stays, the refund is asked for again until it answers."""

    key = "error-stars-refund-pending"


class TopUps:
    def __init__(self, db: Database, star_value_cents: Decimal, amounts: tuple[int, ...],
                 referrals: Referrals | None = None, seal: InvoiceSeal | None = None,
                 on_notice: Callable[[], object] = lambda: None) -> None:
        self.db = db
        self.seal = seal or InvoiceSeal("")
        self.referrals = referrals  # the payer's inviter gets a share, in the credit's transaction
        self.star_value_cents = star_value_cents
        self.amounts = amounts
        self.refunds = StarsRefundRepo(db)
        self.chats = ChatRepo(db)
        self.ledger = LedgerRepo(db)
        self.on_notice = on_notice  # a money notice written: wakes its loop (bot/outbound/money_news.py)

    def credit_for(self, stars: int) -> int:
        return math.floor(Decimal(stars) * self.star_value_cents)

    def invoice(self, chat_id: int, stars: int) -> str:
        """The payload of an invoice for ``stars``, sealed: only what this bot offered is ever credited."""
        return self.seal.seal(TopUpPayload(chat_id, stars).encode())

    def parse(self, payload: str) -> TopUpPayload | None:
        fields = self.seal.open(payload)
        return TopUpPayload.decode(fields) if fields is not None else None

    async def chat_language(self, payload: str) -> str | None:
        parsed = self.parse(payload)
        chat = await self.chats.get(parsed.chat_id) if parsed else None
        return chat.language if chat else None

    async def check(self, payload: str, currency: str, total: int) -> TopUpPayload | None:
        """Pre-checkout: the invoice still fits (one this bot made, a known amount, an existing active chat)."""
        parsed = self.parse(payload)
        if parsed is None or currency != "XTR" or total != parsed.stars or parsed.stars not in self.amounts:
            return None
        return parsed if await self.chats.is_active(parsed.chat_id) else None

    async def credit(self, payload: str, charge_id: str, payer_id: int, stars: int,
                     currency: str = "XTR") -> LedgerEntry | None:
        """Successful payment: credit once per Telegram charge id, with its "Payment received" notice in the same
        transaction (sent by the money news loop). None when this charge was already credited. Only an invoice
        this bot made, paid in Stars for the Stars it asked: anything else is logged and not credited."""
        parsed = self.parse(payload)
        if parsed is None or currency != "XTR" or stars != parsed.stars:
            log.error("payment %s by %d not credited: it matches no invoice of this bot (payload %r, %d %s)",
                      charge_id, payer_id, payload[:128], stars, currency)
            raise PaymentUnmatched(charge=charge_id)
        amount = self.credit_for(stars)
        key = f"stars:{charge_id}"
        async with self.db.transaction() as conn:
            entry = await ledger.post(conn, parsed.chat_id, amount, "topup", key, idempotency_key=key,
                                      actor_id=payer_id, note=notes.make("stars-topup", stars=stars))
            if entry is not None:
                await money_news.tell_topup(conn, entry)
            if self.referrals is not None:
                await self.referrals.on_payment(conn, payer_id, entry)
        if entry is not None:
            self.on_notice()
        return entry

    async def payment(self, charge_id: str) -> LedgerEntry | None:
        return await self.ledger.by_key(f"stars:{charge_id}")

    async def payer_of(self, charge_id: str) -> int | None:
        return await self.ledger.actor_of(f"stars:{charge_id}")

    async def start_refund(self, charge_id: str, admin_id: int) -> StarsRefund:
        """Debit the chat (once per round) before Telegram is asked to return the stars.

        A refund already pending is returned as it is, so the operator's retry asks Telegram again."""
        payment = await self.payment(charge_id)
        if payment is None:
            raise StarsRefundRefused(reason=errors.TextKey("refund-reason-unknown"))
        if await self._legacy_refund_kept(charge_id):
            raise StarsRefundRefused(reason=errors.TextKey("refund-reason-done"))
        try:
            refund = await self.refunds.open(charge_id, payment.chat_id, await self.payer_of(charge_id) or 0,
                                             payment.amount, admin_id)
        except InsufficientBalanceError:
            raise StarsRefundRefused(reason=errors.TextKey("refund-reason-spent")) from None
        if refund.state == "done":
            raise StarsRefundRefused(reason=errors.TextKey("refund-reason-done"))
        return refund

    async def _legacy_refund_kept(self, charge_id: str) -> bool:
        """Before refunds had states, a kept debit under this key meant Telegram had refunded."""
        written = await self.ledger.keys_written((f"stars-refund:{charge_id}", f"stars-refund-undo:{charge_id}"))
        return written == {f"stars-refund:{charge_id}"}
