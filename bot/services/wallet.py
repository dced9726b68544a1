"""Balance changes that are not rentals: operator credit/debit (and, later, top-ups)."""
from __future__ import annotations

from storage import ChatRepo, Database, InsufficientBalanceError, LedgerEntry, LedgerRepo, ledger

from . import errors


class Wallet:
    def __init__(self, db: Database, admin_ids: frozenset[int]) -> None:
        self.db = db
        self.admin_ids = admin_ids
        self.ledger = LedgerRepo(db)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admin_ids

    async def adjust(self, admin_id: int, chat_id: int, amount: int, note: str = "") -> LedgerEntry:
        """Operator credit (amount > 0) or debit (amount < 0) of a chat."""
        if not self.is_admin(admin_id):
            raise errors.NotAllowed()
        try:
            async with self.db.transaction() as conn:
                if not await ChatRepo.exists(conn, chat_id):
                    raise errors.UnknownChat(chat_id=chat_id)
                return await ledger.post(conn, chat_id, amount, "adjustment", f"admin:{admin_id}",
                                         actor_id=admin_id, note=note[:200])
        except InsufficientBalanceError as err:
            raise errors.NotEnoughBalance(missing=err.missing, price=-amount, balance=err.balance) from None
