"""The one settings object: read from the environment or a .env file, validated once."""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.i18n import SHIPPED_LOCALES

TOKEN_PATTERN = re.compile(r"^\d{3,12}:[A-Za-z0-9_-]{30,64}$")
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
WEBHOOK_URL_PATTERN = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""


class Settings(BaseSettings):
    """Passaparola's configuration. Every field has a default the demo can run with."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    bot_token: str = ""
    database_url: str = "sqlite+aiosqlite:///data/passaparola.db"
    admin_ids: Annotated[frozenset[int], NoDecode] = Field(default_factory=frozenset)
    default_locale: str = "en"
    bot_api_url: str = "https://api.telegram.org"
    log_level: str = "INFO"
    reply_rate: float = 30.0  # messages per second to Telegram overall; 0 turns the limit off
    delivery_rate: float = Field(default=25.0, ge=0)  # queued messages per second; 0: no limit
    # Sends whose outcome is not recorded yet: more keeps a high rate steady, and at most these
    # can be sent twice after a crash.
    delivery_max_in_flight: int = Field(default=16, ge=1)
    delivery_retry_seconds: float = Field(default=10.0, gt=0)  # after a transient error; doubles
    flood_max_updates: int = Field(default=20, ge=0)  # per person per FLOOD_PERIOD; 0 = off
    flood_period: float = Field(default=10.0, gt=0)  # seconds
    retention_days: int = Field(default=365, ge=1)  # inactive people are forgotten after this
    submissions_per_day: int = Field(default=3, ge=1)  # opportunities one person may suggest a day
    timezone: str = "Europe/Rome"  # the city's: dates are shown and entered in it
    webhook_url: str = ""  # the public HTTPS URL Telegram posts updates to (`webhook` command)
    webhook_secret: str = ""  # Telegram sends it with every update; random at each start if unset
    webhook_listen: str = "127.0.0.1"  # where the webhook server listens (behind a proxy)
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    metrics_listen: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)  # /healthz, /metrics; off

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(part.isdigit() for part in parts):
                raise ValueError(
                    "ADMIN_IDS must be comma-separated Telegram user ids, e.g. 123,456"
                )
            return frozenset(int(part) for part in parts)
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"DATABASE_URL {value!r} is not a database URL") from None
        if url.drivername not in SUPPORTED_DRIVERS:
            raise ValueError(
                f"DATABASE_URL must start with one of {', '.join(SUPPORTED_DRIVERS)}; "
                f"got {url.drivername!r}"
            )
        return value

    @field_validator("default_locale")
    @classmethod
    def _check_default_locale(cls, value: str) -> str:
        if value not in SHIPPED_LOCALES:
            raise ValueError(
                f"DEFAULT_LOCALE {value!r} is not shipped; "
                f"choose one of {', '.join(SHIPPED_LOCALES)}"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("bot_api_url")
    @classmethod
    def _check_bot_api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("BOT_API_URL must be an http(s) URL, e.g. https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"TIMEZONE {value!r} is not a time zone, e.g. Europe/Rome") from None
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str) -> str:
        if value and not WEBHOOK_URL_PATTERN.match(value):
            raise ValueError(
                "WEBHOOK_URL must be an https URL with no query, e.g. https://bot.example.org/telegram"
            )
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: str) -> str:
        if value and not WEBHOOK_SECRET_PATTERN.match(value):
            raise ValueError(
                "WEBHOOK_SECRET must be 1-256 characters, only letters, digits, '_' and '-'"
            )
        return value

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _empty_metrics_port(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def zone(self) -> ZoneInfo:
        """The city's time zone."""
        return ZoneInfo(self.timezone)

    def require_token(self) -> str:
        """Return BOT_TOKEN, or raise a ConfigError that says how to get a good one."""
        if not self.bot_token:
            raise ConfigError(
                "BOT_TOKEN is not set. Create a bot with @BotFather on Telegram and put its token "
                "in the environment or in .env (BOT_TOKEN=123456789:AA...). "
                "To try Passaparola without a token, run `make demo`."
            )
        if not TOKEN_PATTERN.match(self.bot_token):
            raise ConfigError(
                "BOT_TOKEN looks malformed: a token is digits, a colon, then 30-64 letters, "
                "digits, '_' or '-' (as @BotFather gives it)."
            )
        return self.bot_token

    def require_webhook_url(self) -> str:
        """Return WEBHOOK_URL, or raise a ConfigError that says what it must be."""
        if not self.webhook_url:
            raise ConfigError(
                "WEBHOOK_URL is not set: give the public https URL that Telegram should post "
                "updates to, e.g. WEBHOOK_URL=https://bot.example.org/telegram "
                "(or poll Telegram instead: `python -m bot run`)."
            )
        return self.webhook_url


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"]).upper() or "settings"
            message = str(problem["msg"]).removeprefix("Value error, ")
            lines.append(f"{field}: {message}")
        raise ConfigError("; ".join(lines)) from None
