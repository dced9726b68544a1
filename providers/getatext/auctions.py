"""Auctions: the active ones, and bidding on one (which reserves bid x quantity)."""
from __future__ import annotations

from decimal import Decimal

from ..http import spent_reply
from .core import ClientCore
from .replies import Auction, BidResult, _int_id, _money, read_auction


class Auctions(ClientCore):
    async def list_auctions(self) -> list[Auction]:
        """GET /api/v1/auctions."""
        r = self._checked(await self._request("GET", "/api/v1/auctions"))
        return [read_auction(a) for a in r.objects("auctions")]

    async def bid(self, auction_id: str | int, bid_amount: Decimal | float | str) -> BidResult:
        """POST /api/v1/auctions/{id}/bid. Spends money (bid x quantity is reserved)."""
        amount = _money(bid_amount)
        if amount <= 0:
            raise ValueError("bid_amount must be positive")
        with spent_reply(self.name, "bid"):
            data = await self._request(
                "POST", f"/api/v1/auctions/{_int_id(auction_id, 'auction id')}/bid",
                json_body={"bid_amount": amount}, spends_money=True,
            )
            r = self._checked(data)
            return BidResult(message=r.str("message", ""), new_current_bid=r.decimal("new_current_bid"))
