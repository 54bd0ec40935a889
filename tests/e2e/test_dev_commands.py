"""``python3 dev.py line`` as a person runs it: text logs in the terminal, and no server
left behind when a process manager or a closed terminal stops it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests import privacy
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _answers(port: int) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    return False


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_dev_line_shows_text_logs_and_takes_its_server_down_with_it(
    tmp_path: Path, stop_with: signal.Signals
) -> None:
    port = free_port()
    log = tmp_path / "line.log"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("IVR_")}
    environment["IVR_DATABASE_URL"] = f"sqlite:///{tmp_path / 'line.db'}"
    with log.open("w") as output:
        line = subprocess.Popen(  # noqa: S603 - the project's own script
            [sys.executable, str(ROOT / "dev.py"), "line", "--port", str(port)],
            cwd=tmp_path,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while not _answers(port):
            assert line.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the line did not come up"
            time.sleep(0.1)

        line.send_signal(stop_with)
        assert line.wait(timeout=30) == 0
        assert not _listening(port), "the server outlived dev.py"
    finally:
        if line.poll() is None:
            line.kill()

    text = log.read_text()
    started = f"The line answers on http://127.0.0.1:{port}"
    assert started in text
    # Before that the demo prints its pupils' numbers on purpose; after it, the server logs.
    server_log = tmp_path / "server.log"
    server_log.write_text(text.split(started, 1)[1])
    privacy.LOG_FILES.append(server_log)
    logged = [entry for entry in text.splitlines() if " INFO " in entry]
    assert logged, text[-3000:]
    assert not any(entry.lstrip().startswith("{") for entry in text.splitlines()), "no JSON"
