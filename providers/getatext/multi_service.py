"""Several services on one number (rent-multiple-services): one request, one rental per
service, and a reply in which some entries may have failed while others were paid for."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..http import redact, spent_reply
from ..models import RentalStatus
from .activations import choices
from .classify import _error_text
from .core import ClientCore
from .replies import _STATUSES, MultiRentResult, read_rental


class MultiServiceRentals(ClientCore):
    async def rent_multiple_services(
        self,
        services: Sequence[str] | str,
        max_price: Decimal | float | str | None = None,
        carrier: str | None = None,
        keep_carrier: bool | None = None,
    ) -> MultiRentResult:
        """POST /api/v1/rent-multiple-services: several services on one number. Spends money."""
        body: dict[str, Any] = {"services": services if isinstance(services, str) else ",".join(services),
                                **choices(max_price, carrier, keep_carrier)}
        with spent_reply(self.name, "rent-multiple-services"):
            data = await self._request(
                "POST", "/api/v1/rent-multiple-services", json_body=body, spends_money=True, paced=True
            )
            r = self._checked(data)
            started = datetime.now(UTC)
            rentals, failures = [], []
            # Money may have been spent on some entries even if others failed: keep both.
            for item in r.objects("rentals"):
                problem = _error_text(item.data.get("errors"))
                status = _STATUSES.get(str(item.data.get("status", "success")).lower())
                if problem or status is not RentalStatus.ACTIVE:
                    failures.append(redact(problem or item.str("message", "rental failed")))
                    continue
                rentals.append(read_rental(item, status=RentalStatus.ACTIVE, started=started))
            return MultiRentResult(
                tuple(rentals), tuple(failures), r.decimal("new_balance", None), r.decimal("total_cost", None)
            )
