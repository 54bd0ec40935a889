#!/usr/bin/env python3
"""What the line's one log line per webhook costs: the record of a call step through the
server's own handler (the filter that masks personal numbers, then the formatter), with the
standard library's JSON encoder and with orjson (the line's), with the records the standard
library makes and with the lean ones the server makes (``ivr.logs.lean_records``), against
logging nothing, in one run.

    .venv/bin/python scripts/bench_logs.py [--lines 200000] [--json FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import time
from pathlib import Path

from ivr.logs import JsonLines, MaskPersonalNumbers, json_formatter, lean_records

EXTRA = {
    "call_sid": "CA0123456789abcdef0123456789abcdef",
    "step": "start",
    "input": "DateKeys",
    "next": "start_time",
    "recorded": False,
}


def per_line_us(formatter: logging.Formatter | None, lines: int) -> float:
    """Microseconds a ``log.info("call step", extra=...)`` costs through this handler."""
    logger = logging.Logger("bench")
    if formatter is not None:
        handler = logging.StreamHandler(io.StringIO())
        handler.setFormatter(formatter)
        handler.addFilter(MaskPersonalNumbers())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if formatter is not None else logging.WARNING)
    started = time.perf_counter()
    for _ in range(lines):
        logger.info("call step", extra=EXTRA)
    return (time.perf_counter() - started) / lines * 1e6


class StdlibJsonLines(JsonLines):
    """The same line through the standard library's JSON encoder, for comparison."""

    @staticmethod
    def encode(line: dict[str, object]) -> str:
        return json.dumps(line, ensure_ascii=False, default=str)


def stdlib_formatter() -> logging.Formatter:
    return StdlibJsonLines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    lean_records(False)
    figures = {
        "nothing_logged_us": per_line_us(None, args.lines),
        "stdlib_json_us": per_line_us(stdlib_formatter(), args.lines),
        "full_records_us": per_line_us(json_formatter(), args.lines),
    }
    lean_records()
    figures["line_formatter_us"] = per_line_us(json_formatter(), args.lines)
    for name, value in figures.items():
        print(f"{name:>20}: {value:6.2f} µs per webhook")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
