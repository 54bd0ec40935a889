"""Run an ``ivr`` command with its clock starting at a given instant and ticking on from
there: how the tests start server and worker processes on the test's own clock.

    python tests/clocked.py 2026-11-25T07:30:00+01:00 serve --port 8123
"""

from __future__ import annotations

import sys
from datetime import datetime

import time_machine


def main(arguments: list[str]) -> None:
    if len(arguments) < 2:
        sys.exit(__doc__)
    with time_machine.travel(datetime.fromisoformat(arguments[0]), tick=True):
        from ivr.cli.main import app

        app(args=arguments[1:], prog_name="ivr")


if __name__ == "__main__":
    main(sys.argv[1:])
