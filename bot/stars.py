"""Asking Telegram to return a Stars payment, and deciding what its answer means.

Done: Telegram refunded (True), or answered CHARGE_ALREADY_REFUNDED (seen after a retry whose first
reply was lost). Refused: any other 400; the debit goes back. Unknown: a network error, a timeout, a
5xx or a flood wait; the refund stays pending and is asked for again (by the operator or the job)."""
from __future__ import annotations

import enum
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from storage.stars_refunds import StarsRefund, StarsRefundRepo

log = logging.getLogger(__name__)

ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"


class RefundOutcome(enum.Enum):
    DONE = "done"
    REFUSED = "refused"
    UNKNOWN = "unknown"


async def ask_telegram(bot: Bot, refunds: StarsRefundRepo, refund: StarsRefund) -> tuple[RefundOutcome, str]:
    """One refundStarPayment call for a pending refund; the state moves with the answer. (outcome, reason)."""
    try:
        await bot.refund_star_payment(user_id=refund.payer_id, telegram_payment_charge_id=refund.charge_id)
    except TelegramBadRequest as err:
        if ALREADY_REFUNDED in err.message.upper():
            await refunds.done(refund.charge_id)
            return RefundOutcome.DONE, ""
        await refunds.refused(refund.charge_id, err.message)
        return RefundOutcome.REFUSED, err.message
    except Exception as err:  # noqa: BLE001 - whatever it was, Telegram's answer is unknown (a cancel is no Exception)
        reason = f"{type(err).__name__}: {err}"[:200]
        log.warning("Stars refund %s: no answer from Telegram (%s); kept pending", refund.charge_id, reason)
        await refunds.attempt_failed(refund.charge_id, reason)
        return RefundOutcome.UNKNOWN, reason
    await refunds.done(refund.charge_id)
    return RefundOutcome.DONE, ""


async def retry_pending(bot: Bot, refunds: StarsRefundRepo) -> int:
    """The job: ask again for every refund still pending. Returns how many were decided."""
    decided = 0
    for refund in await refunds.pending():
        outcome, _ = await ask_telegram(bot, refunds, refund)
        decided += outcome is not RefundOutcome.UNKNOWN
    return decided
