"""Settings from the environment and `.env`. Secrets are SecretStr: never printed."""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TOKEN_PATTERN = re.compile(r"^\d{5,16}:[A-Za-z0-9_-]{30,}$")
STARS_PER_INVOICE = (1, 10000)  # Telegram's range for one Stars invoice
WEBHOOK_SECRET_MIN = 32
WEBHOOK_SECRET_CHARS = re.compile(r"[A-Za-z0-9_-]+")
TELEGRAM_SECRET_CHARS = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what setWebhook accepts as secret_token
# Settings renamed when the HTTP server began to serve more than GetAText's webhook: the old names still work.
RENAMED = {"WEBHOOK_HOST": "HTTP_HOST", "WEBHOOK_PORT": "HTTP_PORT", "WEBHOOK_SECRET": "GETATEXT_WEBHOOK_SECRET",
           "WEBHOOK_ALLOWED_IPS": "GETATEXT_WEBHOOK_ALLOWED_IPS", "WEBHOOK_TRUSTED_PROXIES": "HTTP_TRUSTED_PROXIES"}


def http_url(value: str, example: str = "https://api.telegram.org") -> str:
    """Caught here, a URL without a scheme is one line; in the HTTP client it is a traceback."""
    try:
        parts = urlsplit(value.strip())
        parts.port  # raises ValueError for a port that is not a number
        (parts.hostname or "").encode("idna")  # raises UnicodeError (a ValueError) for "bad..host"
    except ValueError:  # also an unclosed IPv6 bracket
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected http(s)://host[:port], e.g. {example}")
    return value.strip()


def _renamed(name: str) -> AliasChoices:
    old = next(old for old, new in RENAMED.items() if new == name.upper())
    return AliasChoices(name, old.lower())


