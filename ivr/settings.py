"""Settings, read once from the environment (prefix ``IVR_``) or a ``.env`` file."""

from __future__ import annotations

from datetime import date, time
from functools import cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ivr.domain.absence import Horizon
from ivr.domain.countries import COUNTRIES

# Development values: known to everyone, so refused outside development.
DEVELOPMENT_SECRET_KEY = "development-secret-key-not-for-production"  # noqa: S105 - public on purpose
DEVELOPMENT_AUTH_TOKEN = "development-auth-token"  # noqa: S105 - public on purpose
_PLACEHOLDERS = frozenset(
    {"", "changeme", "change-me", "secret", "placeholder", "xxx", "todo", "your-auth-token"}
)


class InsecureSettings(ValueError):
    pass


class VoiceSetting(BaseModel):
    """``IVR_VOICES`` for one language: a Twilio voice, and its language when it speaks
    another variant than the catalogue (``{"voice": "Polly.Joanna-Neural", "language":
    "en-US"}``); a plain string is a voice alone."""

    voice: str
    language: str | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IVR_", env_file=".env", extra="ignore", populate_by_name=True
    )

    env: Literal["development", "production"] = "development"
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    database_url: str = "sqlite:///ivr.db"
    public_base_url: str = "http://127.0.0.1:8000"

    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr(DEVELOPMENT_AUTH_TOKEN)
    twilio_messaging_service_sid: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"
    sms_from: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_from: str = ""
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = True
    smtp_connections: int = Field(default=4, ge=1, le=50)

    # The confirmation dispatcher.
    dispatcher: Literal["auto", "on", "off"] = "auto"
    sms_per_second: float = Field(default=20.0, ge=0)
    sms_concurrency: int = Field(default=20, ge=1, le=200)
    email_per_second: float = Field(default=20.0, ge=0)
    send_timeout_seconds: float = Field(default=15.0, gt=0)
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_max_age_hours: float = Field(default=24.0, gt=0)
    outbox_lease_seconds: float = Field(default=120, gt=0)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    outbox_batch: int = Field(default=100, ge=1, le=1000)

    timezone: str = "Europe/Stockholm"
    language: str = "sv"
    catalogue_dir: Path | None = None
    # The country of new organisations (SE, NO): how pupils are identified, how dates are
    # keyed, and whose public holidays are not school days (on the line and the staff page).
    country: str = "SE"
    # The voice per language, overriding the catalogue's meta.voice (JSON).
    voices: dict[str, VoiceSetting] = Field(default_factory=dict)

    # Missing pupils: the guardians are called and sent an SMS at once; nobody answering
    # within the escalation time raises the alert; each unanswered guardian is called
    # once more after the recall time. Calls are paced across all workers together.
    missing_escalate_minutes: int = Field(default=30, ge=1, le=24 * 60)
    missing_recall_minutes: int = Field(default=10, ge=1, le=24 * 60)
    calls_per_second: float = Field(default=1.0, gt=0, le=100)
    call_from: str = ""  # the number outreach calls come from; IVR_SMS_FROM when empty

    # The school's own system (SS 12000): where `ivr worker` syncs the roster from, how it
    # signs in (OAuth 2.0 client credentials, or a bearer token; optionally a TLS client
    # certificate), which relations make a guardian, and when it runs: a full sync daily
    # at ``sync_at`` (the organisation's time zone) and a delta every ``sync_delta_minutes``.
    ss12000_url: str = ""
    ss12000_token_url: str = ""
    ss12000_client_id: str = ""
    ss12000_client_secret: SecretStr = SecretStr("")
    ss12000_scope: str = ""
    ss12000_bearer_token: SecretStr = SecretStr("")
    ss12000_client_cert: Path | None = None
    ss12000_client_key: Path | None = None
    ss12000_ca_file: Path | None = None
    ss12000_timeout_seconds: float = Field(default=30.0, gt=0)
    ss12000_page_size: int = Field(default=1000, ge=1, le=10000)
    ss12000_guardian_relations: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["Vårdnadshavare"]
    )
    sync_at: time | None = time(5, 30)
    sync_delta_minutes: int = Field(default=15, ge=0, le=24 * 60)
    # A run (SS 12000 or `roster import --full`) that would deactivate more than this share
    # of a school's pupils writes nothing unless forced: a broken export must not empty
    # the line.
    sync_max_removals_percent: float = Field(default=10.0, ge=0, le=100)

    # Absence events POSTed to the endpoints schools register (`ivr webhook add`).
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_concurrency: int = Field(default=8, ge=1, le=100)

    # Staff who sign in to /staff with their organisation's account (``ivr org oidc``): a
    # session unused this long is over; the ID token's times are checked with this much
    # tolerance for the provider's clock; how long the provider may take to answer.
    staff_session_minutes: int = Field(default=480, ge=1, le=7 * 24 * 60)
    oidc_leeway_seconds: int = Field(default=120, ge=0, le=600)
    oidc_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    # The staff feed: when contact teachers get the day's digest (in the organisation's
    # time zone). School days are the organisation's country's (``ivr org add --country``).
    digest_time: time = time(7, 45)

    # How far ahead a guardian may report: "90 days", "12 weeks", "6 months" (calendar
    # months). IVR_HORIZON_DAYS, a number of days, is the older name of the same setting.
    horizon: Annotated[Horizon, NoDecode] = Field(
        default=Horizon(90), validation_alias=AliasChoices("IVR_HORIZON", "IVR_HORIZON_DAYS")
    )
    allow_hidden_caller_id: bool = False
    gather_timeout_seconds: int = Field(default=5, ge=1, le=30)
    max_failures: int = Field(default=3, ge=1, le=10)
    max_unknown_pupils_per_call: int = Field(default=3, ge=1, le=20)
    max_unknown_pupils_per_caller: int = Field(default=10, ge=1)
    unknown_pupils_window_minutes: int = Field(default=60, ge=1)
    webhook_deadline_seconds: float = Field(default=2.5, gt=0, le=10)
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)
    call_retention_days: int = Field(default=30, ge=1)
    absence_retention_days: int = Field(default=400, ge=1)
    log_format: Literal["json", "text"] = "json"
    # The webhooks' statements straight to the driver (ivr.store.driver); false sends them
    # through SQLAlchemy's own execution, for diagnosis.
    driver_statements: bool = True

    @field_validator("ss12000_guardian_relations", mode="before")
    @classmethod
    def _relations(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("sync_at", mode="before")
    @classmethod
    def _sync_at(cls, value: object) -> object:
        return None if value in ("", "off", "never") else value

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("horizon", mode="before")
    @classmethod
    def _horizon(cls, value: object) -> Horizon:
        horizon = value if isinstance(value, Horizon) else Horizon.parse(str(value))
        longest = Horizon(10 * 366)
        probe = date(2000, 1, 31)
        if horizon.last_day(probe) > longest.last_day(probe):
            raise ValueError(f"a horizon of {horizon} is longer than ten years")
        return horizon

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("country")
    @classmethod
    def _country_with_rules(cls, value: str) -> str:
        code = value.strip().upper()
        if code not in COUNTRIES:
            raise ValueError(f"no rules for country {value!r}; known: {', '.join(COUNTRIES)}")
        return code

    @field_validator("voices", mode="before")
    @classmethod
    def _voice_names(cls, value: object) -> object:
        if isinstance(value, dict):
            return {
                language: {"voice": choice} if isinstance(choice, str) else choice
                for language, choice in value.items()
            }
        return value

    @model_validator(mode="after")
    def _secrets_outside_development(self) -> Settings:
        if self.env == "development":
            return self
        weak = [
            name
            for name, value, development_value in (
                ("IVR_SECRET_KEY", self.secret_key, DEVELOPMENT_SECRET_KEY),
                ("IVR_TWILIO_AUTH_TOKEN", self.twilio_auth_token, DEVELOPMENT_AUTH_TOKEN),
            )
            if value.get_secret_value().strip().lower() in _PLACEHOLDERS
            or value.get_secret_value() == development_value
        ]
        if len(self.secret_key.get_secret_value()) < 32 and "IVR_SECRET_KEY" not in weak:
            weak.append("IVR_SECRET_KEY (at least 32 characters)")
        if self.smtp_username and self.smtp_password.get_secret_value().lower() in _PLACEHOLDERS:
            weak.append("IVR_SMTP_PASSWORD")
        if "public_base_url" not in self.model_fields_set:
            weak.append("IVR_PUBLIC_BASE_URL (the https address the provider calls)")
        if weak:
            raise InsecureSettings(
                f"{self.env}: set real values for {', '.join(weak)}; development values "
                "and placeholders are refused outside development"
            )
        return self

    @property
    def sms_configured(self) -> bool:
        return bool(
            self.twilio_account_sid and (self.sms_from or self.twilio_messaging_service_sid)
        )

    @property
    def calls_configured(self) -> bool:
        return bool(self.twilio_account_sid and (self.call_from or self.sms_from))

    @property
    def email_configured(self) -> bool:
        return bool(self.smtp_host and self.smtp_from)

    @property
    def personal_number_key(self) -> bytes:
        return self.secret_key.get_secret_value().encode()


@cache
def get_settings() -> Settings:
    return Settings()
