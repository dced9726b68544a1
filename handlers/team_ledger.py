"""A group's ledger as a team reads it: each rent with the member who rented and the admin who approved, and a
member's own spending on the balance screen. Apart from handlers/teams.py so the balance screen can use it
without importing the requests' handlers (and, through them, the number card)."""
from __future__ import annotations

from bot.services.pricing import format_money
from bot.services.teams import SINCE_KEYS, Teams
from storage import Chat, LedgerEntry

from . import views
from .i18n import Texts


def ledger_lines(t: Texts, entries: list[LedgerEntry], who: dict[int, tuple[str, str]]) -> list[str]:
    lines = []
    for entry in entries:
        line = views.ledger_line(t, entry)
        if entry.id in who:
            member, admin = who[entry.id]
            line += " · " + (t("ledger-by-approved", member=member, admin=admin) if admin
                             else t("ledger-by", member=member))
        lines.append(line)
    return lines


async def member_lines(t: Texts, chat: Chat, user_id: int, teams: Teams) -> list[str]:
    """On a group's balance screen: the member's own spending this day or week and, under a limit, what is left."""
    spent = await teams.spent(chat, user_id)
    since = t(SINCE_KEYS[chat.limit_period])
    if chat.members_can_rent and chat.member_limit:
        return [t("balance-member-limit", spent=format_money(spent), limit=format_money(chat.member_limit),
                  left=format_money(max(0, chat.member_limit - spent)), since=since)]
    return [t("balance-member-spent", spent=format_money(spent), since=since)]