class ConfigError(Exception):
    """A setting is missing or wrong; the message says what to set and where."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Telegram
    bot_token: SecretStr = SecretStr("")
    telegram_api_url: str = "https://api.telegram.org"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    # Drop the updates Telegram kept while the bot was away (at start, in either mode).
    drop_pending_updates: bool = False
    # Webhook mode: the public https address of the bot's HTTP server (HTTP_PORT); Telegram posts updates to
    # PUBLIC_URL/telegram. Empty: long polling.
    public_url: str = ""
    # The secret_token Telegram sends with every update; empty: a new random one at each start.
    telegram_webhook_secret: SecretStr = SecretStr("")

    # Storage
    database_path: Path = Path("data/bot.sqlite3")

    # Providers: a provider is enabled when its key is set
    gotsms_api_key: SecretStr = SecretStr("")
    gotsms_base_url: str = "https://app.gotsms.org"
    getatext_api_key: SecretStr = SecretStr("")
    getatext_base_url: str = "https://getatext.com"
    # GetAText long-term numbers: the price expected per period ("1w=10.55,2w=19.99,1m=34.99,1y=299") until the
    # provider has shown one (a period with neither is not offered), and the margin held above it while renting.
    getatext_long_prices: Annotated[dict[str, Decimal], NoDecode] = {}
    long_hold_margin_percent: Decimal = Field(Decimal("20"), ge=0, le=500)
    provider_timeout: float = Field(15.0, gt=0)

    # Money
    markup_percent: Decimal = Field(Decimal("20"), ge=0, le=1000)
    currency: str = "USD"
    # Where users get help from a person: "@shop_support", an https:// link or an e-mail; shown on Help.
    support_contact: str = Field("", max_length=200)
    # The operator's terms and refund policy for /terms: <terms_dir>/<language>.html (Telegram HTML), edited by
    # the operator; the English file stands in for a language without its own.
    terms_dir: str = "terms"
    # Transfers from a member's own balance into a group or to another user, in the balance currency: each
    # between min and max, at most daily_max a day per sender (0 max: transfers off).
    transfer_min: Decimal = Field(Decimal("1"), ge=Decimal("0.01"), le=100000)
    transfer_max: Decimal = Field(Decimal("100"), ge=0, le=100000)
    transfer_daily_max: Decimal = Field(Decimal("300"), ge=0, le=1000000)
    # Referrals: the inviter's share of each payment (Stars, card, crypto) of a user they invited, in percent
    # (rounded down to the cent); 0: invitations are not rewarded. Operator credits and promo codes never reward.
    referral_percent: Decimal = Field(Decimal("10"), ge=0, le=100)

    # Telegram Stars top-ups: balance minor units (cents) credited per star, rounded down
    star_value_cents: Decimal = Field(Decimal("1.3"), gt=0, le=1000)
    topup_star_amounts: Annotated[tuple[int, ...], NoDecode] = (50, 100, 250, 500, 1000)
    # Cards and wallets through Telegram Payments (off without a token from @BotFather > Payments): invoices
    # in card_currency; card_rate units of the balance currency are credited per unit paid, rounded down.
    payments_provider_token: SecretStr = SecretStr("")
    card_currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    card_rate: Decimal = Field(Decimal("1"), gt=0, le=100000)
    card_amounts: Annotated[tuple[Decimal, ...], NoDecode] = (Decimal(5), Decimal(10), Decimal(20), Decimal(50))
    # Crypto through Crypto Pay (@CryptoBot > Crypto Pay > Create App; off without its token): invoices of the
    # amounts below in the balance currency, payable in any of the assets allowed, each open expires_in seconds;
    # confirmed by the signed webhook at cryptopay_webhook_path on the HTTP server, and polled as a fallback.
    cryptopay_token: SecretStr = SecretStr("")
    cryptopay_api_url: str = "https://pay.crypt.bot/api"
    cryptopay_assets: Annotated[tuple[str, ...], NoDecode] = ("USDT", "TON", "BTC")
    cryptopay_amounts: Annotated[tuple[Decimal, ...], NoDecode] = (Decimal(5), Decimal(10), Decimal(20), Decimal(50))
    cryptopay_expires_in: int = Field(3600, ge=60, le=2678400)  # Crypto Pay accepts 1..2678400 (31 days)
    cryptopay_webhook_path: str = Field("/cryptopay", pattern=r"^/[A-Za-z0-9_/-]{1,200}$")
    cryptopay_poll_interval: float = Field(30.0, ge=1, le=3600)

    # The pace of everything the bot sends (bot/outbound/pace.py), under Telegram's limits (30 new messages a second
    # per bot, about one a second per chat): new messages a second in all, and messages or edits a second per chat
    # with a burst of TELEGRAM_CHAT_BURST; a group's messages and edits a minute.
    telegram_messages_per_second: float = Field(28.0, gt=0)
    telegram_chat_rate: float = Field(0.9, gt=0)
    telegram_chat_burst: int = Field(2, ge=1)
    telegram_group_per_minute: int = Field(20, ge=1)

    # Background jobs
    poll_interval: float = Field(2.0, gt=0)
    # Seconds between edits of a broadcast's progress message in the operator's chat
    broadcast_progress_interval: float = Field(3.0, ge=1, le=60)

    # Per-user budget of taps and typed messages: a burst, then this many a second
    user_rate_per_second: float = Field(2.0, gt=0)
    user_rate_burst: int = Field(8, ge=1)
    # Seconds between presses of Refresh on one number (SMS history waits 3x that, Wake up 6x)
    action_cooldown: float = Field(10.0, ge=0)
    # Groups: a member's request for a number waits this long for an admin's decision, then expires (free).
    team_request_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    # Groups that delete codes after N minutes (their Settings): seconds between looks for code messages due
    code_hide_interval: float = Field(30.0, ge=1)
    # Alerts (🔔 from a plan list: a sold-out plan back in stock, a service under a price): at most this many open
    # per chat, each ending unfired after ALERT_HOURS; checked every ALERT_CHECK_SECONDS from the catalogue's
    # cached offers, at most ALERT_SERVICES_PER_CHECK services a round (one provider read per service, paced).
    alerts_per_chat: int = Field(5, ge=0, le=50)
    alert_hours: int = Field(24, ge=1, le=24 * 30)
    alert_check_seconds: float = Field(120.0, ge=10)
    alert_services_per_check: int = Field(20, ge=1, le=1000)
    # The fallback chain's step (bot/services/fallback_chain.py): how often open chains are moved on
    chain_step_seconds: float = Field(10.0, ge=1, le=300)
    # Forwarding codes per number (the card's "Forward codes"): host names a URL target may use although they
    # resolve to a private or loopback address, or over plain http (an operator's own receiver; the tests' server)
    forward_allowed_hosts: Annotated[frozenset[str], NoDecode] = frozenset()
    forward_timeout: float = Field(5.0, gt=0, le=60)  # seconds for each POST to a URL target

    # The bot's HTTP server (off when http_port is 0): Telegram's webhook, GetAText's, /healthz, /metrics
    http_host: str = Field("0.0.0.0", validation_alias=_renamed("http_host"))
    http_port: int = Field(0, ge=0, le=65535, validation_alias=_renamed("http_port"))
    # Reverse proxies in front: only from these peers is X-Forwarded-For believed
    http_trusted_proxies: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), validation_alias=_renamed("http_trusted_proxies"))
    # GetAText code webhook on that server (needs http_port): the secret part of its path, allowed sources
    getatext_webhook_secret: SecretStr = Field(SecretStr(""), validation_alias=_renamed("getatext_webhook_secret"))
    getatext_webhook_allowed_ips: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), validation_alias=_renamed("getatext_webhook_allowed_ips"))
    # Bearer token for /metrics; empty: /metrics is open
    metrics_token: SecretStr = SecretStr("")
    # Seconds a SIGTERM waits for updates and provider calls in flight, then for the outbox to drain
    shutdown_timeout: float = Field(20.0, ge=0, le=600)

    # Backups: an online copy every this many hours (0: off) into backup_dir, the newest backup_keep kept
    backup_interval_hours: float = Field(24.0, ge=0)
    backup_dir: Path = Path("data/backups")
    backup_keep: int = Field(7, ge=1, le=1000)

    @field_validator("admin_ids", "topup_star_amounts", "getatext_webhook_allowed_ips", "http_trusted_proxies",
                     "card_amounts", "cryptopay_assets", "cryptopay_amounts", "forward_allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value):
        """Lists come from the environment as 'a,b c'; pydantic then checks and converts each item."""
        if isinstance(value, str):
            return [part for part in re.split(r"[,\s]+", value.strip()) if part]
        return value

    @field_validator("forward_allowed_hosts")
    @classmethod
    def _lower_hosts(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(host.strip().lower().rstrip(".") for host in value if host.strip())

    @field_validator("getatext_long_prices", mode="before")
    @classmethod
    def _long_prices(cls, value):
        """'1w=10.55, 1m=34.99' -> {"1w": 10.55, "1m": 34.99}; the periods GetAText sells."""
        if isinstance(value, str):
            pairs = [part.split("=", 1) for part in re.split(r"[,\s]+", value.strip()) if part]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("write each period as PERIOD=PRICE, e.g. 1w=10.55,1m=34.99")
            value = {k.strip(): v.strip() for k, v in pairs}
        unknown = set(value) - {"1w", "2w", "1m", "1y"}
        if unknown:
            raise ValueError(f"periods are 1w, 2w, 1m and 1y; got {', '.join(sorted(unknown))}")
        return value

    @field_validator("getatext_long_prices")
    @classmethod
    def _long_prices_positive(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        if any(not 0 < price <= 100000 for price in value.values()):
            raise ValueError("each long-term price must be above 0")
        return value

    @field_validator("telegram_api_url", "gotsms_base_url", "getatext_base_url", "cryptopay_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("topup_star_amounts")
    @classmethod
    def _stars_per_invoice(cls, amounts: tuple[int, ...]) -> tuple[int, ...]:
        low, high = STARS_PER_INVOICE
        for amount in amounts:
            if not low <= amount <= high:
                raise ValueError(f"each amount must be {low}..{high} Stars, Telegram's range for one invoice; "
                                 f"got {amount}")
        return amounts

    @field_validator("card_amounts")
    @classmethod
    def _card_amounts(cls, amounts: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
        if not amounts or any(not 0 < a <= 10000 for a in amounts):
            raise ValueError("each amount must be above 0 and at most 10000 (in CARD_CURRENCY)")
        return amounts

    @field_validator("cryptopay_assets")
    @classmethod
    def _cryptopay_assets(cls, assets: tuple[str, ...]) -> tuple[str, ...]:
        assets = tuple(dict.fromkeys(a.strip().upper() for a in assets))
        if not assets or any(not re.fullmatch(r"[A-Z0-9]{2,10}", a) for a in assets):
            raise ValueError("expected asset codes as Crypto Pay writes them, e.g. USDT,TON,BTC")
        return assets

    @field_validator("cryptopay_amounts")
    @classmethod
    def _cryptopay_amounts(cls, amounts: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
        if not amounts or any(not 0 < a <= 25000 or a != a.quantize(Decimal("0.01")) for a in amounts):
            raise ValueError("each amount must be above 0 and at most 25000, in whole cents of the balance currency")
        return amounts

    @field_validator("cryptopay_webhook_path")
    @classmethod
    def _cryptopay_path(cls, path: str) -> str:
        path = path.rstrip("/") or path
        if path in ("/telegram", "/healthz", "/metrics") or path.startswith("/getatext"):
            raise ValueError("that path is taken by another route of the HTTP server; e.g. /cryptopay")
        return path

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip()
        return http_url(value, example="https://bot.example.com").rstrip("/") if value else ""

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value().strip()
        if secret and not TELEGRAM_SECRET_CHARS.fullmatch(secret):
            raise ValueError("expected 1..256 characters A-Z, a-z, 0-9, _ and - (Telegram's rule for secret_token)")
        return SecretStr(secret)

    @model_validator(mode="after")
    def _http_server_needed(self) -> Settings:
        """What is served on HTTP_PORT must have a port; half a setting used to switch a webhook off silently."""
        secret = self.getatext_webhook_secret.get_secret_value().strip()
        if secret and not self.http_port:
            raise ValueError("GETATEXT_WEBHOOK_SECRET is set but HTTP_PORT is 0: set HTTP_PORT to receive GetAText "
                             "codes by webhook, or leave GETATEXT_WEBHOOK_SECRET empty")
        if secret and (len(secret) < WEBHOOK_SECRET_MIN or not WEBHOOK_SECRET_CHARS.fullmatch(secret)):
            # The path is the only thing between the internet and pushing a code into a chat: not guessable.
            raise ValueError(f"GETATEXT_WEBHOOK_SECRET must be at least {WEBHOOK_SECRET_MIN} random URL-safe "
                             "characters; make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
        if self.public_url and not self.http_port:
            raise ValueError("PUBLIC_URL is set but HTTP_PORT is 0: Telegram's webhook needs the bot's HTTP server; "
                             "set HTTP_PORT (the port PUBLIC_URL reaches), or leave PUBLIC_URL empty to poll")
        return self

    @property
    def telegram_webhook(self) -> bool:
        """Webhook mode: Telegram posts updates; otherwise the bot polls."""
        return bool(self.public_url)

    @property
    def getatext_webhook(self) -> bool:
        return bool(self.http_port and self.getatext_webhook_secret.get_secret_value())

    @property
    def cryptopay_webhook(self) -> bool:
        """Crypto Pay's signed webhook is served (it needs the HTTP server); without it, polling alone confirms."""
        return bool(self.http_port and self.cryptopay_token.get_secret_value())

    def require_token(self) -> str:
        token = self.bot_token.get_secret_value().strip()
        if not token:
            raise ConfigError("BOT_TOKEN is not set: put BOT_TOKEN=<token from @BotFather> in .env or the environment.")
        if not TOKEN_PATTERN.match(token):
            raise ConfigError(
                "BOT_TOKEN is malformed: expected '<digits>:<secret>' as given by @BotFather; "
                "fix it in .env or the environment."
            )
        return token

    def secrets(self) -> list[str]:
        """Every secret value set, for masking in logs."""
        return [s.get_secret_value() for s in (self.bot_token, self.gotsms_api_key, self.getatext_api_key,
                                               self.getatext_webhook_secret, self.telegram_webhook_secret,
                                               self.metrics_token, self.payments_provider_token, self.cryptopay_token)
                if s.get_secret_value()]


