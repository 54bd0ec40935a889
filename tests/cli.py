"""Running the ``ivr`` command in the test process."""

from __future__ import annotations

from typer.testing import CliRunner

from ivr.cli.main import app

runner = CliRunner()


def ivr(*args: str) -> tuple[int, str]:
    """Run ``ivr ARGS``: the exit code and everything it printed."""
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output
