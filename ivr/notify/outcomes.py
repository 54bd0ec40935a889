"""Outcomes of sends written together (a group commit), for the dispatcher and its lanes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from ivr.store.db import Database

_Item = TypeVar("_Item")


class GroupCommit(Generic[_Item]):
    """Items written together: every item that arrives while the last write is under way
    goes into the next transaction, written by ``write``. A sender waits until its own item
    is written, so a clean stop never leaves one unwritten."""

    def __init__(self, database: Database, write: Callable[[Session, Sequence[_Item]], object]):
        self.database = database
        self.write = write
        self.waiting: list[tuple[_Item, asyncio.Future[None]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def record(self, item: _Item) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((item, done))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting, []
            items = [item for item, _done in batch]

            def write(session: Session, items: list[_Item] = items) -> object:
                return self.write(session, items)

            try:
                await self.database.run(write)
            except Exception as error:  # noqa: BLE001 - every waiting sender hears of it
                for _item, done in batch:
                    done.set_exception(error)
                continue
            for _item, done in batch:
                done.set_result(None)


def _each(session: Session, writes: Sequence[Callable[[Session], object]]) -> None:
    for write in writes:
        write(session)


class Outcomes(GroupCommit[Callable[[Session], object]]):
    """What the sends came to, each a write of its own, written together."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, _each)
