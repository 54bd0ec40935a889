"""Reading /proc: CPU of the machine, this process and the server; memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Coroutine
from typing import Any

from bench.config import _T, console


class _CpuClock:
    """CPU seconds of this process (the load generator), of the server and of the whole
    machine, from the end of the warm-up to the end of the run."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self._client = 0.0
        self._server: float | None = None
        self._machine = 0.0
        self._started = False

    def start(self) -> None:
        self._client, self._server = _own_cpu(), server_cpu(self.server_pid)
        self._machine = machine_cpu()
        self._started = True

    def used(self) -> tuple[float, float | None, float]:
        if not self._started:
            return 0.0, None, 0.0
        client = _own_cpu() - self._client
        machine = machine_cpu() - self._machine
        server_now = server_cpu(self.server_pid)
        if server_now is None or self._server is None:
            return client, None, machine
        return client, server_now - self._server, machine


def machine_cpu() -> float:
    """CPU seconds all cores have spent busy since boot (``/proc/stat``, less idle and iowait)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def server_cpu(pid: int | None) -> float | None:
    """User and system CPU seconds of ``pid`` and the processes it started (``ivr serve
    --workers N`` serves from N children), their threads included, from /proc."""
    if pid is None:
        return None
    total = None
    for process in descendants(pid):
        try:
            with open(f"/proc/{process}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total = (total or 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    found = [pid]
    for parent in found:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{task}/children", encoding="ascii") as file:
                    found.extend(int(child) for child in file.read().split())
    return found


def warn_if_busy(seconds: float = 2.0, threshold: float = 0.15) -> None:
    """Say so when other processes keep the machine busy: they disturb every figure."""
    before = machine_cpu()
    time.sleep(seconds)
    busy = (machine_cpu() - before) / seconds
    if busy > threshold:
        console.print(
            f"[yellow]warning: the machine is busy before the run ({busy:.0%} of a core in "
            "other processes); the figures will be disturbed[/yellow]"
        )


def run_async(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run on uvloop when it is installed (uvicorn[standard] brings it), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)
