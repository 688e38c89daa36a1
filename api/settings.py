"""Service settings (pydantic-settings, prefix ``SEALTRUST_``).

Defaults serve the embedded deployment under ``home``; outside development
mode, settings that would be unsafe (default secrets) are refused at start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "development-only-secret"  # noqa: S105 - refused outside development mode


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="SEALTRUST_", extra="ignore")

    home: Path = Path(".sealtrust")
    mode: Literal["development", "production"] = "development"
    database_url: str | None = None  # read through api.deployment.Home (same variable)
    secret_key: str = DEV_SECRET
    host: str = "127.0.0.1"
    port: int = 8080
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_files_per_request: int = Field(default=100, gt=0)
    request_timeout_s: float = Field(default=30.0, gt=0)
    # Public endpoints, per client per fixed window, counted in rate_windows (api.ratelimit).
    rate_limit_paths: tuple[str, ...] = ("/verify", "/v1/qr/", "/v1/trust/", "/v1/verify/file",
                                         "/v1/cases/")
    rate_limit_requests: int = Field(default=600, gt=0)
    rate_limit_window_s: int = Field(default=60, gt=0)
    rate_limit_batch: int = Field(default=20, gt=0)  # 1 = one database upsert per request
    rate_limit_flush_ms: int = Field(default=100, ge=0)
    # The outbox worker (api.worker): a thread in each serve process unless off; notifier.
    worker: bool = True
    worker_idle_s: float = Field(default=1.0, gt=0)
    notifier: Literal["log", "webhook"] = "log"
    notify_webhook_url: str | None = None
    notify_webhook_secret: str | None = None  # >= 16 bytes; signs the webhook bodies
    # The daily lifecycle run (api.lifecycle_schedule): expire what is due and queue expiry
    # notices this many days ahead (0: none); HH:MM China time, or "off". One process of
    # all nodes runs each day (claimed in the registry).
    lifecycle_daily_at: str = "02:00"
    expiry_notice_days: int = Field(default=30, ge=0, le=366)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.mode == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("SEALTRUST_SECRET_KEY must be set in production mode")
        daily = self.lifecycle_daily_at.strip().lower()
        if daily != "off" and not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", daily):
            raise ValueError("SEALTRUST_LIFECYCLE_DAILY_AT must be HH:MM (China time) or off")
        if self.notifier == "webhook" and not (self.notify_webhook_url
                                               and self.notify_webhook_secret):
            raise ValueError("the webhook notifier needs SEALTRUST_NOTIFY_WEBHOOK_URL and "
                             "SEALTRUST_NOTIFY_WEBHOOK_SECRET")
        return self
