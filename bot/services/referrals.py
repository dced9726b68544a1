"""Referrals: each user's invite link (a /start deep link made by aiogram), the inviter recorded at the first
/start, and the inviter's share of each payment an invited user makes, credited with the payment.

What rewards: a payment credited by Telegram Stars, a card, or crypto (each calls ``on_payment`` inside the
transaction that credits it). What does not: the operator's /credit, promo codes, refunds, rewards themselves."""
from __future__ import annotations

import binascii
from decimal import Decimal

import aiosqlite
from aiogram import Bot
from aiogram.utils.deep_linking import create_start_link, decode_payload

from storage import Database, LedgerEntry, referrals
from storage.referrals import InviteSummary, ReferralRepo

CODE_PREFIX = "ref:"  # the deep link's payload before aiogram's base64url: "ref:<inviter's user id>"


def encode_inviter(user_id: int) -> str:
    return f"{CODE_PREFIX}{user_id}"


def decode_inviter(args: str | None) -> int | None:
    """The inviter a /start deep link names, or None for any other or broken payload."""
    if not args or len(args) > 64:
        return None
    try:
        payload = decode_payload(args.strip())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    digits = payload.removeprefix(CODE_PREFIX)
    if not payload.startswith(CODE_PREFIX) or not digits.isascii() or not digits.isdigit() or len(digits) > 16:
        return None
    return int(digits)


class Referrals:
    def __init__(self, db: Database, percent: Decimal) -> None:
        self.repo = ReferralRepo(db)
        self.percent = percent  # of each payment of an invited user, to the inviter; 0: invitations are not rewarded

    @property
    def enabled(self) -> bool:
        return self.percent > 0

    async def link(self, bot: Bot, user_id: int) -> str:
        """https://t.me/<bot>?start=<code>: aiogram's start link, the payload base64url-encoded."""
        return await create_start_link(bot, encode_inviter(user_id), encode=True)

    async def started(self, user_id: int, args: str | None) -> int | None:
        """A /start in private, with a deep link's payload or none: the inviter recorded now, if any."""
        if await self.repo.started(user_id):
            return None  # not the first start: a read, no write transaction for each /start of a known user
        return await self.repo.record_start(user_id, decode_inviter(args))

    async def summary(self, user_id: int) -> InviteSummary:
        return await self.repo.summary(user_id)

    async def on_payment(self, conn: aiosqlite.Connection, payer_id: int,
                         payment: LedgerEntry | None) -> LedgerEntry | None:
        """Called in the transaction that credited ``payment`` (None: it was credited before, nothing to do)."""
        if payment is None:
            return None
        return await referrals.reward(conn, payer_id, payment.amount, payment.reference, self.percent)
