"""What the fake provider servers share: serving on a free 127.0.0.1 port, failure modes, sandbox tasks."""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

MODES = frozenset({"ok", "slow", "error500", "html", "badjson", "ratelimit"})


class FakeServer:
    modes = MODES  # a fake with failure modes of its own adds them here

    def __init__(self) -> None:
        self.url = ""
        self.mode = "ok"
        self._failures: deque[tuple[int, Any, dict | None]] = deque()
        self._auto_tasks: set[asyncio.Task] = set()
        self._runner: web.AppRunner | None = None
        self.auto_code_after: float | None = None
        # Per plan (GotSMS: the plan id; GetAText: the service's api name, long:<rental_time> for a long-term
        # number): its codes never come (None) or come that many seconds after a rent, whatever auto_code_after
        # says; "*" for every plan.
        self.deliveries: dict[str, float | None] = {}

    def build_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> str:
        self._runner = web.AppRunner(self.build_app(), access_log=None, handler_cancellation=True,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        for task in list(self._auto_tasks):
            task.cancel()
        if self._auto_tasks:
            await asyncio.gather(*self._auto_tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def set_mode(self, mode: str) -> None:
        """ok | slow (the work is done, the reply comes after slow_seconds) | error500 |
        html (a 200 HTML page) | badjson | ratelimit (429 with Retry-After: retry_after),
        plus any a fake adds to ``modes``."""
        if mode not in self.modes:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode

    def queue_failures(self, status: int, body: Any, headers: dict | None, count: int) -> None:
        """The next ``count`` requests get this reply instead (each fake's fail_next picks the default body)."""
        for _ in range(count):
            self._failures.append((status, body, headers))

    def set_delivery(self, plan: str, when: str | float | None) -> None:
        """Sandbox: this plan's rents get no code ("never"), one after ``when`` seconds (late, or at once with
        0), or, with None, the fake's default again (``auto_code_after``). ``plan`` "*" is every plan."""
        if when is None:
            self.deliveries.pop(plan, None)
        elif when == "never":
            self.deliveries[plan] = None
        else:
            seconds = float(when)
            if seconds < 0:
                raise ValueError("a delivery delay is never negative")
            self.deliveries[plan] = seconds

    def code_delay(self, plan: str) -> float | None:
        """Seconds after a rent of ``plan`` that its code comes; None: never."""
        for key in (plan, "*"):
            if key in self.deliveries:
                return self.deliveries[key]
        return self.auto_code_after

    def later(self, job: Coroutine) -> None:
        """Run a sandbox job (e.g. a code arriving in a few seconds); stop() cancels what is pending."""
        task = asyncio.get_running_loop().create_task(job)
        self._auto_tasks.add(task)
        task.add_done_callback(self._auto_tasks.discard)
