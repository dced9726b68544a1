"""Long-term rentals (a number for a week to a year): creating, listing, renewing,
cancelling or toggling auto-renewal, and reading the messages they received."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from ..http import spent_reply
from .core import ClientCore
from .replies import LongRental, LongRentalMessage, _int_id, read_long_rental, read_long_rental_message

RENTAL_TIMES = frozenset({"1w", "2w", "1m", "1y"})
LONG_RENTAL_ACTIONS = frozenset({"renew", "cancel", "auto_renew"})


class LongRentals(ClientCore):
    async def create_long_rental(self, rental_time: str, auto_renew: bool) -> LongRental:
        """POST /api/v1/long-rentals; ``rental_time`` in 1w/2w/1m/1y. Spends money."""
        if rental_time not in RENTAL_TIMES:
            raise ValueError(f"rental_time must be one of {sorted(RENTAL_TIMES)}, got {rental_time!r}")
        body = {"auto_renew": bool(auto_renew), "rental_time": rental_time}
        with spent_reply(self.name, "long rental"):
            data = await self._request("POST", "/api/v1/long-rentals", json_body=body, spends_money=True)
            return read_long_rental(self._checked(data).obj("long_rental"))

    async def list_long_rentals(self) -> list[LongRental]:
        """GET /api/v1/long-rentals."""
        r = self._checked(await self._request("GET", "/api/v1/long-rentals"))
        return [read_long_rental(item) for item in r.objects("long_rentals")]

    async def update_long_rental(self, rental_id: str | int, action: str, auto_renew: bool | None = None) -> LongRental:
        """POST /api/v1/long-rentals/{id}/update; action renew (spends money), cancel or
        auto_renew (which needs ``auto_renew``)."""
        if action not in LONG_RENTAL_ACTIONS:
            raise ValueError(f"action must be one of {sorted(LONG_RENTAL_ACTIONS)}, got {action!r}")
        if action == "auto_renew" and auto_renew is None:
            raise ValueError("action 'auto_renew' needs auto_renew=True or False")
        body: dict[str, Any] = {"action": action}
        if auto_renew is not None:
            body["auto_renew"] = bool(auto_renew)
        spends = action == "renew"
        with spent_reply(self.name, "long rental renewal") if spends else nullcontext():
            data = await self._request(
                "POST", f"/api/v1/long-rentals/{_int_id(rental_id)}/update", json_body=body, spends_money=spends,
            )
            return read_long_rental(self._checked(data).obj("long_rental"))

    async def long_rental_messages(self, rental_id: str | int) -> list[LongRentalMessage]:
        """GET /api/v1/long-rentals/{id}/messages."""
        r = self._checked(await self._request("GET", f"/api/v1/long-rentals/{_int_id(rental_id)}/messages"))
        return [read_long_rental_message(m) for m in r.objects("messages")]
