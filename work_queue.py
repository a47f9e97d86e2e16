"""The inbox as a work queue, for a caller: the one path the API (`api.routes.inbox`) and the web
console share. Every method takes the `Caller` and keeps to their inbox's scope (an item outside
it is "no such item"): a page of the queue in queue order with counts, taking an item ("mine"),
releasing it, marking it done by hand.

Who holds an item: the signed-in person (`user:<id>`, their name shown), else the API key
(`key:<id>`, its name). An item held by someone else cannot be taken (409); only its holder
releases it, or ops, who may release anyone's (a person gone for the day holds nothing).
Closed items are neither taken nor released (409). Items close themselves when their step is
done (`domain.work_queue`); `done` is for the steps only a person can vouch for.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from pydantic import ValidationError

from codec import Sealer
from domain.access import Capability, may
from domain.delivery import NEEDS_WARNED_RECORD
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.models import INTAKE, Caller, InboxDone, InboxItem, QueuePage, QueueQuery
from domain.names import Role
from domain.work_queue import decode_queue_cursor, encode_queue_cursor, holder_of
from store import inbox


class WorkQueue:
    def __init__(self, pool: asyncpg.Pool, sealer: Sealer) -> None:
        self._pool = pool
        self._sealer = sealer

    @staticmethod
    def require(caller: Caller) -> None:
        if not may(caller, Capability.USE_INBOX):
            raise Forbidden(f"the {caller.role} role has no inbox")

    async def page(self, caller: Caller, query: QueueQuery) -> QueuePage:
        """A page of the caller's queue: overdue first, then by due time, no due time last,
        then oldest; pass `next_cursor` back for the next page. The counts are of the caller's
        whole open queue (every kind, every owner), whatever the filters."""
        self.require(caller)
        after = decode_queue_cursor(query.cursor) if query.cursor else None
        holder, _ = holder_of(caller)
        items = await inbox.queue_page(
            self._pool, self._sealer, caller, query, holder=holder, after=after
        )
        counts, overdue = await inbox.queue_counts(self._pool, caller)
        last = items[-1] if len(items) == query.limit else None
        cursor = encode_queue_cursor((last.due_at, last.created_at, last.id)) if last else None
        return QueuePage(items=items, next_cursor=cursor, counts_by_kind=counts, overdue=overdue)

    async def item(self, caller: Caller, item_id: str) -> InboxItem:
        self.require(caller)
        found = await inbox.find_for(self._pool, self._sealer, caller, item_id)
        if found is None:
            raise NotFound("no such inbox item")
        return found

    async def take(self, caller: Caller, item_id: str) -> InboxItem:
        """The item is the caller's from now on (taking it again changes nothing)."""
        self.require(caller)
        holder, name = holder_of(caller)
        taken = await inbox.take(self._pool, self._sealer, caller, item_id, holder, name)
        if taken is not None:
            return taken
        current = await self.item(caller, item_id)
        if current.done_at is not None:
            raise Conflict("the item is closed already")
        held = current.taken_by
        who = (held.name or held.id) if held else "someone else"
        raise Conflict(f"the item is taken by {who}: they (or ops) must release it first")

    async def release(self, caller: Caller, item_id: str) -> InboxItem:
        """The item is nobody's again. Its holder releases it; ops may release anyone's."""
        self.require(caller)
        holder = None if caller.role is Role.OPS else holder_of(caller)[0]
        released = await inbox.release(self._pool, self._sealer, caller, item_id, holder)
        if released is not None:
            return released
        current = await self.item(caller, item_id)
        if current.done_at is not None:
            raise Conflict("the item is closed already")
        held = current.taken_by
        who = (held.name or held.id) if held else "someone else"
        raise Forbidden(f"the item is taken by {who}: only they (or ops) may release it")

    async def done(self, caller: Caller, item_id: str, body: Any) -> InboxItem:
        """Close an item by hand with a note (a duty-to-protect task: with whom was warned)."""
        item = await self.item(caller, item_id)
        try:
            record = InboxDone.model_validate(body, context=INTAKE)
        except ValidationError as err:
            raise InvalidInput.from_validation(err, "the note is invalid") from None
        if item.kind in NEEDS_WARNED_RECORD and not record.warned:
            raise InvalidInput(
                "a duty-to-protect task closes with whom was warned or which authority was told",
                details=[{"field": "warned", "message": "name at least one"}],
            )
        async with self._pool.acquire() as conn:
            # A duty-to-protect task's closing is also a step of its safety case's timeline.
            closed = await inbox.close(conn, self._sealer, item, caller, record.model_dump())
        if closed is None:
            raise Conflict("the item is closed already")
        return await self.item(caller, item_id)
