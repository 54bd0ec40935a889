"""Outcomes of sends written together (a group commit), for the dispatcher and its lanes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from ivr.store.db import Database


class Outcomes:
    """What the sends came to, written together: every outcome that arrives while the last
    write is under way goes into the next transaction (a group commit). A sender waits
    until its own outcome is written, so a clean stop never leaves one unwritten."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.waiting: list[tuple[Callable[[Session], object], asyncio.Future[None]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def record(self, write: Callable[[Session], object]) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((write, done))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting, []

            def write_all(session: Session, batch: list[Any] = batch) -> None:
                for write, _done in batch:
                    write(session)

            try:
                await self.database.run(write_all)
            except Exception as error:  # noqa: BLE001 - every waiting sender hears of it
                for _write, done in batch:
                    done.set_exception(error)
                continue
            for _write, done in batch:
                done.set_result(None)
