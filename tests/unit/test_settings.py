"""Settings: development works out of the box; production refuses known secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ivr.settings import DEVELOPMENT_AUTH_TOKEN, Settings
from ivr.store.db import async_url, sync_url

STRONG = "s3cret-" + "x" * 40


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_development_needs_nothing() -> None:
    settings = _settings()
    assert settings.env == "development"
    assert settings.database_url.startswith("sqlite")
    assert str(settings.horizon) == "90 days"


def test_production_with_real_secrets() -> None:
    settings = _settings(
        env="production",
        secret_key=STRONG,
        twilio_auth_token="a" * 32,
        public_base_url="https://line.example.org/",
    )
    assert settings.public_base_url == "https://line.example.org"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"twilio_auth_token": "a" * 32, "public_base_url": "https://x.example"}, "IVR_SECRET_KEY"),
        ({"secret_key": STRONG, "public_base_url": "https://x.example"}, "IVR_TWILIO_AUTH_TOKEN"),
        (
            {
                "secret_key": STRONG,
                "twilio_auth_token": DEVELOPMENT_AUTH_TOKEN,
                "public_base_url": "https://x.example",
            },
            "IVR_TWILIO_AUTH_TOKEN",
        ),
        (
            {
                "secret_key": "changeme",
                "twilio_auth_token": "a" * 32,
                "public_base_url": "https://x.example",
            },
            "IVR_SECRET_KEY",
        ),
        (
            {
                "secret_key": "short",
                "twilio_auth_token": "a" * 32,
                "public_base_url": "https://x.example",
            },
            "32 characters",
        ),
        ({"secret_key": STRONG, "twilio_auth_token": "a" * 32}, "IVR_PUBLIC_BASE_URL"),
    ],
)
def test_production_refuses_missing_or_placeholder_secrets(
    values: dict[str, object], named: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        _settings(env="production", **values)
    assert named in str(raised.value)
    for secret in (STRONG, "a" * 32):
        assert secret not in str(raised.value), "a secret is never printed"


@pytest.mark.parametrize(
    ("environment", "written"),
    [
        ({"IVR_HORIZON": "6 months"}, "6 months"),
        ({"IVR_HORIZON": "12 Weeks"}, "12 weeks"),
        ({"IVR_HORIZON": "30"}, "30 days"),
        ({"IVR_HORIZON_DAYS": "45"}, "45 days"),
        ({"IVR_HORIZON": "3 months", "IVR_HORIZON_DAYS": "45"}, "3 months"),
    ],
)
def test_the_horizon_is_set_in_days_weeks_or_months(
    environment: dict[str, str], written: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert str(_settings().horizon) == written


@pytest.mark.parametrize(
    ("value", "says"),
    [("6 moons", "days, weeks or months"), ("-1 days", "is not a horizon"), ("121 months", "ten")],
)
def test_a_horizon_that_means_nothing_is_refused_with_the_way_to_write_it(
    value: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_HORIZON", value)
    with pytest.raises(ValidationError) as raised:
        _settings()
    assert "IVR_HORIZON" in str(raised.value)
    assert says in str(raised.value)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError):
        _settings(timezone="Europe/Atlantis")


@pytest.mark.parametrize(
    ("configured", "for_the_server"),
    [
        (
            "postgresql+psycopg://ivr:secret@db.example.org:5432/ivr",
            "postgresql+asyncpg://ivr:secret@db.example.org:5432/ivr",
        ),
        (
            "postgres://ivr@db.example.org/ivr?sslmode=verify-full&connect_timeout=10",
            "postgresql+asyncpg://ivr@db.example.org/ivr?ssl=verify-full",
        ),
    ],
)
def test_the_server_reaches_postgresql_through_asyncpg(
    configured: str, for_the_server: str
) -> None:
    assert async_url(configured).render_as_string(hide_password=False) == for_the_server
    assert sync_url(configured).drivername == "postgresql+psycopg"
