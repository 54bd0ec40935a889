"""The server, the baseline and the ivr commands as processes."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bench.config import AUTH_TOKEN, HOST, IVR, SECRET_KEY, TIMEZONE
from bench.sampling import descendants


class BenchError(RuntimeError):
    """The benchmark could not run: a command failed or a server did not come up."""


def read_memory_mb(pid: int, field_name: str) -> float | None:
    """``VmRSS`` (now) or ``VmHWM`` (peak) in MB, from /proc: of ``pid``, or of the
    largest of its worker processes (``ivr serve --workers N``)."""
    figures = [_memory_mb(process, field_name) for process in descendants(pid)]
    return max((figure for figure in figures if figure is not None), default=None)


def _memory_mb(pid: int, field_name: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table, encoding="ascii") as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def serving_pid(pid: int, port: int) -> int:
    """The process (``pid`` or one of its children) that holds the socket listening on
    ``port``: the one whose memory is the server's."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for candidate in descendants(pid):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{candidate}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{candidate}/fd/{fd}") in sockets:
                        return candidate
    raise BenchError(f"no process of {pid} listens on port {port}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Processes:
    """Every server this run starts, stopped when it ends (also on Ctrl-C)."""

    def __init__(self) -> None:
        self.running: list[tuple[subprocess.Popen[bytes], TextIO]] = []

    def start(self, command: Sequence[str], env: dict[str, str], log: Path) -> int:
        log_file = log.open("w", encoding="utf-8")
        process = subprocess.Popen(  # noqa: S603 - our own commands, no shell
            list(command),
            env=env,
            cwd=log.parent,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append((process, log_file))
        return process.pid

    def stop(self, pid: int) -> None:
        for entry in list(self.running):
            process, log_file = entry
            if process.pid == pid:
                self.running.remove(entry)
                _stop(process)
                log_file.close()

    def exited(self, pid: int) -> int | None:
        for process, _log in self.running:
            if process.pid == pid:
                return process.poll()
        return None

    def stop_all(self) -> None:
        for process, log_file in reversed(self.running):
            _stop(process)
            log_file.close()
        self.running.clear()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)  # the group of this process only: its own session
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)
            return


def wait_healthy(processes: Processes, pid: int, port: int, log: Path, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        code = processes.exited(pid)
        if code is not None:
            raise BenchError(f"the server exited with {code}:\n{_tail(log)}")
        connection = http.client.HTTPConnection(HOST, port, timeout=1.0)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise BenchError(f"the server on port {port} did not become healthy:\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    return ""


def line_env(database_url: str, port: int | None = None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("IVR_")}
    env |= {
        "IVR_DATABASE_URL": database_url,
        "IVR_SECRET_KEY": SECRET_KEY,
        "IVR_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_TIMEZONE": TIMEZONE,
        "IVR_PUBLIC_BASE_URL": f"http://{HOST}:{port or 8000}",
    }
    return env


def run_ivr(arguments: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Run ``ivr ARGUMENTS``; its wall time in seconds and its peak RSS in MB."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - our own command, no shell
            [str(IVR), *arguments],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            _pid, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            said = output.read().decode(errors="replace")[-4000:]
            raise BenchError(f"ivr {' '.join(arguments)} failed ({process.returncode}):\n{said}")
    return seconds, usage.ru_maxrss / 1024.0
