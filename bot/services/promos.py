"""Promo codes: the operator makes them (amount, uses, an optional expiry), a chat redeems one once. Each redemption
is a ledger row of kind 'promo' (never a payment: it rewards no inviter)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from storage import Database
from storage.models import utcnow
from storage.promos import Outcome, PromoCode, PromoRepo, Redemption

from . import errors

CODE = re.compile(r"[A-Z0-9_-]{3,32}")  # what the operator types, case folded: SPRING25, new-user
MAX_USES = 1_000_000
MAX_DAYS = 3650


class PromoUnknown(errors.UserFacingError):
    key = "error-promo-unknown"


class PromoDisabled(errors.UserFacingError):
    key = "error-promo-disabled"


class PromoExpired(errors.UserFacingError):
    key = "error-promo-expired"


class PromoUsedUp(errors.UserFacingError):
    key = "error-promo-used-up"


class PromoRedeemedHere(errors.UserFacingError):
    key = "error-promo-redeemed-here"


class PromoRedeemedByYou(errors.UserFacingError):
    key = "error-promo-redeemed-by-you"


class PromoExists(errors.UserFacingError):
    key = "error-promo-exists"


REFUSALS: dict[Outcome, type[errors.UserFacingError]] = {
    Outcome.UNKNOWN: PromoUnknown, Outcome.DISABLED: PromoDisabled, Outcome.EXPIRED: PromoExpired,
    Outcome.USED_UP: PromoUsedUp, Outcome.ALREADY_CHAT: PromoRedeemedHere, Outcome.ALREADY_USER: PromoRedeemedByYou,
}


def normalize(code: str) -> str:
    return code.strip().upper()


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """'30' (days from now) or '2025-12-31' (valid through that day, UTC). ValueError for anything else or the past."""
    now = now or utcnow()
    if text.isascii() and text.isdigit():
        days = int(text)
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(text)
        return now + timedelta(days=days)
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValueError(text)
    end = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
    if end <= now or end > now + timedelta(days=MAX_DAYS + 1):
        raise ValueError(text)
    return end


class Promos:
    def __init__(self, db: Database) -> None:
        self.repo = PromoRepo(db)

    async def create(self, admin_id: int, code: str, amount: int, uses: int, expires_at: datetime | None) -> PromoCode:
        code = normalize(code)
        if not CODE.fullmatch(code) or amount <= 0 or not 1 <= uses <= MAX_USES:
            raise errors.BadArguments()
        made = await self.repo.create(code, amount, uses, expires_at, admin_id)
        if made is None:
            raise PromoExists(code=code)
        return made

    async def listed(self) -> list[PromoCode]:
        return await self.repo.listed()

    async def disable(self, code: str) -> None:
        code = normalize(code)
        if not await self.repo.disable(code):
            raise PromoUnknown(code=code[:32])

    async def redeem(self, chat_id: int, user_id: int, code: str) -> Redemption:
        """The code's amount on the chat's balance, or the reason it is not (raised, in the chat's language)."""
        code = normalize(code)
        result = (await self.repo.redeem(code, chat_id, user_id) if CODE.fullmatch(code)
                  else Redemption(Outcome.UNKNOWN))
        if result.outcome is not Outcome.REDEEMED:
            raise REFUSALS[result.outcome](code=code[:32])
        return result
