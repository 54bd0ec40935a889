"""Fixtures: databases (SQLite and PostgreSQL), a live server, a seeded roster."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
import uvicorn

from ivr.devtools.providers import FakeTwilio, HttpServer, SmtpServer, SmtpSink
from ivr.settings import Settings, get_settings
from ivr.store import migrate
from ivr.store.db import sync_url
from ivr.store.models import Base
from tests import privacy
from tests.clock import DEFAULT, MATRIX, Clock
from tests.providers import ACCOUNT_SID, Providers
from tests.roster_data import seed_roster

if TYPE_CHECKING:
    from tests.staff import Staff

POSTGRES_ADMIN_URL = os.environ.get(
    "IVR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
AUTH_TOKEN = "test-auth-token"
SECRET_KEY = "test-secret-key-of-sufficient-length-123"


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(privacy.COLLECTOR)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


_LEAKS_FROM_WORKERS: list[str] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The privacy check of the whole run: no personal number whole in any log. Each
    pytest-xdist worker hands what it found to the controller, which reports it all."""
    found = privacy.leaks()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["privacy_leaks"] = found
        return
    found += _LEAKS_FROM_WORKERS
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("Personal numbers found whole in the logs:", red=True)
            for line in found[:20]:
                reporter.write_line(f"  {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    _LEAKS_FROM_WORKERS.extend(getattr(node, "workeroutput", {}).get("privacy_leaks", []))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--databases",
        default=os.environ.get("IVR_TEST_DATABASES", "sqlite,postgresql"),
        help="comma-separated: sqlite, postgresql",
    )
    parser.addoption(
        "--moments",
        default="",
        help="comma-separated names of tests/clock.py's MATRIX: run the dated tests only at "
        "these moments (default: all)",
    )


def _postgres_reachable() -> str | None:
    try:
        engine = sa.create_engine(sync_url(POSTGRES_ADMIN_URL))
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
    except (sa.exc.SQLAlchemyError, OSError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = [name.strip() for name in metafunc.config.getoption("--databases").split(",")]
        only = metafunc.definition.get_closest_marker("backends")
        if only is not None:
            backends = [name for name in backends if name in only.args]
        metafunc.parametrize("backend", [name for name in backends if name], scope="session")
    if metafunc.definition.get_closest_marker("dated") is not None:
        if "clock" not in metafunc.fixturenames:
            raise pytest.UsageError(f"{metafunc.definition.nodeid} is dated but uses no clock")
        chosen = {name for name in metafunc.config.getoption("--moments").split(",") if name}
        unknown = chosen - {moment.name for moment in MATRIX}
        if unknown:
            raise pytest.UsageError(f"--moments: no moment {', '.join(sorted(unknown))}")
        moments = [moment for moment in MATRIX if not chosen or moment.name in chosen]
        metafunc.parametrize(
            "clock", [moment.at for moment in moments], ids=[m.name for m in moments], indirect=True
        )


@pytest.fixture(scope="session")
def _postgres_template(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL database of this test run, migrated once; dropped at the end."""
    problem = _postgres_reachable()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    name = f"ivr_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(sync_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sync_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database of ``backend`` for one test."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "ivr.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("_postgres_template")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[sa.Engine]:
    """A blocking engine on the test database, for looking at what was recorded."""
    engine = sa.create_engine(sync_url(database_url))
    yield engine
    engine.dispose()


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Iterator[Clock]:
    """The test's clock (tests/clock.py): ``DEFAULT``, or for a ``dated`` test each moment
    of the matrix in turn."""
    running = Clock(getattr(request, "param", DEFAULT))
    yield running
    running.stop()


def make_settings(
    database_url: str, base_url: str = "http://127.0.0.1:8000", **extra: Any
) -> Settings:
    """Settings for a test server: no environment, no .env file, no dispatcher unless asked."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "public_base_url": base_url,
        "twilio_auth_token": AUTH_TOKEN,
        "secret_key": SECRET_KEY,
        "dispatcher": "off",
    }
    return Settings(_env_file=None, **(values | extra))


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The environment of an ``ivr`` command run against the test database."""
    monkeypatch.setenv("IVR_DATABASE_URL", database_url)
    monkeypatch.setenv("IVR_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("IVR_SECRET_KEY", SECRET_KEY)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


@dataclass
class LiveServer:
    url: str
    settings: Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server_settings() -> dict[str, object]:
    """Settings a test module may override for its live server."""
    return {}


@pytest.fixture
def live_server(
    database_url: str, clock: Clock, server_settings: dict[str, object]
) -> Iterator[LiveServer]:
    """The real application on a real socket, with the seeded roster."""
    from ivr.app import create_app

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = make_settings(database_url, base_url, **server_settings)
    seed_roster(settings, clock.now.date())
    app = create_app(settings, clock=clock)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    yield LiveServer(base_url, settings)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def providers() -> Iterator[Providers]:
    """A local Twilio Messages API and SMTP server, each on a free port."""
    twilio = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    twilio_server = HttpServer(twilio.app(), free_port())
    twilio_server.start()
    smtp = SmtpServer(SmtpSink(), free_port())
    smtp.start()
    yield Providers(twilio, twilio_server, smtp)
    smtp.stop()
    twilio_server.stop()


@pytest.fixture
def solskolan(live_server: LiveServer) -> Iterator[Staff]:
    """Staff with a token for Solskolan (Alva, Bo, David) of Testkommun."""
    from tests.staff import Staff, issue_token

    staff = Staff(live_server, issue_token(live_server.settings, "Solskolan", label="Solskolan"))
    yield staff
    staff.close()


@pytest.fixture
def ekskolan(live_server: LiveServer) -> Iterator[Staff]:
    """Staff with a token for Ekskolan (Celia, Emil) of Testkommun."""
    from tests.staff import Staff, issue_token

    staff = Staff(live_server, issue_token(live_server.settings, "Ekskolan", label="Ekskolan"))
    yield staff
    staff.close()
