"""The line as separate server processes (``python -m ivr serve``), and a TCP proxy in
front of PostgreSQL that a test can cut and restore, for faults a thread cannot fake."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests import privacy
from tests.clock import Clock
from tests.conftest import AUTH_TOKEN, SECRET_KEY, free_port

CLOCKED = Path(__file__).with_name("clocked.py")


class ServerProcess:
    """``ivr serve`` in a process of its own, its clock starting where the test's is,
    output to a file."""

    def __init__(
        self, database_url: str, public_url: str, log: Path, clock: Clock, **settings: Any
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        privacy.LOG_FILES.append(log)
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("IVR_")
        }
        environment |= {
            "IVR_DATABASE_URL": database_url,
            "IVR_PUBLIC_BASE_URL": public_url,
            "IVR_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "IVR_SECRET_KEY": SECRET_KEY,
            "IVR_DISPATCHER": "off",
        }
        environment |= {f"IVR_{name.upper()}": str(value) for name, value in settings.items()}
        with log.open("w") as output:
            self.process = subprocess.Popen(  # noqa: S603 - the project's own command
                [
                    sys.executable,
                    str(CLOCKED),
                    clock.now.isoformat(),
                    "serve",
                    "--port",
                    str(self.port),
                ],
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Worker:
    """An ``ivr worker`` process, its output going to a file (a pipe nobody reads would
    stop it once full); on ``clock`` when given, else on the real clock."""

    def __init__(self, environment: dict[str, str], log: Path, clock: Clock | None = None) -> None:
        self.log = log
        privacy.LOG_FILES.append(log)
        command = [sys.executable, "-m", "ivr", "worker"]
        if clock is not None:
            command = [sys.executable, str(CLOCKED), clock.now.isoformat(), "worker"]
        with log.open("w") as output:
            self.process = subprocess.Popen(  # noqa: S603 - the project's own command
                command, env=environment, stdout=output, stderr=subprocess.STDOUT
            )

    def stop(self, number: int = signal.SIGTERM) -> str:
        """Signal the worker, wait for it to end, and return what it printed."""
        self.process.send_signal(number)
        self.process.wait(timeout=30)
        return self.log.read_text()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode


def at_once(
    urls: list[str], send: Callable[[httpx.Client], httpx.Response]
) -> list[httpx.Response]:
    """``send`` to each of ``urls`` at the same moment, each from a thread and a client of
    its own."""
    barrier = threading.Barrier(len(urls))
    answers: list[httpx.Response] = []

    def deliver(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            barrier.wait()
            answers.append(send(client))

    threads = [threading.Thread(target=deliver, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


class TcpProxy:
    """Forwards a local port to ``target``; ``cut()`` drops every connection and refuses
    new ones (the database is gone), ``restore()`` listens again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.restore()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def restore(self) -> None:
        self._call(self._listen())

    def cut(self) -> None:
        self._call(self._close())

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        self.writers -= {writer, upstream_writer}


def refused_quickly(host: str = "127.0.0.1") -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port
