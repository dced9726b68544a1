"""Telegram's side of a webhook: setWebhook, deleteWebhook, getWebhookInfo, and the delivery of each update by
POST to the URL the bot set, in order, with the ``X-Telegram-Bot-Api-Secret-Token`` header it asked for.

As on Telegram: while a webhook is set getUpdates answers 409; an update leaves the queue only when the bot's
server answered it with a 2xx, otherwise it is posted again after a growing pause, and getWebhookInfo shows
the last error. Only loopback URLs are posted to (the sandbox has no network): a webhook set elsewhere, such
as ``set_webhook()``'s old deployment, keeps its updates pending, as for a server that is down."""
from __future__ import annotations

import asyncio
import re
import time
from urllib.parse import urlsplit

import aiohttp

from .models import ApiError, bool_param

SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
FIRST_RETRY, MAX_RETRY = 0.1, 2.0  # seconds before posting a refused update again: doubling, capped
POST_TIMEOUT = 10.0


class WebhookMixin:
    def _init_webhook(self) -> None:
        self.webhook_url = ""                   # while set, getUpdates answers 409 (as on Telegram)
        self.webhook_secret = ""
        self.webhook_deliveries: list[dict] = []  # every POST: update_id, status (0: no answer), secret sent, time
        self._webhook_error: tuple[int, str] | None = None  # (unix time, message) of the last failed POST
        self._webhook_task: asyncio.Task | None = None

    def set_webhook(self, url: str = "https://old-deployment.example/telegram/hook", secret: str = "") -> None:
        """A webhook set on the token, e.g. by an earlier deployment or another tool: until the bot calls
        deleteWebhook (or setWebhook with an empty url), getUpdates answers 409 Conflict, a waiting poll too."""
        self.webhook_url, self.webhook_secret = str(url), secret
        self._webhook_error = None
        self._stop_delivery()
        if self.webhook_url and urlsplit(self.webhook_url).hostname in LOOPBACK:
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver(), name="emulator-webhook")
        self._wake_pollers()

    def _api_setwebhook(self, p: dict) -> bool:
        url, secret = str(p.get("url") or ""), str(p.get("secret_token") or "")
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise ApiError(400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        if secret and not SECRET_TOKEN.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if isinstance(p.get("allowed_updates"), list):
            self._allowed = p["allowed_updates"] or None
        if bool_param(p, "drop_pending_updates"):
            self._pending.clear()
        self.set_webhook(url, secret)  # an empty url removes the webhook, as on Telegram
        return True

    def _api_deletewebhook(self, p: dict) -> bool:
        self.set_webhook("")
        if bool_param(p, "drop_pending_updates"):
            self._pending.clear()
        return True

    def _api_getwebhookinfo(self, p: dict) -> dict:
        info = {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": len(self._pending)}
        if self.webhook_url and self._allowed:
            info["allowed_updates"] = list(self._allowed)
        if self._webhook_error:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    def _stop_delivery(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None

    async def stop(self) -> None:
        self._stop_delivery()
        await super().stop()

    async def _deliver(self) -> None:
        """One update at a time, oldest first: the next is posted once the bot's server has taken this one."""
        url, secret = self.webhook_url, self.webhook_secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        pause = FIRST_RETRY
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT)) as http:
            while True:
                self._pending = [u for u in self._pending if self._is_allowed(u)]  # not asked for: never posted
                if not self._pending:
                    changed = self._updates_changed
                    await changed.wait()
                    continue
                update = self._pending[0]
                try:
                    async with http.post(url, json=update, headers=headers) as reply:
                        status, text = reply.status, (await reply.text())[:200]
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
                    status, text = 0, f"Connection failed: {type(err).__name__}"
                self.webhook_deliveries.append({"update_id": update["update_id"], "status": status,
                                                "secret": secret, "time": time.time()})
                if 200 <= status < 300:
                    if self._pending and self._pending[0] is update:
                        self._pending.pop(0)
                    self._webhook_error, pause = None, FIRST_RETRY
                    continue
                self._webhook_error = (int(time.time()), f"Wrong response from the webhook: {status} {text}".strip()
                                       if status else text)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_RETRY)
