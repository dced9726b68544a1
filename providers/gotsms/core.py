"""What every GotSMS call shares: the HTTP session with the bearer key, the check that turns
``success: false`` into an error, and the two ways its listings page.

* Page-based listings are followed with ``page=N`` (Laravel) until ``meta.last_page``.
  ``mark_as_read`` listings are different: each reply marks what it returned, so the
  unread set shrinks under us; they re-read page 1 until the server reports one page.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ..errors import MalformedReplyError, ProviderError, ProviderRejectedError
from ..http import HttpClientBase, HttpCore, redact
from ..parsing import Reader
from .classify import _classify, classify_message

log = logging.getLogger(__package__)  # the provider's one logger, "providers.gotsms"

PAGE_SIZE = 100  # the document's maximum per_page / limit
MAX_PAGES = 200  # a guard against a server whose pages never end


class ClientCore(HttpClientBase):
    name: str  # the Provider's name, set by GotSmsClient

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://app.gotsms.org",
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        self._http = HttpCore(
            provider=self.name,
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            transport=transport,
            classify=_classify,
            secret=api_key,
            spent_5xx_unknown=True,  # the document does not promise a 5xx rented nothing
        )

    async def _call(
        self, method: str, path: str, where: str, *, params: dict[str, Any] | None = None,
        json_body: Any = None, spends_money: bool = False,
    ) -> Reader:
        """One request; the reply as a Reader, or a ProviderError with the key scrubbed out."""
        try:
            data = await self._http.request(method, path, params=params, json_body=json_body, spends_money=spends_money)
            return self._checked(data, where)
        except ProviderError as err:
            err.message = redact(err.message)
            err.args = (err.message,)
            raise

    def _checked(self, data: Any, where: str) -> Reader:
        """A 2xx reply with ``success: false`` is an error, mapped like an error status."""
        r = Reader(data, provider=self.name, where=where)
        if not r.bool("success", True):
            message = redact(r.str("message", "") or f"{where}: request failed")
            cls = classify_message(message) or ProviderRejectedError
            raise cls(message, provider=self.name)
        return r

    async def _iter_pages(self, path: str, params: dict[str, Any], where: str) -> AsyncIterator[list[Reader]]:
        """Rows of a page-based listing, one list per page, following ``meta.last_page``."""
        page = 1
        while True:
            r = await self._call("GET", path, where, params={**params, "page": page})
            rows = r.objects("data")
            meta = r.obj("meta")
            last, current = meta.int("last_page"), meta.int("current_page")
            if current != page:
                raise MalformedReplyError(f"{where}.meta.current_page: asked {page}, got {current}", provider=self.name)
            yield rows
            if page >= last or not rows:
                return
            if page >= MAX_PAGES:
                raise MalformedReplyError(f"{where}: more than {MAX_PAGES} pages", provider=self.name)
            page += 1

    async def _all_pages(self, path: str, params: dict[str, Any], where: str) -> list[Reader]:
        rows: list[Reader] = []
        async for page in self._iter_pages(path, params, where):
            rows.extend(page)
        return rows

    async def _consume_pages(self, path: str, params: dict[str, Any], where: str) -> list[Reader]:
        """A listing whose replies remove what they return (``mark_as_read``): page 1 again
        and again until the server says that was the last page."""
        rows: list[Reader] = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            r = await self._call("GET", path, where, params={**params, "page": 1})
            page = r.objects("data")
            last = r.obj("meta").int("last_page")
            fresh = [row for row in page if row.str("id") not in seen]
            seen.update(row.str("id") for row in fresh)
            rows.extend(fresh)
            if last <= 1 or not fresh:
                return rows
        log.warning("%s: stopped after %d pages", where, MAX_PAGES)
        return rows
