"""Card and wallet top-ups through Telegram Payments (sendInvoice with the operator's provider token): the
invoice in the operator's currency, converted at the operator's rate, credited once per Telegram charge id."""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision

from storage import ChatRepo, Database, LedgerEntry, ledger, notes

from . import money_news
from .invoice_seal import InvoiceSeal
from .referrals import Referrals
from .topups import PaymentUnmatched

log = logging.getLogger(__name__)
PAYLOAD_PREFIX = "card"
MONEY_LOCALE = "en"  # bot/services/pricing.format_money's convention: "$5.41", a point, in every language


@dataclass(frozen=True, slots=True)
class CardPayload:
    chat_id: int
    amount: int  # minor units of the invoice currency
    credit: int  # balance cents the invoice said it adds: exactly that is credited
    currency: str  # the invoice's: a payment in any other is not this invoice's

    def encode(self) -> str:
        return f"{PAYLOAD_PREFIX}:{self.chat_id}:{self.amount}:{self.credit}:{self.currency}"

    @classmethod
    def decode(cls, payload: str) -> CardPayload | None:
        parts = payload.split(":")
        if len(parts) != 5 or parts[0] != PAYLOAD_PREFIX:
            return None
        try:
            return cls(int(parts[1]), int(parts[2]), int(parts[3]), parts[4])
        except ValueError:
            return None


class CardTopUps:
    def __init__(self, db: Database, provider_token: str, currency: str, rate: Decimal,
                 amounts: tuple[Decimal, ...], referrals: Referrals | None = None,
                 seal: InvoiceSeal | None = None, on_notice: Callable[[], object] = lambda: None) -> None:
        self.db = db
        self.seal = seal or InvoiceSeal("")
        self.referrals = referrals  # the payer's inviter gets a share, in the credit's transaction
        self.chats = ChatRepo(db)
        self.on_notice = on_notice  # a money notice written: wakes its loop (bot/outbound/money_news.py)
        self.provider_token = provider_token
        self.currency = currency
        self.rate = rate
        # Minor units per unit of the currency, from CLDR (2 for EUR, 0 for JPY): what Telegram's amounts count.
        self.exponent = get_currency_precision(currency)
        self.amounts = tuple(int(a * 10 ** self.exponent) for a in amounts)

    @property
    def enabled(self) -> bool:
        return bool(self.provider_token)

    def credit_for(self, amount: int) -> int:
        """Balance cents for ``amount`` minor units paid: at the operator's rate, rounded down (in the operator's
        favour, by less than one cent)."""
        return math.floor(Decimal(amount).scaleb(-self.exponent) * self.rate * 100)

    def label(self, amount: int, language: str) -> str:
        """The invoice amount as it stands beside the balance's money ("€5.00 → $5.41"): in the balance's
        format whatever the chat's language, so one line never mixes "5,00" and "5.41"."""
        return format_currency(Decimal(amount).scaleb(-self.exponent), self.currency, locale=MONEY_LOCALE)

    def invoice(self, chat_id: int, amount: int) -> str:
        """The payload of an invoice for ``amount`` minor units, sealed: only what this bot offered is credited."""
        return self.seal.seal(CardPayload(chat_id, amount, self.credit_for(amount), self.currency).encode())

    def parse(self, payload: str) -> CardPayload | None:
        fields = self.seal.open(payload)
        return CardPayload.decode(fields) if fields is not None else None

    async def check(self, payload: str, currency: str, total: int) -> CardPayload | None:
        """Pre-checkout: an invoice this bot made, for an amount it offers, in its currency, at today's rate (a
        rate changed since the invoice refuses it: the user pays nothing and asks for a new one), for a chat that
        is still there."""
        parsed = self.parse(payload)
        if (parsed is None or not self.enabled or currency != self.currency or currency != parsed.currency
                or total != parsed.amount
                or parsed.amount not in self.amounts or parsed.credit != self.credit_for(parsed.amount)):
            return None
        return parsed if await self.chats.is_active(parsed.chat_id) else None

    async def credit(self, payload: str, charge_id: str, payer_id: int, total: int,
                     currency: str) -> LedgerEntry | None:
        """Successful payment: credit once per Telegram charge id (None when already credited): what the invoice
        said, even if the operator changed the amounts or the rate since pre-checkout (it was paid). Its "Payment
        received" notice is written in the same transaction (sent by the money news loop). Only an invoice this bot
        made, paid in its amount and currency: anything else is logged for the operator and not credited."""
        parsed = self.parse(payload)
        if parsed is None or total != parsed.amount or currency != parsed.currency or parsed.credit <= 0:
            log.error("card payment %s by %d not credited: it matches no invoice of this bot (payload %r, %d %s)",
                      charge_id, payer_id, payload[:128], total, currency)
            raise PaymentUnmatched(charge=charge_id)
        key = f"card:{charge_id}"
        async with self.db.transaction() as conn:
            entry = await ledger.post(conn, parsed.chat_id, parsed.credit, "topup", key,
                                      idempotency_key=key, actor_id=payer_id,
                                      note=notes.make("card-topup", paid=self.label(total, "en")))
            if entry is not None:
                await money_news.tell_topup(conn, entry)
            if self.referrals is not None:
                await self.referrals.on_payment(conn, payer_id, entry)
        if entry is not None:
            self.on_notice()
        return entry
