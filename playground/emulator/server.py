"""The Bot API's HTTP side: the aiohttp server; how a call is read (JSON, urlencoded or multipart bodies, query
strings), dispatched, answered and logged; injected faults; and the queue of updates the bot fetches with
getUpdates (long polling, offsets, allowed_updates, one poller at a time) or is refused while a webhook is set
(webhook.py posts them instead).

Routes: ``/bot{token}/{method}`` goes to the ``_api_<method>`` handler (lower-case name) of whichever area
models that method; ``/file/bot{token}/...`` answers 404; ``/_control/...`` is the control API (control.py).
"""
from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web

from .models import ApiError, EmulatorError, int_param

log = logging.getLogger(__name__)

MAX_UPLOAD = 50 * 1024 * 1024  # Telegram's limit for a bot's upload


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart call, as the bot uploaded it."""

    filename: str
    content_type: str
    data: bytes


JSON_FIELDS = {"reply_markup", "entities", "caption_entities", "link_preview_options", "reply_parameters", "prices",
               "commands", "scope", "allowed_updates", "suggested_tip_amounts", "menu_button", "message_ids",
               "rights", "permissions", "media", "results"}
DEFAULT_ALLOWED = None  # None = every type except the opt-in ones below
OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
WEBHOOK_CONFLICT = ("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
                    "webhook first")
FAULT_DESCRIPTIONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                      504: "Gateway Timeout"}


def json_response(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


class ServerMixin:
    def _init_server(self) -> None:
        self.base_url: str | None = None
        self.calls: list[dict] = []             # every Bot API call: method, params, ok, error_code, description
        self.unknown_methods: list[str] = []
        self.updates: list[dict] = []           # every update ever emitted
        self._faults: dict[str, list[tuple[int, str]]] = {}  # lower-case method -> queued (status, description)
        self._pending: list[dict] = []          # updates not yet confirmed through getUpdates offset
        self._update_ids = itertools.count(1)
        self._allowed: list[str] | None = DEFAULT_ALLOWED
        self._poll_generation, self._closing = 0, False
        self._updates_changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # -------------------------------------------------------------------------------------------- lifecycle
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._handle_file)
        for method, path, handler in self._control_routes():
            app.router.add_route(method, "/_control/" + path, handler)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0, access_log=None,
                                     handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._closing = False
        return self.base_url

    async def stop(self) -> None:
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -------------------------------------------------------------------------------------------- HTTP: Bot API
    async def _read_params(self, request: web.Request) -> dict:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                params.update(body if isinstance(body, dict) else {})
            else:
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):  # an upload (sendDocument): kept as Telegram keeps it
                        with value.file:
                            value = UploadedFile(value.filename or "file", value.content_type or "",
                                                 value.file.read(MAX_UPLOAD + 1))
                    params[key] = value
        for key in JSON_FIELDS & params.keys():
            if isinstance(params[key], str):
                try:
                    params[key] = json.loads(params[key])
                except ValueError:
                    pass
        return params

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            params = await self._read_params(request)
        except ValueError:
            params = None
        call = {"method": method, "params": params or {}, "time": time.time()}
        self.calls.append(call)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if self._faults.get(method.lower()):
                status, description = self._faults[method.lower()].pop(0)
                if status == 0:  # a network failure: the connection ends without an answer
                    call.update(ok=False, error_code=0, description="connection closed")
                    assert request.transport is not None
                    request.transport.close()
                    return web.Response()
                raise ApiError(status, description)
            if params is None:
                raise ApiError(400, "Bad Request: can't parse request body")
            handler = self._api.get(method.lower())
            if handler is None:
                log.warning("Telegram emulator: unknown Bot API method %r called with %r", method, params)
                self.unknown_methods.append(method)
                raise ApiError(404, "Not Found: method not found")
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as e:
            call.update(ok=False, error_code=e.code, description=e.description)
            body = {"ok": False, "error_code": e.code, "description": e.description}
            if e.parameters:
                body["parameters"] = e.parameters
            return json_response(e.code, body)
        call.update(ok=True)
        return json_response(200, {"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        return json_response(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    def fail_next(self, method: str, status: int = 500, description: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP ``status`` and Telegram's error body; status 0
        closes the connection without an answer instead (the client sees a network error)."""
        description = description or FAULT_DESCRIPTIONS.get(int(status), "Internal Server Error")
        self._faults.setdefault(method.lower(), []).extend([(int(status), description)] * int(times))

    def calls_to(self, method: str) -> list[dict]:
        return [c for c in self.calls if c["method"].lower() == method.lower()]

    # -------------------------------------------------------------------------------------------- the updates queue
    def _push(self, kind: str, payload: dict) -> dict:
        update = {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}
        self.updates.append(update)
        self._pending.append(update)
        self._wake_pollers()
        return update

    def _wake_pollers(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()

    async def _api_getupdates(self, p: dict) -> list[dict]:
        if self.webhook_url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset, limit = int_param(p, "offset", 0), min(max(int_param(p, "limit", 100), 1), 100)
        timeout = max(0.0, float(p.get("timeout") or 0))
        if isinstance(p.get("allowed_updates"), list):
            self._allowed = p["allowed_updates"] or None
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # an older long poll still waiting gets 409 Conflict, as on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = [u for u in self._pending if self._is_allowed(u)][:limit]
            remaining = deadline - loop.time()
            if self.webhook_url:  # set while this poll waited: Telegram ends the poll the same way
                raise ApiError(409, WEBHOOK_CONFLICT)
            if batch or remaining <= 0 or self._closing:
                return copy.deepcopy(batch)
            try:
                await asyncio.wait_for(self._updates_changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot "
                                    "instance is running")

    def _is_allowed(self, update: dict) -> bool:
        kind = next(k for k in update if k != "update_id")
        return kind in self._allowed if self._allowed else kind not in OPT_IN_UPDATES

    @property
    def pending_updates(self) -> list[dict]:
        return copy.deepcopy(self._pending)

    def resend_update(self, update_id: int) -> int:
        """Deliver a copy of an earlier update under a new update_id (same message/callback/charge ids)."""
        original = next((u for u in self.updates if u["update_id"] == int(update_id)), None)
        if original is None:
            raise EmulatorError(f"no update {update_id}")
        kind = next(k for k in original if k != "update_id")
        return self._push(kind, original[kind])["update_id"]
