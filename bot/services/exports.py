"""CSV files for the operator: one chat's ledger, and revenue by day. Plain data (numbers in the balance
currency with a dot, times in UTC), so a spreadsheet or a script reads them without guessing."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from storage import Database, notes
from storage.models import utcnow


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
    rows = await db.fetchall(
        "SELECT l.id, l.created_at, l.kind, l.amount, l.balance_after, l.reference, l.actor_id, l.note,"
        " r.user_name, q.decided_by, q.decided_name FROM ledger l"
        " LEFT JOIN rentals r ON l.reference LIKE 'rental:%' AND r.id = CAST(substr(l.reference, 8) AS INTEGER)"
        " LEFT JOIN spend_requests q ON q.rental_id = r.id AND q.status = 'approved'"
        " WHERE l.chat_id = ? ORDER BY l.id LIMIT ?", (chat_id, LEDGER_ROWS_MAX))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "time_utc", "kind", "amount", "balance_after", "reference", "by", "by_name",
                     "approved_by", "approved_by_name", "note"])
    for r in rows:
        writer.writerow([r["id"], r["created_at"], r["kind"], csv_amount(r["amount"]), csv_amount(r["balance_after"]),
                         r["reference"], r["actor_id"] or "", r["user_name"] or "", r["decided_by"] or "",
                         r["decided_name"] or "", _note(r["note"], r["kind"])])
    return out.getvalue(), len(rows)


async def revenue_csv(db: Database, days: int) -> tuple[str, int]:
    """(CSV text, days): per UTC day of the last ``days``, newest last: top-ups (by kind of money in), rentals
    charged, refunded, net revenue, what those rentals cost at the providers, and the rentals made."""
    since = (utcnow() - timedelta(days=days - 1)).strftime("%Y-%m-%d 00:00:00")
    money = await db.fetchall(
        "SELECT substr(created_at, 1, 10) AS day, kind, SUM(amount) AS total FROM ledger WHERE created_at >= ?"
        " GROUP BY day, kind", (since,))
    costs = await db.fetchall(
        "SELECT substr(created_at, 1, 10) AS day, provider_cost, status FROM rentals WHERE created_at >= ?", (since,))
    table: dict[str, dict] = {}
    for row in money:
        table.setdefault(row["day"], {})[row["kind"]] = row["total"]
    for row in costs:
        day = table.setdefault(row["day"], {})
        day["rentals"] = day.get("rentals", 0) + (row["status"] != "failed")
        if row["status"] in ("active", "finished", "expired"):  # kept, so paid for at the provider
            day["cost"] = day.get("cost", Decimal(0)) + Decimal(row["provider_cost"] or 0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day_utc", "topups", "charged", "refunded", "net_revenue", "provider_cost", "rentals",
                     "promo", "referral", "adjustments"])
    for day in sorted(table):
        f = table[day]
        charged, refunded = -f.get("charge", 0), f.get("refund", 0)
        writer.writerow([day, csv_amount(f.get("topup", 0)), csv_amount(charged), csv_amount(refunded),
                         csv_amount(charged - refunded), f"{f.get('cost', Decimal(0)):.2f}", f.get("rentals", 0),
                         csv_amount(f.get("promo", 0)), csv_amount(f.get("referral", 0)),
                         csv_amount(f.get("adjustment", 0))])
    return out.getvalue(), len(table)
