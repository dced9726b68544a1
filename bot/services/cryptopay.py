"""Crypto top-ups through Crypto Pay: an invoice for an amount of the balance currency, payable in the assets the
operator allows; credited once when Crypto Pay says it is paid (its signed webhook, or the poll that reconciles
the open invoices); closed when it expires, and never credited after.

Three outcomes of asking Crypto Pay: done (paid: credited; expired: closed), refused (nothing changes), unknown
(a timeout, a lost reply): the invoice stays open and the next poll asks again."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import aiosqlite

from providers import ProviderError
from providers import errors as perr
from providers.cryptopay import CryptoPayClient, Invoice
from storage import Database, LedgerEntry
from storage.crypto_invoices import Credit, CryptoInvoice, CryptoInvoiceRepo, Outcome
from storage.models import utcnow

from . import errors, money_news
from .cooldowns import Cooldowns
from .referrals import Referrals

log = logging.getLogger(__name__)

REUSE_MARGIN = timedelta(minutes=5)  # an open invoice of the same amount is shown again while this much is left
CLOSE_GRACE = timedelta(minutes=2)  # past its end by this much (clocks differ) an invoice is closed at Crypto Pay


class CryptoInvoiceUnknown(errors.UserFacingError):
    """createInvoice got no answer: nobody holds that invoice's link, so nothing can be paid; ask again."""

    key = "error-crypto-unknown"


class CryptoTopUps:
    def __init__(self, db: Database, client: CryptoPayClient | None, currency: str, assets: tuple[str, ...],
                 amounts: tuple[Decimal, ...], expires_in: int, cooldown: float = 10.0,
                 referrals: Referrals | None = None, on_notice: Callable[[], object] = lambda: None) -> None:
        self.repo = CryptoInvoiceRepo(db)
        self.referrals = referrals  # the payer's inviter gets a share, in the credit's transaction
        self.on_notice = on_notice  # a money notice written: wakes its loop (bot/outbound/money_news.py)
        self.client = client
        self.currency = currency  # the invoices' fiat: the balance currency, so exactly the amount is credited
        self.assets = assets
        self.amounts = tuple(int(a * 100) for a in amounts)  # balance minor units, one invoice each
        self.expires_in = expires_in
        self.cooldowns = Cooldowns(cooldown)

    @property
    def enabled(self) -> bool:
        return self.client is not None

    @staticmethod
    def invoice_amount(credit: int) -> Decimal:
        return Decimal(credit).scaleb(-2)

    def paid_label(self, credit: int) -> str:
        """What the invoice asks, as Crypto Pay shows it ("10 USD"), paid in one of the assets."""
        return f"{self.invoice_amount(credit).normalize():f} {self.currency}"

    async def open(self, chat_id: int, user_id: int, credit: int, description: str) -> CryptoInvoice:
        """The chat's invoice for this amount: one still open is shown again, else Crypto Pay makes one."""
        if not self.enabled or credit not in self.amounts:
            raise errors.StaleButton()
        if (kept := await self.repo.open_for(chat_id, credit, utcnow() + REUSE_MARGIN)) is not None:
            return kept
        self.cooldowns.take(user_id, "invoice")
        try:
            invoice = await self.client.create_invoice(
                self.invoice_amount(credit), fiat=self.currency, accepted_assets=self.assets,
                payload=f"{chat_id}:{credit}", description=description, expires_in=self.expires_in)
        except perr.OutcomeUnknownError:
            raise CryptoInvoiceUnknown() from None
        except ProviderError as err:
            log.warning("Crypto Pay: createInvoice failed: %s", err)
            raise errors.ProviderUnavailable() from err
        if not invoice.pay_url or invoice.status != "active":
            log.warning("Crypto Pay: invoice %d came back %s without a link", invoice.invoice_id, invoice.status)
            raise errors.ProviderUnavailable()
        expires = invoice.expiration_date or utcnow() + timedelta(seconds=self.expires_in)
        return await self.repo.add(invoice.invoice_id, chat_id, user_id, credit, invoice.amount, invoice.currency,
                                   self.assets, invoice.pay_url, expires)

    async def confirm(self, invoice: Invoice) -> Credit:
        """Crypto Pay says ``invoice`` is paid (a signed webhook, or a poll): credited once, if it is ours and
        open and what it says is what was recorded."""
        if invoice.status != "paid":
            return Credit(Outcome.UNKNOWN)
        result = await self.repo.credit(invoice.invoice_id, invoice.amount, invoice.currency, invoice.paid_asset,
                                        invoice.paid_amount, on_credit=self._credited)
        if result.outcome is Outcome.CREDITED:
            self.on_notice()
        elif result.outcome is Outcome.CLOSED:
            log.warning("Crypto Pay: invoice %d reported paid after it was closed; not credited (see the app's "
                        "balance in @CryptoBot)", invoice.invoice_id)
        elif result.outcome is Outcome.MISMATCH:
            log.warning("Crypto Pay: invoice %d paid as %s %s, recorded otherwise; not credited, left to the "
                        "operator", invoice.invoice_id, invoice.amount, invoice.currency)
        return result

    async def _credited(self, conn: aiosqlite.Connection, payer_id: int, entry: LedgerEntry | None) -> None:
        """In the transaction that credits the invoice: its "Payment received" notice, and the inviter's share."""
        if entry is not None:  # its reference is its ledger key, crypto:<invoice id>
            await money_news.tell_topup(conn, entry)
        if self.referrals is not None:
            await self.referrals.on_payment(conn, payer_id, entry)

    async def reconcile(self) -> list[Credit]:
        """The open invoices as Crypto Pay has them: paid ones credited, expired ones closed. No answer: all stay
        open for the next round."""
        mine = await self.repo.active()
        if not mine or self.client is None:
            return []
        try:
            theirs = {i.invoice_id: i for i in await self.client.get_invoices([i.invoice_id for i in mine])}
        except ProviderError as err:
            log.warning("Crypto Pay: getInvoices failed (%s); %d open invoice(s) asked again next round", err,
                        len(mine))
            return []
        credited: list[Credit] = []
        now = utcnow()
        for invoice in mine:
            fresh = theirs.get(invoice.invoice_id)
            if fresh is not None and fresh.status == "paid":
                if (result := await self.confirm(fresh)).outcome is Outcome.CREDITED:
                    credited.append(result)
            elif fresh is not None and fresh.status == "expired":
                await self.repo.close(invoice.invoice_id)
            elif invoice.expires_at + CLOSE_GRACE <= now and (fresh is None or await self._delete(invoice)):
                await self.repo.close(invoice.invoice_id)  # gone at Crypto Pay, or deleted there just now
        return credited

    async def _delete(self, invoice: CryptoInvoice) -> bool:
        """Past its end and still open at Crypto Pay: closed there first, so that it can never be paid once the bot
        stops looking. A refusal (paid in the meantime?) or no answer: asked again next round."""
        try:
            return await self.client.delete_invoice(invoice.invoice_id)
        except ProviderError as err:
            log.warning("Crypto Pay: deleteInvoice %d failed: %s", invoice.invoice_id, err)
            return False
