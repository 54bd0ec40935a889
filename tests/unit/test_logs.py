"""The log line: JSON with the record's own fields, exceptions as text, and no personal
number however it got into the record (a format argument, a field, a library's message)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ivr.logs import MaskPersonalNumbers, configure_logging, json_formatter


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(json_formatter())
    handler.addFilter(MaskPersonalNumbers())
    logger = logging.getLogger("ivr.test.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, output
    logger.handlers[:] = []


def _lines(output: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.getvalue().splitlines()]


def test_a_number_in_a_format_argument_or_a_field_is_masked(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, output = captured
    logger.info("pupil %s not found", "150101-2395", extra={"keyed": "201501012395", "n": 3})

    [line] = _lines(output)
    assert line["message"] == "pupil 150101-**** not found"
    assert line["keyed"] == "150101-****"
    assert line["n"] == 3
    assert line["level"] == "INFO" and line["logger"] == "ivr.test.logs"
    assert str(line["time"]).endswith("+00:00")


def test_an_exception_and_a_stack_come_as_text(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, output = captured
    try:
        raise ValueError("no such pupil 1501012395")
    except ValueError:
        logger.exception("failed")
    logger.warning("where", stack_info=True)

    failed, where = _lines(output)
    assert "ValueError" in str(failed["exc_info"])
    assert "no such pupil 150101-****" in str(failed["exc_info"])
    assert "2395" not in output.getvalue(), "nor in the traceback's text"
    assert "test_logs.py" in str(where["stack_info"])


def test_the_server_s_logging_goes_to_one_handler_uvicorn_s_too() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(logging.WARNING, json=False)
        [handler] = root.handlers
        assert root.level == logging.WARNING
        assert any(isinstance(f, MaskPersonalNumbers) for f in handler.filters)
        assert not isinstance(handler.formatter, type(json_formatter()))
        assert logging.getLogger("uvicorn.error").handlers == []
        assert logging.getLogger("uvicorn").propagate
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
