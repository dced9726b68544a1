"""Crypto Pay (@CryptoBot's payment API) through the project's HTTP core: the three invoice calls the bot makes
and the check of a webhook's signature. Nothing here imports aiogram.

Every method is ``POST {api}/{method}`` with a JSON body and the app token in the ``Crypto-Pay-API-Token`` header;
the reply is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {"code": ..., "name": ...}}``. A webhook
update is signed: ``crypto-pay-api-signature`` is the hex HMAC-SHA-256 of the raw body, keyed with the SHA-256
of the token (its bytes). createInvoice is sent once (a lost reply is "unknown": nobody holds that invoice's
link, so it can never be paid, and it expires); reads are retried by the core.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from . import errors
from .http import HttpCore, spent_reply

PROVIDER = "cryptopay"
SIGNATURE_HEADER = "crypto-pay-api-signature"
STATUSES = frozenset({"active", "paid", "expired"})
IDS_PER_CALL = 100  # getInvoices answers 100 by default (1..1000 with count)


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: int
    status: str  # active | paid | expired
    currency_type: str  # fiat | crypto
    currency: str  # the fiat code ("USD") or the asset ("USDT") the amount is in
    amount: Decimal
    pay_url: str  # bot_invoice_url: what the user opens to pay
    payload: str = ""
    paid_asset: str = ""  # a fiat invoice paid: in which asset, and how much of it
    paid_amount: Decimal | None = None
    expiration_date: datetime | None = None


def _decimal(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise errors.MalformedReplyError(f"invoice {name} is not a number", provider=PROVIDER) from None
    if not number.is_finite():
        raise errors.MalformedReplyError(f"invoice {name} is not a number", provider=PROVIDER)
    return number


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def read_invoice(data: Any) -> Invoice:
    """An Invoice object as documented; MalformedReplyError for one the bot cannot trust."""
    if not isinstance(data, dict):
        raise errors.MalformedReplyError("invoice is not an object", provider=PROVIDER)
    invoice_id, status = data.get("invoice_id"), data.get("status")
    if not isinstance(invoice_id, int) or isinstance(invoice_id, bool) or invoice_id <= 0 or status not in STATUSES:
        raise errors.MalformedReplyError("invoice without a valid invoice_id or status", provider=PROVIDER)
    currency_type = data.get("currency_type") or "crypto"
    currency = data.get("fiat") if currency_type == "fiat" else data.get("asset")
    if not isinstance(currency, str) or not currency:
        raise errors.MalformedReplyError("invoice without its currency", provider=PROVIDER)
    paid_amount = data.get("paid_amount")
    return Invoice(
        invoice_id=invoice_id, status=status, currency_type=currency_type, currency=currency,
        amount=_decimal(data.get("amount"), "amount"),
        pay_url=str(data.get("bot_invoice_url") or data.get("pay_url") or data.get("mini_app_invoice_url") or ""),
        payload=str(data.get("payload") or ""), paid_asset=str(data.get("paid_asset") or ""),
        paid_amount=_decimal(paid_amount, "paid_amount") if paid_amount not in (None, "") else None,
        expiration_date=_when(data.get("expiration_date")),
    )


def signature(token: str, body: bytes) -> str:
    """The signature Crypto Pay puts on a webhook body (the fake server signs with this too)."""
    return hmac.new(hashlib.sha256(token.encode()).digest(), body, hashlib.sha256).hexdigest()


def signed(token: str, body: bytes, given: str | None) -> bool:
    """Whether ``given`` is the signature of exactly these bytes, compared in constant time."""
    if not token or not given:
        return False
    return hmac.compare_digest(signature(token, body).encode(), given.strip().lower().encode())


def read_update(body: bytes) -> tuple[str, Invoice | None]:
    """A webhook update (after its signature was checked): its update_type, and the invoice for invoice_paid."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise errors.MalformedReplyError("webhook body is not JSON", provider=PROVIDER) from None
    if not isinstance(data, dict) or not isinstance(data.get("update_type"), str):
        raise errors.MalformedReplyError("webhook body is not an update", provider=PROVIDER)
    if data["update_type"] != "invoice_paid":
        return data["update_type"], None
    return "invoice_paid", read_invoice(data.get("payload"))


class CryptoPayClient:
    def __init__(self, token: str, *, base_url: str = "https://pay.crypt.bot/api", timeout: float = 15.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = HttpCore(provider=PROVIDER, base_url=base_url, headers={"Crypto-Pay-API-Token": token},
                              timeout=timeout, transport=transport, secret=token)

    async def aclose(self) -> None:
        await self._http.aclose()

    def observe(self, observer) -> None:
        self._http.add_observer(observer)

    async def _call(self, method: str, params: dict, *, once: bool = False) -> Any:
        reply = await self._http.request("POST", f"/{method}", json_body=params, spends_money=once)
        if not isinstance(reply, dict) or "ok" not in reply:
            raise errors.MalformedReplyError(f"{method}: not a Crypto Pay reply", provider=PROVIDER)
        if reply["ok"] is not True:
            error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            raise errors.ProviderRejectedError(str(error.get("name") or "refused")[:200], provider=PROVIDER)
        return reply.get("result")

    async def create_invoice(self, amount: Decimal, *, fiat: str, accepted_assets: Sequence[str], payload: str,
                             description: str, expires_in: int) -> Invoice:
        """An invoice for ``amount`` of ``fiat``, payable in any of ``accepted_assets`` at Crypto Pay's rate."""
        params = {"currency_type": "fiat", "fiat": fiat, "accepted_assets": ",".join(accepted_assets),
                  "amount": str(amount), "payload": payload, "description": description[:1024],
                  "expires_in": expires_in, "allow_comments": False}
        result = await self._call("createInvoice", params, once=True)
        with spent_reply(PROVIDER, "createInvoice"):
            return read_invoice(result)

    async def get_invoices(self, invoice_ids: Sequence[int]) -> list[Invoice]:
        """These invoices as Crypto Pay has them now (one that it no longer has is missing from the list)."""
        found: list[Invoice] = []
        ids = list(invoice_ids)
        for start in range(0, len(ids), IDS_PER_CALL):
            chunk = ids[start:start + IDS_PER_CALL]
            result = await self._call("getInvoices", {"invoice_ids": ",".join(map(str, chunk)),
                                                      "count": len(chunk)})
            items = result.get("items") if isinstance(result, dict) else result
            if not isinstance(items, list):
                raise errors.MalformedReplyError("getInvoices: no list of items", provider=PROVIDER)
            found += [read_invoice(item) for item in items]
        return found

    async def delete_invoice(self, invoice_id: int) -> bool:
        """Close an invoice so that it can no longer be paid."""
        return (await self._call("deleteInvoice", {"invoice_id": invoice_id})) is True
