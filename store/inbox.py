"""Inboxes: the open items of each role, scoped like claims (an examiner sees their own, an
insurer its own), with details sealed at rest and shown whole only to the clinical chain."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from codec import Sealer
from domain.delivery import CASE_STEP_ON_CLOSING, CLINICAL_DETAILS, CLINICAL_ROLES
from domain.models import Caller, InboxItem, SafetyCaseEvent
from domain.names import Role, Template
from store import case_events
from store.db import Connection, Executor

_COLUMNS = """id::text, kind, claim_id, case_id, created_at, due_at, done_at, sealed_details,
    role, insurer_id, examiner_id"""


@dataclass(frozen=True)
class StoredItem:
    item: InboxItem
    role: str
    insurer_id: str | None
    examiner_id: str | None


def _visible(caller: Caller) -> tuple[str, list[Any]]:
    """The items of the caller's role, narrowed to their insurer or examiner."""
    clause = "role = $1"
    args: list[Any] = [caller.role.value]
    if caller.role is Role.INSURER:
        clause += " AND insurer_id = $2"
        args.append(caller.insurer_id)
    elif caller.role is Role.EXAMINER:
        clause += " AND examiner_id = $2"
        args.append(caller.examiner_id)
    return clause, args


def _item(row: Any, sealer: Sealer, caller: Caller) -> InboxItem:
    details = sealer.open_json(bytes(row["sealed_details"])) if row["sealed_details"] else {}
    if caller.role not in CLINICAL_ROLES:
        details = {k: v for k, v in details.items() if k not in CLINICAL_DETAILS}
    return InboxItem(
        id=row["id"],
        kind=row["kind"],
        claim_id=row["claim_id"],
        case_id=row["case_id"],
        created_at=row["created_at"],
        due_at=row["due_at"],
        done_at=row["done_at"],
        details=details,
    )


async def for_caller(
    conn: Executor, sealer: Sealer, caller: Caller, *, include_done: bool, limit: int
) -> list[InboxItem]:
    if caller.role is Role.SRE:
        return []
    clause, args = _visible(caller)
    done = "" if include_done else " AND done_at IS NULL"
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM inbox_items WHERE {clause}{done}"
        f" ORDER BY created_at, id LIMIT {int(limit)}",
        *args,
    )
    return [_item(r, sealer, caller) for r in rows]


async def find_for(
    conn: Executor, sealer: Sealer, caller: Caller, item_id: str
) -> InboxItem | None:
    try:
        uuid.UUID(item_id)
    except ValueError:
        return None
    clause, args = _visible(caller)
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM inbox_items WHERE id = ${len(args) + 1}::uuid AND {clause}",
        *args,
        item_id,
    )
    return _item(row, sealer, caller) if row is not None else None


async def mark_done(
    conn: Executor, sealer: Sealer, item_id: str, caller: Caller, record: dict[str, Any]
) -> datetime | None:
    """Close an open item with the caller's record (sealed); None when it was closed already."""
    return await conn.fetchval(
        """UPDATE inbox_items SET done_at = now(), done_by = $2, sealed_note = $3
           WHERE id = $1::uuid AND done_at IS NULL RETURNING done_at""",
        item_id,
        json.loads(caller.model_dump_json()),
        sealer.seal_json(record),
    )


async def close(
    conn: Connection, sealer: Sealer, item: InboxItem, caller: Caller, record: dict[str, Any]
) -> datetime | None:
    """Close an open item (`mark_done`). Closing a safety case's task (a duty-to-protect task)
    is also a step of the case's timeline, in the same transaction: whom was warned stays sealed
    with the item; the step says how many were and who closed it."""
    async with conn.transaction():
        closed = await mark_done(conn, sealer, item.id, caller, record)
        step = next((e for kind, e in CASE_STEP_ON_CLOSING.items() if kind == item.kind), None)
        if closed is not None and step is not None and item.case_id is not None:
            event = SafetyCaseEvent(
                case_id=item.case_id,
                claim_id=item.claim_id,
                type=step,
                actor=caller.role.value,
                at=closed,
                details={"warned": len(record.get("warned") or [])},
                acted_by=caller,
            )
            await case_events.append_record(conn, event, item.id)
    return closed


async def open_duty_to_protect(conn: Executor, case_id: str) -> bool:
    """A duty-to-protect task of the case is still open (its resolution must wait)."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM inbox_items WHERE case_id = $1 AND kind = $2"
            " AND done_at IS NULL)",
            case_id,
            Template.DUTY_TO_PROTECT_TASK.value,
        )
    )
