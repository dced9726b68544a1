"""Auto-renewal money: the next period is reserved on the chat's ledger before the provider renews.

At the cut-off before a renewal, the period's price is charged as a reservation (keyed by the rental and
the end it renews from). If the balance cannot hold it, auto-renew is switched off at the provider first.
When the provider renews, the open reservation is the charge (never charged twice); when it does not
(auto-renew switched off since, the number closed), the reservation comes back. Switching auto-renew off
and on again opens a new round under its own key."""
from __future__ import annotations

import aiosqlite

from storage import Database, InsufficientBalanceError, RentalRecord, ledger, notes
from storage.models import db_time


class Renewals:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def reserve(self, rental: RentalRecord) -> bool:
        """True when the next period is held (now or before); False when the balance cannot hold it."""
        try:
            async with self.db.transaction() as conn:
                await charge_period(conn, rental)
        except InsufficientBalanceError:
            return False
        return True

    async def release(self, rental: RentalRecord) -> int:
        """The provider will not renew from this end: the open reservation comes back. Returns the amount."""
        async with self.db.transaction() as conn:
            return await release_reservation(conn, rental)


async def charge_period(conn: aiosqlite.Connection, rental: RentalRecord) -> None:
    """In the caller's transaction: the next period charged unless a reservation for it is open already.
    Raises InsufficientBalanceError when the balance cannot pay it."""
    open_key, rounds = await _reservations(conn, rental)
    if open_key is not None or rental.renewal_price <= 0:
        return
    base = period_key(rental)
    await ledger.post(conn, rental.chat_id, -rental.renewal_price, "charge", f"rental:{rental.id}",
                      idempotency_key=base if rounds == 0 else f"{base}#{rounds + 1}",
                      note=notes.make("renewal", service=rental.service_name))


async def release_reservation(conn: aiosqlite.Connection, rental: RentalRecord) -> int:
    """In the caller's transaction (auto-renew off, the rental closing): the open reservation comes back."""
    open_key, _ = await _reservations(conn, rental)
    if open_key is None:
        return 0
    amount = -await ledger.amount_of(conn, open_key)
    await ledger.post(conn, rental.chat_id, amount, "refund", f"rental:{rental.id}",
                      idempotency_key=f"release:{open_key}",
                      note=notes.make("renewal-not-made", service=rental.service_name))
    return amount


def period_key(rental: RentalRecord) -> str:
    """The period that renews from the rental's current end: its first reservation's ledger key (and the key of
    the chat's "renewed" notice: one per period)."""
    return f"renewal:{rental.id}:{db_time(rental.active_till)}"


async def _reservations(conn: aiosqlite.Connection, rental: RentalRecord) -> tuple[str | None, int]:
    """(the reservation for the rental's current end that was not given back, how many rounds there were)."""
    base = period_key(rental)
    keys = await ledger.round_keys(conn, base)
    if not keys:
        return None, 0
    released = {k.removeprefix("release:") for k in await ledger.keys_written(conn, (f"release:{k}" for k in keys))}
    open_keys = [k for k in keys if k not in released]
    return (open_keys[-1] if open_keys else None), len(keys)
