"""Settings from the environment and `.env`. Secrets are SecretStr: never printed."""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing import Annotated

TOKEN_PATTERN = re.compile(r"^\d{5,16}:[A-Za-z0-9_-]{30,}$")


class ConfigError(Exception):
    """A setting is missing or wrong; the message says what to set and where."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Telegram
    bot_token: SecretStr = SecretStr("")
    telegram_api_url: str = "https://api.telegram.org"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()

    # Storage
    database_path: Path = Path("data/bot.sqlite3")

    # Providers: a provider is enabled when its key is set
    gotsms_api_key: SecretStr = SecretStr("")
    gotsms_base_url: str = "https://app.gotsms.org"
    getatext_api_key: SecretStr = SecretStr("")
    getatext_base_url: str = "https://getatext.com"
    provider_timeout: float = Field(15.0, gt=0)

    # Money
    markup_percent: Decimal = Field(Decimal("20"), ge=0, le=1000)
    currency: str = "USD"

    # Telegram Stars top-ups: balance minor units (cents) credited per star, rounded down
    star_value_cents: Decimal = Field(Decimal("1.3"), gt=0, le=1000)
    topup_star_amounts: Annotated[tuple[int, ...], NoDecode] = (50, 100, 250, 500, 1000)

    # Background jobs
    poll_interval: float = Field(2.0, gt=0)

    # Per-user budget of taps and typed messages: a burst, then this many a second
    user_rate_per_second: float = Field(2.0, gt=0)
    user_rate_burst: int = Field(8, ge=1)
    # Seconds between presses of Refresh on one number (SMS history waits 3x that, Wake up 6x)
    action_cooldown: float = Field(10.0, ge=0)

    # GetAText webhook receiver (off when webhook_port is 0)
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(0, ge=0, le=65535)
    webhook_secret: SecretStr = SecretStr("")
    webhook_allowed_ips: Annotated[frozenset[str], NoDecode] = frozenset()

    @field_validator("admin_ids", "topup_star_amounts", "webhook_allowed_ips", mode="before")
    @classmethod
    def _split_list(cls, value):
        """Lists come from the environment as 'a,b c'; pydantic then checks and converts each item."""
        if isinstance(value, str):
            return [part for part in re.split(r"[,\s]+", value.strip()) if part]
        return value

    def require_token(self) -> str:
        token = self.bot_token.get_secret_value().strip()
        if not token:
            raise ConfigError("BOT_TOKEN is not set: put BOT_TOKEN=<token from @BotFather> in .env or the environment.")
        if not TOKEN_PATTERN.match(token):
            raise ConfigError(
                "BOT_TOKEN is malformed: expected '<digits>:<secret>' as given by @BotFather; fix it in .env or the environment."
            )
        return token
