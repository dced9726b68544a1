"""Invoice payloads the bot made, and only those: each payload carries an HMAC of its fields, keyed by a secret of
this bot (derived from its token), so a payment whose payload names an amount, a currency or a chat the bot never
offered — an update forged past the webhook secret, or a bug — is recognised and never credited.

Stateless on purpose: an invoice sent before a restart still verifies after it, and nothing is stored per invoice
(Telegram's payload holds at most 128 bytes; a seal takes 17 of them)."""
from __future__ import annotations

import hashlib
import hmac

SEAL_CHARS = 16  # 64 bits of the HMAC: forging one is 2**64 guesses against a bot that answers each


class InvoiceSeal:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"sms-rent-bot invoice payload\0" + secret.encode()).digest()

    def _mac(self, fields: str) -> str:
        return hmac.new(self._key, fields.encode(), hashlib.sha256).hexdigest()[:SEAL_CHARS]

    def seal(self, fields: str) -> str:
        """``fields`` (colon-separated) with their seal appended."""
        return f"{fields}:{self._mac(fields)}"

    def open(self, payload: str) -> str | None:
        """The fields of a payload this bot sealed; None for anything else (unsealed, altered, another bot's)."""
        fields, _, mac = payload.rpartition(":")
        if not fields or len(mac) != SEAL_CHARS or not hmac.compare_digest(mac, self._mac(fields)):
            return None
        return fields
