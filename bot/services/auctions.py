"""Provider auctions for the operator: the active ones, and a bid checked before it is placed.

A bid spends the operator's money at the provider (bid x quantity is reserved there), never a chat's. It is
checked against the auction as listed now and the provider's balance, placed once, and never retried: a lost
reply is "unknown", and the auction list says whether it took."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from providers import Provider, ProviderError
from providers import errors as perr

from . import errors
from .cooldowns import Cooldowns

LISTED_MAX = 30  # auctions shown at once: one screen


class NoAuctions(errors.UserFacingError):
    key = "error-no-auctions"


class AuctionGone(errors.UserFacingError):
    key = "error-auction-gone"


class BidTooLow(errors.UserFacingError):
    key = "error-bid-too-low"


class BidAboveBalance(errors.UserFacingError):
    key = "error-bid-balance"


class BidRefused(errors.UserFacingError):
    """The provider's own words."""

    key = "error-bid-refused"


class BidUnknown(errors.UserFacingError):
    key = "error-bid-unknown"


@dataclass(frozen=True, slots=True)
class BidQuote:
    auction_id: str
    service: str
    amount: Decimal  # per unit
    quantity: int
    total: Decimal
    balance: Decimal  # the provider's, now


class AuctionDesk:
    def __init__(self, providers: dict[str, Provider], cooldown: float = 5.0) -> None:
        # Duck-typed: only providers whose client has auctions (GetAText).
        self.provider = next((p for p in providers.values() if hasattr(p, "list_auctions")), None)
        self.cooldowns = Cooldowns(cooldown)

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    async def listed(self) -> list:
        if self.provider is None:
            raise NoAuctions()
        try:
            return (await self.provider.list_auctions())[:LISTED_MAX]
        except ProviderError as err:
            raise errors.ProviderUnavailable() from err

    async def quote(self, auction_id: str, amount: Decimal) -> BidQuote:
        """The bid as it would be placed now: above the current bid, its total within the provider balance."""
        auction = next((a for a in await self.listed() if a.id == auction_id), None)
        if auction is None:
            raise AuctionGone(id=auction_id)
        if not amount.is_finite() or amount <= auction.current_bid:
            raise BidTooLow(bid=f"${auction.current_bid}")
        amount = amount.quantize(Decimal("0.01"))
        total = amount * max(auction.amount, 1)
        try:
            balance = await self.provider.get_balance()
        except ProviderError as err:
            raise errors.ProviderUnavailable() from err
        if total > balance:
            raise BidAboveBalance(total=f"${total}", balance=f"${balance}")
        return BidQuote(auction.id, auction.service_name, amount, max(auction.amount, 1), total, balance)

    async def place(self, admin_id: int, auction_id: str, amount: Decimal):
        """Checked again at the moment of the tap, then placed once."""
        await self.quote(auction_id, amount)
        self.cooldowns.take(admin_id, "bid")
        try:
            return await self.provider.bid(auction_id, amount)
        except perr.OutcomeUnknownError:
            raise BidUnknown() from None
        except (perr.ProviderRejectedError, perr.InsufficientFundsError, perr.NotFoundError) as err:
            # Refusals the provider words (outbid, insufficient funds, ended): shown as it words them.
            raise BidRefused(reason=(err.message or "")[:200]) from None
        except ProviderError as err:
            raise errors.ProviderUnavailable() from err
