"""One settings object for the whole process, read from KEFU_* variables or `.env`."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# Values that mean "nobody chose a key": refused outside development.
DEFAULT_SECRET_KEYS = {"", "change-me", "changeme", "secret", "dev", "development"}


class ConfigurationError(RuntimeError):
    """The process cannot start with these settings; the message says what to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEFU_", env_file=".env", extra="ignore")

    env: Literal["production", "development"] = "production"
    database_url: str = "sqlite:///./kefu.db"
    secret_key: SecretStr | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    public_url: str = "http://127.0.0.1:8000"
    # Development only: run the clock from a chosen instant, or shifted by seconds.
    clock_start: datetime | None = None
    clock_offset: float = 0.0
    poll_interval_s: float = 60.0
    # A human session without any event for this long is checked with service_state/get: WeCom
    # ends sessions 48 h after their last event without telling, and a stale one counts as load.
    reconcile_human_after_h: float = Field(default=12.0, gt=0)
    # Delete the bodies of messages older than this many days (rows and counts stay); None: keep.
    retain_message_days: int | None = Field(default=None, ge=1)
    # Items asked per kf/sync_msg call (WeCom's maximum is 1000); each page is one transaction.
    sync_page_limit: int = Field(default=1000, ge=1, le=1000)
    callback_max_body_bytes: int = 64 * 1024
    # A callback whose signed timestamp is further than this from Kefu's clock is refused (403);
    # within it, the same signed request seen again is a replay (answered, nothing stored).
    callback_timestamp_window_s: int = Field(default=3600, ge=1)
    wecom_timeout_s: float = 10.0
    # Jobs a worker runs at once (`kefu serve`'s own, and `kefu worker`'s default). Most of a
    # job's time is a WeCom call in flight (sync_msg, send_msg, customer/batchget), not CPU: at
    # 100 ms a call, 4 slots would cap an account's answers near 13 a second whatever the CPU.
    worker_concurrency: int = Field(default=16, ge=1)
    # /metrics answers only `Authorization: Bearer <this>`; unset, /metrics is not served (404).
    # A token of its own, not an API token: those may change everything, a scraper only reads.
    metrics_token: SecretStr | None = None
    # /readyz fails while an enabled, authorised account has not been pulled for this long
    # (every account is pulled at least every KEFU_POLL_INTERVAL_S), or while no worker has
    # renewed its heartbeat (every few seconds) for KEFU_READY_WORKER_MAX_AGE_S.
    ready_max_sync_lag_s: float = Field(default=900.0, gt=0)
    ready_worker_max_age_s: float = Field(default=60.0, gt=0)
    # The outgoing webhook (kefu.crm.webhooks): events POSTed here, signed with the secret.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("public_url", "wecom_api_base")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        # Without a scheme the callback URL printed for WeCom would be a bare path.
        if not value.startswith(("http://", "https://")) or not value.split("://", 1)[1].strip("/"):
            raise ValueError("an http:// or https:// address, e.g. https://kefu.example.com")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("database_url")
    @classmethod
    def _sqlite_or_postgresql(cls, value: str) -> str:
        # Checked here, so a typo is one line naming the variable, not a driver's traceback.
        try:
            driver = make_url(value).drivername
        except ArgumentError:
            driver = ""
        if not driver.startswith(("sqlite", "postgres")):
            raise ValueError(
                "not a SQLite or PostgreSQL URL; e.g. sqlite:///./kefu.db or "
                "postgresql+psycopg://user:pass@host:5432/kefu"
            )
        return value

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def check(self) -> None:
        """Refuse settings that are unsafe outside development."""
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        # Also the deploy sample's placeholder (docs/deploy/kefu.env.example), left as it was.
        placeholder = key.strip().lower() in DEFAULT_SECRET_KEYS or "change-me" in key.lower()
        if not self.is_development and placeholder:
            raise ConfigurationError(
                "KEFU_SECRET_KEY is missing or a default value; set a long random value "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
                "or set KEFU_ENV=development for a trial."
            )
        if self.webhook_url and not (self.webhook_secret and self.webhook_secret.get_secret_value()):
            raise ConfigurationError("KEFU_WEBHOOK_URL is set without KEFU_WEBHOOK_SECRET to sign with.")
        if not self.is_development and (self.clock_start or self.clock_offset):
            raise ConfigurationError("KEFU_CLOCK_START / KEFU_CLOCK_OFFSET are for development only.")

    def secret_key_bytes(self) -> bytes:
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        return (key or "development-only-secret-key").encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
