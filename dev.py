#!/usr/bin/env python3
"""The two commands a fresh machine with only Python needs, and the install check.

    python3 dev.py line [--port N]   a working line: SQLite, the demo roster, the server
    python3 dev.py test [ARGS]       the whole test suite: lint, types, tests on SQLite and
                                     PostgreSQL with a coverage floor, then the install check
                                     (ARGS go to pytest, and then only pytest runs)
    python3 dev.py install-check     the install a user makes, in a fresh environment
                                     without extras, serving a whole call (and the Docker
                                     image where a Docker engine runs)

``line`` and ``test`` create ``.venv`` and install the project into it first (pinned by
constraints.txt); ``test`` also installs Debian's chromium for the browser tests when it is
missing and can.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"
CHROMIUM = Path("/usr/bin/chromium")


def run(*command: str | Path) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    completed = subprocess.run([str(part) for part in command], cwd=ROOT, check=False)  # noqa: S603
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def install() -> None:
    """Create the virtual environment and install the project, unless already up to date."""
    wanted = hashlib.sha256(
        b"".join((ROOT / name).read_bytes() for name in ("pyproject.toml", "constraints.txt"))
    ).hexdigest()
    if STAMP.is_file() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"+ creating {VENV.name}", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except Exception as error:  # noqa: BLE001 - explain any failure the same way
            sys.exit(
                f"could not create a virtual environment ({error}); on Debian or Ubuntu "
                "install python3-venv first"
            )
    pip = (BIN / "python", "-m", "pip", "--disable-pip-version-check", "--quiet")
    run(*pip, "install", "--upgrade", "pip")
    run(*pip, "install", "-c", "constraints.txt", "-e", ".[test]")
    STAMP.write_text(wanted)


def install_browser() -> None:
    """Debian's Chromium, which the browser tests drive through Playwright (Playwright's own
    browser download is not used). Without it those tests are skipped, or fail with CI=true."""
    if CHROMIUM.exists():
        return
    apt_get = shutil.which("apt-get")
    if os.name != "posix" or os.geteuid() != 0 or apt_get is None:
        print(
            f"! {CHROMIUM} is missing and cannot be installed from here (that needs root and "
            "apt-get): the browser tests will be skipped",
            flush=True,
        )
        return
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ((apt_get, "update"), (apt_get, "install", "-y", "chromium")):
        print("+", " ".join(command), flush=True)
        completed = subprocess.run(command, cwd=ROOT, env=environment, check=False)  # noqa: S603
        if completed.returncode != 0:
            print(f"! {' '.join(command)} failed: the browser tests will be skipped", flush=True)
            return


def serve_until_stopped(*command: str | Path, environment: dict[str, str]) -> None:
    """Run the server until it ends, passing on the signals that stop this script (Ctrl-C,
    SIGTERM from a process manager, SIGHUP from a closed terminal) and waiting for it, so
    that it never outlives this script and keeps the port."""
    print("+", " ".join(str(part) for part in command), flush=True)
    server = subprocess.Popen(  # noqa: S603 - the project's own command
        [str(part) for part in command], cwd=ROOT, env=environment, start_new_session=True
    )

    sent: list[int] = []

    def stop(signal_number: int, _frame: FrameType | None) -> None:
        if server.poll() is None:
            sent.append(signal.SIGINT if signal_number == signal.SIGINT else signal.SIGTERM)
            server.send_signal(sent[-1])

    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, stop)
    status = server.wait()
    # Stopped as asked: the server may end by the signal itself once it has shut down.
    sys.exit(0 if sent and -status in (0, *sent) else status)


def line() -> None:
    port = sys.argv[sys.argv.index("--port") + 1] if "--port" in sys.argv else "8000"
    install()
    # A person reads this terminal: text logs (JSON stays the default of `ivr serve`).
    environment = {"IVR_LOG_FORMAT": "text", **os.environ}
    run(BIN / "ivr", "demo")
    print(
        f"\nThe line answers on http://127.0.0.1:{port}. In another terminal, place a call:\n"
        f"  {BIN.relative_to(ROOT)}/ivr call"
        + (f" --url http://127.0.0.1:{port}" if port != "8000" else "")
        + " <personal number> 9\n"
        "(numbers and ready-made commands are in the table above; Ctrl-C stops the line)\n",
        flush=True,
    )
    serve_until_stopped(BIN / "ivr", "serve", "--port", port, environment=environment)


def install_check() -> None:
    run(sys.executable, ROOT / "scripts" / "check_install.py")


def test() -> None:
    install()
    install_browser()
    run(BIN / "ruff", "check", "ivr", "tests", "scripts", "dev.py")
    run(BIN / "ruff", "format", "--check", "ivr", "tests", "scripts", "dev.py")
    run(BIN / "mypy")
    pytest_arguments = sys.argv[2:]
    whole_suite = ["--numprocesses", "2", "--cov", "--cov-report", "term", "--durations", "25"]
    run(BIN / "pytest", *(pytest_arguments or whole_suite))
    if not pytest_arguments:
        install_check()


COMMANDS = {"line": line, "test": test, "install-check": install_check}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]]()