def describe(err: ValidationError) -> str:
    """One line for the first problem; never the value (it may be a secret)."""
    first = err.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:  # a check across settings: its message names them
        return f"{message}."
    name = str(first["loc"][0]).upper()
    return f"{name} is invalid ({message}); fix it in .env or the environment."


KNOWN_NAMES = frozenset(name.upper() for name in Settings.model_fields)
# A variable with one of our prefixes is most likely meant for us (GOTSMS_APIKEY for GOTSMS_API_KEY).
OUR_PREFIXES = tuple(sorted({name.split("_")[0] + "_" for name in KNOWN_NAMES | RENAMED.keys()}))


def unknown_settings(environ: Mapping[str, str], env_file: Path | None) -> list[str]:
    """A warning line per variable that looks like ours but is no setting (a misspelling is ignored otherwise)."""
    sources = [("the environment", list(environ))]
    if env_file is not None and env_file.is_file():
        sources.insert(0, (str(env_file), list(dotenv_values(env_file))))
    warnings = []
    for where, names in sources:
        for name in names:
            upper = name.upper()
            if upper in RENAMED:
                warnings.append(f"{name} in {where} is now called {RENAMED[upper]}; the old name still works")
                continue
            if upper in KNOWN_NAMES or not upper.startswith(OUR_PREFIXES):
                continue
            close = difflib.get_close_matches(upper, KNOWN_NAMES | RENAMED.keys(), n=1)
            hint = f" (did you mean {RENAMED.get(close[0], close[0])}?)" if close else ""
            warnings.append(f"{name} in {where} is not a setting of this bot{hint}; it is ignored")
    return warnings
