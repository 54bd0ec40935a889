"""Logs: one JSON object per line, with the call id, step and outcome as fields.

A filter masks anything shaped like a personal number before a record is written, in the
message and in every string field: the code never logs one on purpose, and this makes sure
that a mistake (or a library's own message) cannot either.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from ivr.domain.personal_number import mask_personal_numbers

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}
_PLAIN = logging.Formatter()


class MaskPersonalNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = mask_personal_numbers(record.msg)
        fields = record.__dict__
        for name in fields.keys() - _STANDARD:
            value = fields[name]
            if isinstance(value, str):
                fields[name] = mask_personal_numbers(value)
        # An exception's text (its message, the values in a traceback) is written as it
        # is: format it here, masked, where every formatter takes it from.
        if record.exc_info and not record.exc_text:
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal_numbers(record.stack_info)
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``message``, then the record's own fields (``extra=``), and an exception as text.
    Encoded by orjson; every webhook writes one (``scripts/bench_logs.py`` measures it)."""

    @staticmethod
    def encode(line: dict[str, object]) -> str:
        return orjson.dumps(line, default=str).decode()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD:
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return self.encode(line)


def json_formatter() -> logging.Formatter:
    return JsonLines()


def lean_records(lean: bool = True) -> None:
    """Records without what no line of ours writes: the caller's file, function and line
    (a walk up the stack for each record), the thread, process and multiprocessing names.
    The switches the logging HOWTO names for it ("Optimization"); a webhook's line costs
    about a tenth less without them (``scripts/bench_logs.py``)."""
    logging._srcfile = None if lean else _SOURCE_FILE
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = not lean


_SOURCE_FILE = logging._srcfile


def configure_logging(level: int = logging.INFO, json: bool = True) -> None:
    """Root logging for the server and the worker; uvicorn's own loggers go the same way."""
    lean_records()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        json_formatter()
        if json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(MaskPersonalNumbers())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # A line per request, with query strings (staff tokens in feed links): the line logs
    # its webhooks itself, without personal data.
    logging.getLogger("uvicorn.access").disabled = True


def uvicorn_log_config() -> dict[str, Any]:
    """Leave uvicorn's loggers to ``configure_logging`` (it would install its own)."""
    return {"version": 1, "disable_existing_loggers": False}
