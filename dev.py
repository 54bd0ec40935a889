#!/usr/bin/env python3
"""The two commands a fresh machine with only Python needs.

    python3 dev.py line    a working line: SQLite, the demo roster, the server on :8000
    python3 dev.py test    the whole test suite: lint, types, tests on SQLite and PostgreSQL

Both create ``.venv`` and install the project into it first (pinned by constraints.txt);
``test`` also installs Debian's chromium for the browser tests when it is missing and can.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

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


def line() -> None:
    install()
    run(BIN / "ivr", "demo")
    print(
        "\nThe line answers on http://127.0.0.1:8000. In another terminal, place a call:\n"
        f"  {BIN.relative_to(ROOT)}/ivr call <personal number> 9\n"
        "(numbers and ready-made commands are in the table above; Ctrl-C stops the line)\n",
        flush=True,
    )
    run(BIN / "ivr", "serve")


def test() -> None:
    install()
    install_browser()
    run(BIN / "ruff", "check", "ivr", "tests", "scripts", "dev.py")
    run(BIN / "ruff", "format", "--check", "ivr", "tests", "scripts", "dev.py")
    run(BIN / "mypy")
    run(BIN / "pytest", *sys.argv[2:])


COMMANDS = {"line": line, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]]()
