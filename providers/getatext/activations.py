"""Short (per-activation) rentals: prices, balance, renting a number, its status and code,
cancelling, completing and re-renting it."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..http import spent_reply
from ..models import RentalStatus
from ..parsing import Reader, readable_rows
from .core import ClientCore
from .replies import (
    PriceInfo,
    RentalReply,
    _int_id,
    _money,
    _status,
    read_price_info,
    read_rent_reply,
    read_rental,
    read_status_reply,
)


def choices(max_price: Decimal | float | str | None, carrier: str | None, keep_carrier: bool | None) -> dict[str, Any]:
    """The optional choices both renting calls take (price cap, carrier), only those given."""
    body: dict[str, Any] = {}
    if max_price is not None:
        body["max_price"] = _money(max_price)
    if carrier is not None:
        body["carrier"] = carrier
    if keep_carrier is not None:
        body["keep_carrier"] = keep_carrier
    return body


class Activations(ClientCore):
    async def prices_info(self) -> list[PriceInfo]:
        """GET /api/v1/prices-info.

        The document's example is a single object. We accept a JSON list of such objects,
        a single object, or an object wrapping the list under "data", "services" or
        "prices" (with an optional status/errors envelope, which is checked).
        """
        data = await self._request("GET", "/api/v1/prices-info")
        items: Any
        if isinstance(data, list):
            items = data
        else:
            r = self._checked(data)
            key = next((k for k in ("data", "services", "prices") if k in r.data), None)
            items = r.list(key) if key else [data]
        return readable_rows(enumerate(items), lambda row: read_price_info(
            Reader(row[1], provider=self.name, where=f"prices-info[{row[0]}]")), provider=self.name, what="prices-info")

    async def balance(self) -> Decimal:
        """GET /api/v1/balance."""
        return self._checked(await self._request("GET", "/api/v1/balance")).decimal("balance")

    async def rent_a_number(
        self,
        service: str,
        max_price: Decimal | float | str | None = None,
        carrier: str | None = None,
        keep_carrier: bool | None = None,
    ) -> RentalReply:
        """POST /api/v1/rent-a-number. Spends money: sent once, paced to 1/s.

        ``rental.active_from`` is our clock when the reply arrived (the API sends no start
        time); ``cancel_available_at`` uses it."""
        body = {"service": service, **choices(max_price, carrier, keep_carrier)}
        with spent_reply(self.name, "rent-a-number"):
            data = await self._request("POST", "/api/v1/rent-a-number", json_body=body, spends_money=True, paced=True)
            return read_rent_reply(self._checked(data))

    async def rental_status(self, rental_id: str | int) -> RentalReply:
        """POST /api/v1/rental-status. ``code`` is set once a code arrived."""
        data = await self._request("POST", "/api/v1/rental-status", json_body={"id": _int_id(rental_id)})
        return read_status_reply(self._checked(data, request_status=False))

    async def cancel_rental(self, rental_id: str | int) -> RentalReply:
        """POST /api/v1/cancel-rental. Refused within ``CANCEL_WAIT_SECONDS`` of renting
        (raises ``CancelTooSoonError``, a ``ProviderRejectedError`` with GetAText's message)."""
        data = await self._request(
            "POST", "/api/v1/cancel-rental", json_body={"id": _int_id(rental_id)}, paced=True
        )
        return read_status_reply(self._checked(data, request_status=False))

    async def mark_completed(self, rental_id: str | int) -> RentalReply:
        """POST /api/v1/rental-status/{id}/completed."""
        data = await self._request("POST", f"/api/v1/rental-status/{_int_id(rental_id)}/completed")
        r = self._checked(data)
        inner = r.obj("rental")
        status = _status(inner.str("status"), inner.where) if inner.has("status") else RentalStatus.FINISHED
        return RentalReply(
            read_rental(inner, status=status),
            balance=inner.decimal("new_balance", None),
            message=r.str("message", None),
        )

    async def re_rent(self, rental_id: str | int) -> RentalReply:
        """POST /api/v1/re-rent: the same number again, under a NEW rental id. Spends money."""
        with spent_reply(self.name, "re-rent"):
            data = await self._request(
                "POST", "/api/v1/re-rent", json_body={"rental_id": _int_id(rental_id)}, spends_money=True, paced=True
            )
            return read_rent_reply(self._checked(data))
