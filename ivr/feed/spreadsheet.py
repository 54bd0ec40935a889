"""CSV that a Swedish spreadsheet opens as it is. Pure.

UTF-8 with a byte-order mark (without it Excel reads the file as Windows-1252 and spoils
å, ä, ö), ``;`` between columns on request (Excel with a Swedish locale splits on ``;``
because ``,`` is its decimal comma), ``\\r\\n`` line ends and quotes where a value needs
them. A free-text value that begins like a formula (``=``, ``+``, ``-``, ``@``) gets a
leading ``'``, so a spreadsheet shows it instead of computing it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Literal

Separator = Literal["comma", "semicolon"]
SEPARATORS: dict[str, str] = {"comma": ",", "semicolon": ";"}
CONTENT_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_text(value: str) -> str:
    """Free text, kept from being read as a formula."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def write_csv(header: Sequence[str], rows: Iterable[Sequence[str]], separator: Separator) -> bytes:
    buffer = io.StringIO(newline="")
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=SEPARATORS[separator], lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
