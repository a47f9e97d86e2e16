"""Inboxes: the open items of each role, scoped like claims (an examiner sees their own, an
insurer its own), with details sealed at rest and shown whole only to the clinical chain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from codec import Sealer
from domain.delivery import CASE_STEP_ON_CLOSING, CLINICAL_DETAILS, CLINICAL_ROLES
from domain.models import (
    Caller,
    ClaimEvent,
    ClaimStatus,
    InboxDoneBy,
    InboxHolder,
    InboxItem,
    QueueQuery,
    SafetyCaseEvent,
)
from domain.names import Role, Template
from domain.work_queue import (
    WORK_QUEUE,
    OpenItem,
    QueuePosition,
    closed_by,
    deadline_named,
    done_by,
    is_done,
    step_of,
)
from store import case_events
from store.db import Connection, Executor

_COLUMNS = """id::text, kind, claim_id, case_id, created_at, due_at, done_at, sealed_details,
    role, insurer_id, examiner_id, jurisdiction, taken_by_id, taken_by_name, taken_at, done_by,
    (done_at IS NULL AND due_at < now()) AS overdue, outbox_key"""


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


# The kinds whose item is about one deadline.
DEADLINE_KINDS = frozenset({Template.DEADLINE_REMINDER.value, Template.DEADLINE_BREACHED.value})


def _deadline_of(row: Any) -> str | None:
    """Which deadline a reminder or breach item is about (from its notification's key)."""
    if row["kind"] not in DEADLINE_KINDS:
        return None
    name = deadline_named(step_of(row["outbox_key"], row["kind"]))
    return name.value if name else None


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
        jurisdiction=row["jurisdiction"],
        insurer_id=row["insurer_id"],
        overdue=bool(row["overdue"]),
        taken_by=(
            InboxHolder(id=row["taken_by_id"], name=row["taken_by_name"])
            if row["taken_by_id"]
            else None
        ),
        taken_at=row["taken_at"],
        done_by=_done_by(row["done_by"]) if row["done_at"] is not None else None,
        deadline=_deadline_of(row),
    )


def _done_by(recorded: Any) -> InboxDoneBy | None:
    """Who closed an item, from what `done_by` holds: a caller (person or key, closed by hand or
    by their action doing the step) or the system, with the reason."""
    if not isinstance(recorded, dict):
        return None
    if recorded.get("by") == "system":
        return InboxDoneBy(by="system", reason=recorded.get("reason"))
    reason = recorded.get("reason") or "marked_done"  # closed by hand before reasons were kept
    if recorded.get("user_id"):
        name = recorded.get("user_name")
        return InboxDoneBy(by="user", name=name, role=recorded.get("role"), reason=reason)
    name = recorded.get("key_name") or recorded.get("key_id")
    return InboxDoneBy(by="key", name=name, role=recorded.get("role"), reason=reason)


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
        closed_by(caller, "marked_done"),
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


# --- the work queue ------------------------------------------------------------------------


def _uuid(item_id: str) -> bool:
    try:
        uuid.UUID(item_id)
    except ValueError:
        return False
    return True


async def queue_page(
    conn: Executor,
    sealer: Sealer,
    caller: Caller,
    query: QueueQuery,
    *,
    holder: str,
    after: QueuePosition | None,
) -> list[InboxItem]:
    """A page of the caller's queue in queue order: by due time (overdue first), no due time
    last, then oldest; `after` continues past an item's position (keyset)."""
    if caller.role is Role.SRE:
        return []
    clause, args = _visible(caller)
    n = len(args)
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM inbox_items
            WHERE {clause}
              AND (${n + 1}::bool OR done_at IS NULL)
              AND (${n + 2}::text IS NULL OR kind = ${n + 2})
              AND (${n + 3}::text IS NULL OR jurisdiction = ${n + 3})
              AND (${n + 4}::text IS NULL OR insurer_id = ${n + 4})
              AND (${n + 5}::text = 'anyone'
                   OR (${n + 5} = 'me' AND taken_by_id = ${n + 6}::text)
                   OR (${n + 5} = 'unowned' AND taken_by_id IS NULL))
              AND (NOT ${n + 7}::bool OR CASE
                    WHEN ${n + 8}::timestamptz IS NULL
                    THEN due_at IS NULL AND (created_at, id) > (${n + 9}, ${n + 10}::uuid)
                    ELSE due_at IS NULL
                         OR (due_at, created_at, id) > (${n + 8}, ${n + 9}, ${n + 10}::uuid)
                  END)
            ORDER BY due_at ASC NULLS LAST, created_at, id
            LIMIT ${n + 11}""",
        *args,
        query.include_done,
        query.kind,
        query.jurisdiction,
        query.insurer_id,
        query.owner,
        holder,
        after is not None,
        after[0] if after else None,
        after[1] if after else None,
        after[2] if after else None,
        query.limit,
    )
    return [_item(r, sealer, caller) for r in rows]


async def queue_counts(conn: Executor, caller: Caller) -> tuple[dict[str, int], int]:
    """The caller's open items counted by kind, and how many are overdue."""
    if caller.role is Role.SRE:
        return {}, 0
    clause, args = _visible(caller)
    rows = await conn.fetch(
        f"""SELECT kind, count(*) AS n, count(*) FILTER (WHERE due_at < now()) AS late
            FROM inbox_items WHERE {clause} AND done_at IS NULL GROUP BY kind ORDER BY kind""",
        *args,
    )
    return {r["kind"]: r["n"] for r in rows}, sum(r["late"] for r in rows)


