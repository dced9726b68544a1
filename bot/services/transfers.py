"""Money moved by a member: from their own (private) balance into a group they belong to, or to another user's.
One transaction, a "transfer" row on each side, never below zero, within the operator's limits; confirmed first,
and one tap moves it once (the confirm button's nonce is the idempotency key)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from providers.models import to_minor_units
from storage import ChatRepo, Database, InsufficientBalanceError, LedgerRepo, ledger, notes
from storage.notices import Notice

from . import errors, money_news


def _today() -> str:
    """Where the daily limit's day (UTC) starts, in the ledger's created_at form ("YYYY-MM-DD HH:MM:SS")."""
    return datetime.now(UTC).strftime("%Y-%m-%d 00:00:00")


class TransfersOff(errors.UserFacingError):
    key = "error-transfers-off"


class TransferOutOfLimits(errors.UserFacingError):
    key = "error-transfer-limits"


class TransferDailyLimit(errors.UserFacingError):
    key = "error-transfer-daily"


class TransferToSelf(errors.UserFacingError):
    key = "error-transfer-self"


class RecipientUnknown(errors.UserFacingError):
    """The recipient never started the bot: there is no balance of theirs to move money into."""

    key = "error-transfer-recipient"


@dataclass(frozen=True, slots=True)
class Limits:
    low: int  # minor units
    high: int  # 0: transfers off
    daily: int

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(to_minor_units(settings.transfer_min), to_minor_units(settings.transfer_max),
                   to_minor_units(settings.transfer_daily_max))


class Transfers:
    def __init__(self, db: Database, limits: Limits, on_notice: Callable[[], object] = lambda: None) -> None:
        self.db = db
        self.limits = limits
        self.chats = ChatRepo(db)
        self.ledger = LedgerRepo(db)
        self.on_notice = on_notice  # a money notice written: wakes its loop (bot/outbound/money_news.py)

    def check_amount(self, amount: int) -> None:
        if self.limits.high <= 0:
            raise TransfersOff()
        if not self.limits.low <= amount <= self.limits.high:
            raise TransferOutOfLimits(low=self.limits.low, high=self.limits.high)

    async def sent_today(self, sender: int) -> int:
        return await self.ledger.transferred_out(sender, _today())

    async def check(self, sender: int, recipient: int, amount: int) -> None:
        """Before the confirm screen: the same checks the move makes again in its transaction."""
        self.check_amount(amount)
        if sender == recipient:
            raise TransferToSelf()
        if not await self.chats.is_active(recipient):
            raise RecipientUnknown()
        if await self.sent_today(sender) + amount > self.limits.daily:
            raise TransferDailyLimit(amount=self.limits.daily)

    async def move(self, sender: int, recipient: int, amount: int, nonce: str, *, sender_name: str,
                   recipient_name: str) -> int:
        """Moves ``amount`` from the sender's own balance; returns the sender's balance after. A second tap of the
        same button moves nothing (AlreadyRequested). A user who receives it (not a group: its members saw the
        transfer there) is told in their own chat, by a notice written with the rows (the money news loop sends it)."""
        await self.check(sender, recipient, amount)
        key = f"transfer:{sender}:{nonce}"
        try:
            async with self.db.transaction() as conn:
                # Checked again inside the write: two confirm screens tapped at once stay within the daily limit.
                if await ledger.transferred_out(conn, sender, _today()) + amount > self.limits.daily:
                    raise TransferDailyLimit(amount=self.limits.daily)
                out = await ledger.post(conn, sender, -amount, "transfer", f"transfer:{recipient}",
                                        idempotency_key=f"{key}:out", actor_id=sender,
                                        note=notes.make("transfer-out", party=recipient_name))
                if out is None:
                    raise errors.AlreadyRequested()
                received = await ledger.post(conn, recipient, amount, "transfer", f"transfer:{sender}",
                                             idempotency_key=f"{key}:in", actor_id=sender,
                                             note=notes.make("transfer-in", party=sender_name))
                if recipient > 0:  # a user's own chat (groups have negative ids)
                    await money_news.tell(conn, Notice(recipient, "transfer-received", f"{key}:in", {
                        "amount": money_news.money(amount), "sender": sender_name}), received.id if received else None)
        except InsufficientBalanceError as err:
            raise errors.NotEnoughBalance(missing=err.missing, price=amount, balance=err.balance) from None
        if recipient > 0:
            self.on_notice()
        return out.balance_after
