#!/usr/bin/env python3
"""Check the install a user makes: ``pip install -c constraints.txt .`` in a fresh virtual
environment, without extras (the Dockerfile's command), and then a working line from it.

    python3 scripts/check_install.py

1. A new virtual environment gets the package and nothing else: no test extra, so no
   test-only package can hide a runtime dependency that is missing.
2. ``ivr db upgrade`` on a new SQLite file, ``ivr demo`` for a roster.
3. ``ivr serve`` on a free port, until ``/healthz`` answers.
4. One whole call with ``ivr call``, which must end with a recorded absence, and
   ``ivr absences list --json`` must show it.

Where a Docker engine answers, the image is built and the same line is checked in it;
where none does, that is said in one line. Uses nothing but the standard library, so it
runs with the Python that makes the environment.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import venv
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_ONLY = ("pytest", "hypothesis", "playwright", "aiosmtpd", "schemathesis", "time_machine")
# `ivr demo` ends with the command that places a call: ivr call --to X --from Y NUMBER 9
DEMO_CALL = re.compile(r"ivr call --to (\S+) --from (\S+) (\d+) 9")
STARTUP_SECONDS = 60


class CheckFailed(Exception):
    pass


def say(line: str) -> None:
    print(f"install check: {line}", flush=True)


def run(
    command: Sequence[str | Path], environment: dict[str, str], cwd: Path, timeout: float = 600
) -> str:
    """Run ``command``; its output, or ``CheckFailed`` with that output if it fails."""
    shown = " ".join(str(part) for part in command)
    print(f"+ {shown}", flush=True)
    completed = subprocess.run(  # noqa: S603 - our own commands
        [str(part) for part in command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise CheckFailed(
            f"`{shown}` exited with {completed.returncode}:\n{completed.stdout}{completed.stderr}"
        )
    return completed.stdout


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without the line's settings or a path into the checkout."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("IVR_") and name not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }
    return environment | settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_healthy(url: str, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if not alive():
            raise CheckFailed("the server exited before it answered /healthz")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise CheckFailed(f"{url}/healthz did not answer within {STARTUP_SECONDS} s")


def place_demo_call(ivr: Path, demo_output: str, url: str, environment: dict[str, str]) -> str:
    """Call the line as the demo says, whole day today; the reference that was recorded.
    The second 9 keeps the report on a weekend or holiday (when the line asks first)."""
    found = DEMO_CALL.search(demo_output)
    if found is None:
        raise CheckFailed(f"`ivr demo` printed no call to place:\n{demo_output}")
    called, caller, number = found.groups()
    output = run(
        [ivr, "call", "--quiet", "--url", url, "--to", called, "--from", caller, number, "9", "9"],
        environment,
        ROOT,
    )
    recorded = re.search(r"Recorded: ([A-Z0-9]+)", output)
    if recorded is None:
        raise CheckFailed(f"the call recorded nothing:\n{output}")
    return recorded.group(1)


def copy_of_the_project(work: Path) -> Path:
    """The project as a clean clone has it, so that nothing built in the checkout before
    (setuptools' ``build/``, a virtual environment) goes into what is installed."""
    source = work / "source"
    leave_out = ".git .venv build dist *.egg-info __pycache__ .*_cache .hypothesis *.db *.db-*"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*leave_out.split()))
    return source


def check_virtual_environment(work: Path) -> None:
    say("a fresh virtual environment with `pip install -c constraints.txt .` (no extras)")
    source = copy_of_the_project(work)
    environment_dir = work / "venv"
    venv.create(environment_dir, with_pip=True)
    bin_dir = environment_dir / ("Scripts" if os.name == "nt" else "bin")
    python, ivr = bin_dir / "python", bin_dir / "ivr"
    environment = clean_environment()
    pip: list[str | Path] = [python, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    run([*pip, "install", "-c", "constraints.txt", "."], environment, source)
    present = run(
        [
            python,
            "-c",
            "import importlib.util, sys; "
            f"print(' '.join(m for m in {TEST_ONLY!r} if importlib.util.find_spec(m)))",
        ],
        environment,
        work,
    ).split()
    if present:
        raise CheckFailed(f"test-only packages came with the install: {', '.join(present)}")

    line = clean_environment(
        IVR_DATABASE_URL=f"sqlite:///{work / 'line.db'}", IVR_LOG_FORMAT="text"
    )
    run([ivr, "db", "upgrade"], line, work)
    demo = run([ivr, "demo"], line, work)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = work / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(  # noqa: S603 - the installed command
            [ivr, "serve", "--port", str(port)], cwd=work, env=line, stdout=log, stderr=log
        )
    try:
        wait_until_healthy(url, lambda: server.poll() is None)
        say(f"`ivr serve` answers {url}/healthz")
        reference = place_demo_call(ivr, demo, url, line)
        listed = json.loads(run([ivr, "absences", "list", "--json"], line, work))
        if [absence["reference"] for absence in listed] != [reference]:
            raise CheckFailed(f"`ivr absences list` shows {listed}, not the call's {reference}")
        say(f"a whole call was recorded ({reference}) and listed")
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}\nserver log:\n{log_path.read_text()[-4000:]}") from None
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            raise CheckFailed("`ivr serve` did not stop on SIGTERM within 20 s") from None


def docker_engine() -> str | None:
    """Why there is no Docker engine to build with, or None when there is one."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker command"
    completed = subprocess.run(  # noqa: S603 - the docker client
        [docker, "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if completed.returncode != 0:
        reason = (completed.stderr.strip().splitlines() or ["docker info failed"])[-1]
        return reason[:160]
    return None


def check_image(work: Path) -> None:
    """The image, built and run as the Dockerfile's header shows, with real-looking secrets
    (production refuses development values); the call is placed from the host."""
    missing = docker_engine()
    if missing is not None:
        say(f"skipped the Docker image: no Docker engine here ({missing})")
        return
    tag = f"ivr-absence-line:check-{secrets.token_hex(3)}"
    name = f"ivr-check-{secrets.token_hex(3)}"
    auth_token = secrets.token_hex(16)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    host = clean_environment()
    run(["docker", "build", "--tag", tag, ROOT], host, ROOT, timeout=1800)
    try:
        settings = {
            "IVR_SECRET_KEY": secrets.token_hex(24),
            "IVR_TWILIO_AUTH_TOKEN": auth_token,
            "IVR_PUBLIC_BASE_URL": url,
        }
        options = [f"--env={setting}={value}" for setting, value in settings.items()]
        options += [f"--name={name}", f"--publish=127.0.0.1:{port}:8000"]
        run(["docker", "run", "--detach", *options, tag], host, ROOT)
        wait_until_healthy(url, lambda: True)
        demo = run(["docker", "exec", name, "ivr", "demo"], host, ROOT)
        caller_environment = clean_environment(IVR_TWILIO_AUTH_TOKEN=auth_token)
        reference = place_demo_call(work / "venv" / "bin" / "ivr", demo, url, caller_environment)
        listed = run(["docker", "exec", name, "ivr", "absences", "list", "--json"], host, ROOT)
        if reference not in listed:
            raise CheckFailed(f"the image's line did not list {reference}")
        say(f"the image {tag} serves the line: a whole call was recorded ({reference})")
    finally:
        for cleanup in (["docker", "rm", "--force", name], ["docker", "rmi", tag]):
            subprocess.run(cleanup, capture_output=True, check=False)  # noqa: S603


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ivr-install-check-") as directory:
        work = Path(directory)
        try:
            check_virtual_environment(work)
            check_image(work)
        except CheckFailed as failure:
            sys.exit(f"install check FAILED: {failure}")
    say(f"passed in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
