"""CSV files for the operator: one chat's ledger, and revenue by day. Plain data (numbers in the balance
currency with a dot, times in UTC), so a spreadsheet or a script reads them without guessing."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from storage import Database, LedgerRepo, notes
from storage.models import utcnow
from storage.stats import RentalDay, StatsRepo

LEDGER_ROWS_MAX = 100_000  # one document; an older history is in the database (and its backups)


def csv_amount(minor: int) -> str:
    """Minor units as a CSV amount: the balance's currency in major units, with a dot ("12.30")."""
    return f"{Decimal(minor).scaleb(-2):.2f}"


def _note(note: str, kind: str) -> str:
    """The note as data ("renewal service=Telegram") rather than the JSON it is stored as."""
    read = notes.read(note, kind)
    if read.why is None:
        return read.text
    return " ".join([read.why, *(f"{k}={v}" for k, v in read.fields.items())])


async def ledger_csv(db: Database, chat_id: int) -> tuple[str, int]:
    """(CSV text, rows): every ledger row of the chat, oldest first, with the balance after each."""
    # A rental's rows name who rented it and, for a member's request, the admin who approved it (its id and name
    # at the time): a group's accounts say who spent, and on whose word.
    rows = await LedgerRepo(db).export_rows(chat_id, LEDGER_ROWS_MAX)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "time_utc", "kind", "amount", "balance_after", "reference", "by", "by_name",
                     "approved_by", "approved_by_name", "note"])
    for r in rows:
        writer.writerow([r.id, r.created_at, r.kind, csv_amount(r.amount), csv_amount(r.balance_after), r.reference,
                         r.actor_id or "", r.user_name or "", r.decided_by or "", r.decided_name or "",
                         _note(r.note, r.kind)])
    return out.getvalue(), len(rows)


async def revenue_csv(db: Database, days: int) -> tuple[str, int]:
    """(CSV text, days): per UTC day of the last ``days``, newest last: top-ups (by kind of money in), rentals
    charged, refunded, net revenue, what those rentals cost at the providers, and the rentals made."""
    since = (utcnow() - timedelta(days=days - 1)).strftime("%Y-%m-%d 00:00:00")
    stats = StatsRepo(db)
    money = await stats.money_by_day(since)
    rentals = await stats.rentals_by_day(since)
    dates = sorted(money.keys() | rentals.keys())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day_utc", "topups", "charged", "refunded", "net_revenue", "provider_cost", "rentals",
                     "promo", "referral", "adjustments"])
    for day in dates:
        f, made = money.get(day, {}), rentals.get(day, RentalDay(0, Decimal(0)))
        charged, refunded = -f.get("charge", 0), f.get("refund", 0)
        writer.writerow([day, csv_amount(f.get("topup", 0)), csv_amount(charged), csv_amount(refunded),
                         csv_amount(charged - refunded), f"{made.provider_cost:.2f}", made.rentals,
                         csv_amount(f.get("promo", 0)), csv_amount(f.get("referral", 0)),
                         csv_amount(f.get("adjustment", 0))])
    return out.getvalue(), len(dates)
