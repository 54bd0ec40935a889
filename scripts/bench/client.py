"""The HTTP client: raw asyncio streams, requests signed as Twilio signs them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bench.config import HOST

# The gather's action: where the next keys go, with the call's progress in the query.
_ACTION = re.compile(rb'<Gather[^>]* action="([^"]+)"')
_ONE_KEY_GATHER = re.compile(rb'<Gather[^>]*numDigits="1"')
KEEP_KEY = "9"
_FORM_ESCAPES = str.maketrans(
    {"%": "%25", "+": "%2B", "#": "%23", "*": "%2A", "&": "%26", "=": "%3D", " ": "+"}
)


class Signer:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL and the sorted name+value pairs."""

    def __init__(self, auth_token: str, base_url: str) -> None:
        self._mac = hmac.new(auth_token.encode(), digestmod=hashlib.sha1)
        self.base_url = base_url

    def sign(self, target: str, params: Sequence[tuple[str, str]]) -> str:
        mac = self._mac.copy()
        mac.update((self.base_url + target + "".join(k + v for k, v in sorted(params))).encode())
        return base64.b64encode(mac.digest()).decode()


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    reference: str | None


class RequestFailed(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Connection:
    """One keep-alive HTTP/1.1 connection: hand-written requests, responses by length.

    A request that finds its kept-alive connection closed by the server before a byte of
    the answer came (the server drops a connection after an unhandled error) is sent once
    more on a new connection, as HTTP clients do: the server never read it."""

    def __init__(self, port: int, signer: Signer, timeout: float) -> None:
        self.port = port
        self.signer = signer
        self.timeout = timeout
        self.host_header = f"Host: {HOST}:{port}\r\n"
        self.reconnects = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._answered = 0

    async def post(self, target: str, params: Sequence[tuple[str, str]]) -> Reply:
        body = "&".join(f"{k}={v.translate(_FORM_ESCAPES)}" for k, v in params).encode()
        request = (
            f"POST {target} HTTP/1.1\r\n{self.host_header}"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {self.signer.sign(target, params)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    return await self._exchange(request)
                except (ConnectionError, asyncio.IncompleteReadError) as error:
                    stale = self._answered > 0 and not getattr(error, "partial", b"")
                    if not stale:
                        raise
                    self.close()
                    self.reconnects += 1
                    return await self._exchange(request)
        except TimeoutError:
            self.close()
            raise RequestFailed("timeout") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            self.close()
            raise RequestFailed("connection") from None

    async def _exchange(self, request: bytes) -> Reply:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(HOST, self.port)
            self._answered = 0
        assert self._reader is not None
        self._writer.write(request)
        reply = await self._read(self._reader)
        self._answered += 1
        return reply

    async def _read(self, reader: asyncio.StreamReader) -> Reply:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0][9:12])
        length, reference, close, chunked = 0, None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"x-absence-reference":
                reference = value.strip().decode()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        if chunked:
            body = await self._read_chunks(reader)
        else:
            body = await reader.readexactly(length) if length else b""
        if close:
            self.close()
        return Reply(status, body, reference)

    @staticmethod
    async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._answered = 0