async def take(
    conn: Executor, sealer: Sealer, caller: Caller, item_id: str, holder: str, name: str | None
) -> InboxItem | None:
    """Take an open item nobody else holds (again by its holder: unchanged); None otherwise."""
    if not _uuid(item_id):
        return None
    clause, args = _visible(caller)
    n = len(args)
    row = await conn.fetchrow(
        f"""UPDATE inbox_items SET taken_by_id = ${n + 2}, taken_by_name = ${n + 3},
                taken_at = CASE WHEN taken_by_id = ${n + 2} THEN taken_at ELSE now() END
            WHERE id = ${n + 1}::uuid AND {clause} AND done_at IS NULL
              AND (taken_by_id IS NULL OR taken_by_id = ${n + 2})
            RETURNING {_COLUMNS}""",
        *args,
        item_id,
        holder,
        name,
    )
    return _item(row, sealer, caller) if row is not None else None


async def release(
    conn: Executor, sealer: Sealer, caller: Caller, item_id: str, holder: str | None
) -> InboxItem | None:
    """Let go of an open item held by `holder` (None: whoever holds it) or by nobody; None
    otherwise."""
    if not _uuid(item_id):
        return None
    clause, args = _visible(caller)
    n = len(args)
    row = await conn.fetchrow(
        f"""UPDATE inbox_items SET taken_by_id = NULL, taken_by_name = NULL, taken_at = NULL
            WHERE id = ${n + 1}::uuid AND {clause} AND done_at IS NULL
              AND (${n + 2}::text IS NULL OR taken_by_id IS NULL OR taken_by_id = ${n + 2})
            RETURNING {_COLUMNS}""",
        *args,
        item_id,
        holder,
    )
    return _item(row, sealer, caller) if row is not None else None


# Kinds that may close themselves (`domain.work_queue`): the others are left to a person.
_SELF_CLOSING = sorted(
    kind.value
    for kind, rule in WORK_QUEUE.items()
    if rule.step is not None or rule.with_claim or rule.with_examiner
)


async def close_done_steps(conn: Connection, sealer: Sealer, event: ClaimEvent) -> int:
    """Close the claim's open items whose step is done now (`domain.work_queue`), judged on the
    claim's status as stored (the write just made, or a newer one if this write arrived late),
    recording who did it and why. Within the caller's transaction (`claims.apply_projection`);
    returns how many closed."""
    rows = await conn.fetch(
        """SELECT id::text, kind, role, examiner_id, due_at, sealed_details, outbox_key, case_id
           FROM inbox_items
           WHERE claim_id = $1 AND done_at IS NULL AND kind = ANY($2::text[])""",
        event.claim_id,
        _SELF_CLOSING,
    )
    if not rows:
        return 0
    body = await conn.fetchval("SELECT body FROM claims WHERE claim_id = $1", event.claim_id)
    if body is None:
        return 0
    status = ClaimStatus.model_validate(body)
    done = [
        r["id"]
        for r in rows
        if is_done(
            OpenItem(
                id=r["id"],
                kind=r["kind"],
                role=r["role"],
                examiner_id=r["examiner_id"],
                due_at=r["due_at"],
                details=(
                    sealer.open_json(bytes(r["sealed_details"])) if r["sealed_details"] else {}
                ),
                step=step_of(r["outbox_key"], r["kind"]),
                case_id=r["case_id"],
            ),
            status,
            event,
        )
    ]
    if not done:
        return 0
    closed = await conn.execute(
        """UPDATE inbox_items SET done_at = now(), done_by = $2
           WHERE id = ANY($1::uuid[]) AND done_at IS NULL""",
        done,
        done_by(event),
    )
    return int(closed.rsplit(" ", 1)[1])
