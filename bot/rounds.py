"""The loop the delivery and forwarding tasks share: a round now, then the next when woken or after a pause."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_rounds(one_round: Callable[[], Awaitable[object]], wake: asyncio.Event, idle: float,
                     what: str) -> None:
    """Until cancelled: ``one_round``, then wait for ``wake`` (set by whoever stored new work) or ``idle``
    seconds. A round that fails is logged and the next one tries again; a cancel always ends the loop."""
    while True:
        try:
            await one_round()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s round failed; retrying", what)
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands with wake()
            async with asyncio.timeout(idle):
                await wake.wait()
        except TimeoutError:
            pass
        wake.clear()
