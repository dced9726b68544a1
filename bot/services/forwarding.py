"""Forwarding codes per number (issue 18): what a target may be, and each chat's secret signing its URL forwards.

Who may set a target (the renter or a group's admin) and whether the bot can write in a chat target are asked of
Telegram by the handler (handlers/forwarding.py); the sending is bot/outbound/forwarding.py's."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from storage.forwarding import ForwardRepo, ForwardTarget

from .errors import UserFacingError

URL_MAX = 500  # characters: a webhook URL, not a document

Resolve = Callable[[str, int], Awaitable[list[str]]]


class ForwardUrlInvalid(UserFacingError):
    key = "error-forward-url-invalid"


class ForwardUrlScheme(UserFacingError):
    key = "error-forward-url-scheme"


class ForwardUrlPrivate(UserFacingError):
    """The host resolves to an address inside a network (loopback, private, link-local, ...): never asked."""

    key = "error-forward-url-private"


class ForwardUrlUnresolved(UserFacingError):
    key = "error-forward-url-unresolved"


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address the host resolves to now (asyncio's getaddrinfo, off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def refused_address(address: str) -> bool:
    """An address a forward never goes to: loopback, link-local, private, multicast, reserved, unspecified (an
    IPv4 address mapped into IPv6 judged as itself)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # not is_global also covers what the named ranges leave out (100.64.0.0/10 carrier-grade NAT, 192.0.0.0/24).
    return (ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or not ip.is_global)


async def check_url(url: str, allowed_hosts: frozenset[str], resolve: Resolve = resolve_host) -> str:
    """The URL, if codes may be POSTed to it now; raises with the reason otherwise. Asked when the URL is set and
    again before each send (a name may resolve elsewhere later). https only; http and addresses inside a network
    only for the operator's FORWARD_ALLOWED_HOSTS."""
    return (await _checked(url, allowed_hosts, resolve))[0]


@dataclass(frozen=True, slots=True)
class Pinned:
    """A POST's request with the address that was checked in place of the name, so a name that resolves
    elsewhere a moment later (DNS rebinding) is never connected to: the Host header and TLS's server name (its
    certificate checked against it) stay the name."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, str]


async def pin_url(url: str, allowed_hosts: frozenset[str], resolve: Resolve = resolve_host) -> Pinned:
    """check_url, then the request pinned to the first address checked (an allowed host: as named)."""
    url, addresses = await _checked(url, allowed_hosts, resolve)
    if not addresses:
        return Pinned(url, {}, {})
    parts = urlsplit(url)
    address = addresses[0].split("%", 1)[0]
    literal = f"[{address}]" if ":" in address else address
    port = f":{parts.port}" if parts.port else ""
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return Pinned(urlunsplit(parts._replace(netloc=literal + port)), {"Host": parts.hostname + port}, extensions)


async def _checked(url: str, allowed_hosts: frozenset[str], resolve: Resolve) -> tuple[str, list[str]]:
    """(the URL, the addresses checked: none for an allowed host), or the reason it is refused."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ForwardUrlInvalid() from None
    host = (parts.hostname or "").lower().rstrip(".")
    if (len(url) > URL_MAX or parts.scheme not in ("https", "http") or not host or parts.username is not None
            or parts.password is not None or any(c.isspace() for c in url)):
        raise ForwardUrlInvalid()
    allowed = host in allowed_hosts
    if parts.scheme != "https" and not allowed:
        raise ForwardUrlScheme()
    if allowed:
        return url, []
    try:
        addresses = await resolve(host, port or 443)
    except (OSError, UnicodeError):
        raise ForwardUrlUnresolved(host=host) from None
    if not addresses:
        raise ForwardUrlUnresolved(host=host)
    for address in addresses:
        try:
            refused = refused_address(address)
        except ValueError:
            refused = True
        if refused:
            raise ForwardUrlPrivate(host=host, address=address)
    return url, addresses


def sign(secret: str, body: bytes) -> str:
    """X-Signature: hex HMAC-SHA256 of the raw body with the chat's secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def new_secret() -> str:
    return secrets.token_hex(24)


class Forwarding:
    def __init__(self, repo: ForwardRepo, allowed_hosts: frozenset[str] = frozenset(),
                 resolve: Resolve = resolve_host) -> None:
        self.repo = repo
        self.allowed_hosts = allowed_hosts
        self.resolve = resolve

    async def target(self, rental_id: int) -> ForwardTarget | None:
        return await self.repo.target(rental_id)

    async def set_chat(self, rental_id: int, chat_id: int, set_by: int) -> ForwardTarget:
        """The chat was checked by the caller (the person may, the bot can write there)."""
        return await self.repo.set_target(rental_id, "chat", str(chat_id), set_by)

    async def set_url(self, chat_id: int, rental_id: int, url: str, set_by: int) -> ForwardTarget:
        url = await check_url(url, self.allowed_hosts, self.resolve)
        await self.secret(chat_id)  # the receiver checks signatures from the first code on
        return await self.repo.set_target(rental_id, "url", url, set_by)

    async def check(self, url: str) -> str:
        return await check_url(url, self.allowed_hosts, self.resolve)

    async def pin(self, url: str) -> Pinned:
        """Checked again and pinned to the address checked, for one POST (bot/outbound/forwarding.py)."""
        return await pin_url(url, self.allowed_hosts, self.resolve)

    async def stop(self, rental_id: int) -> bool:
        return await self.repo.remove_target(rental_id)

    async def secret(self, chat_id: int) -> str:
        """The chat's signing secret, made the first time it is asked for."""
        await self.repo.set_secret(chat_id, new_secret(), only_if_none=True)
        return await self.repo.secret(chat_id) or ""

    async def rotate(self, chat_id: int) -> str:
        """A new secret: forwards signed from now on with it (a receiver holding the old one refuses them)."""
        await self.repo.set_secret(chat_id, new_secret())
        return await self.repo.secret(chat_id) or ""
