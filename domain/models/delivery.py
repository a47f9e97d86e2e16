"""What leaves the service or waits for a person: outbox notifications, webhook endpoints and
their deliveries, and inbox tasks.

Read by the store (`notification_outbox`, `webhooks`, `inbox`), the relay and mailer
(`delivery/`) and the API's webhook and inbox routes. `Notification` also rides in the
workflows' transition writes, so it is replayed from recorded histories: the rule at the top of
`domain.models.payloads` holds for it too. The webhook event names: `domain.delivery`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from domain.models.base import Identifier, Input, Model, ShortText, Text, example_config
from domain.names import Recipient, Template


class Notification(Model):
    """A message placed in the outbox; `key` makes enqueueing idempotent."""

    key: str
    claim_id: str
    recipient: Recipient
    template: Template
    details: dict[str, Any] = Field(default_factory=dict)
    # Held until the claim's safety hold lifts (an adverse notice to a claimant at risk).
    held: bool = False


# --- webhooks -------------------------------------------------------------------------------


WebhookEventType = Literal[
    "claim.created",
    "claim.stage_changed",
    "claim.deadline_breached",
    "claim.safety_hold_changed",
    "claim.report_available",
    "claim.closed",
]


class WebhookIn(Input):
    model_config = example_config(
        {"url": "https://hooks.acme-ins.example/ime", "event_types": ["claim.closed"]}
    )

    url: Annotated[str, StringConstraints(min_length=8, max_length=2000)]
    # Empty: every event type.
    event_types: list[WebhookEventType] = Field(default_factory=list, max_length=10)
    # Ops register endpoints for an insurer; an insurer key registers for itself.
    insurer_id: Identifier | None = None


class WebhookOut(Model):
    id: str
    insurer_id: str
    url: str
    event_types: list[str]
    created_at: datetime
    rotated_at: datetime | None = None


class WebhookSecret(Model):
    """The signing secret (`whsec_...`): shown once, when made or rotated."""

    id: str
    secret: str


class WebhookCreated(WebhookOut):
    secret: str


class DeliveryOut(Model):
    id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    delivered_at: datetime | None = None
    created_at: datetime


# --- inbox ----------------------------------------------------------------------------------


class InboxHolder(Model):
    """Who has taken an item: a signed-in person (`user:<id>`) or an API key (`key:<id>`)."""

    id: str
    name: str | None = None


class InboxDoneBy(Model):
    """Who closed an item: a person (`user`), a key (`key`) or the service itself (`system`: a
    deadline rung, the claim's own step, the claim ending), and why (the event that did the
    step, `marked_done` when closed by hand)."""

    by: Literal["user", "key", "system"]
    name: str | None = None
    role: str | None = None
    reason: str | None = None


class InboxItem(Model):
    """Something the caller must act on now."""

    id: str
    kind: str  # the notification template, e.g. duty_to_protect_task
    claim_id: str
    case_id: str | None = None
    created_at: datetime
    due_at: datetime | None = None
    done_at: datetime | None = None
    # What the task is about; clinical detail only for the clinical chain.
    details: dict[str, Any] = Field(default_factory=dict)
    # The work queue (`work_queue`): the claim's jurisdiction and insurer, whether the item is
    # open past its due time, who has taken it and since when, and who closed it.
    jurisdiction: str | None = None
    insurer_id: str | None = None
    overdue: bool = False
    taken_by: InboxHolder | None = None
    taken_at: datetime | None = None
    done_by: InboxDoneBy | None = None
    # A reminder's or a breach's deadline (`report`, `decision_escalation`, ...).
    deadline: str | None = None


class InboxDone(Input):
    model_config = example_config({"note": "warned the police as required", "warned": ["police"]})

    note: Text
    # Whom was warned, or which authority told: required to close a duty-to-protect task.
    warned: list[ShortText] = Field(default_factory=list, max_length=20)


QueueOwner = Literal["me", "unowned", "anyone"]


class QueueQuery(Input):
    """Filters of the work queue (`GET /v1/inbox`, `GET /v1/inbox/queue`, the console); `cursor`
    continues from the previous page. `insurer_id` narrows ops' queue (everyone else sees their
    own scope only, whatever it says)."""

    kind: Annotated[str, StringConstraints(max_length=64)] | None = None
    jurisdiction: Identifier | None = None
    insurer_id: Identifier | None = None
    owner: QueueOwner = "anyone"
    include_done: bool = False
    limit: int = Field(default=100, ge=1, le=500)
    cursor: Annotated[str, StringConstraints(max_length=400)] | None = None


class QueuePage(Model):
    """A page of the work queue in queue order (overdue first, then by due time, no due time
    last, then oldest), with the caller's whole open queue counted by kind and overdue."""

    items: list[InboxItem]
    next_cursor: str | None = None
    counts_by_kind: dict[str, int] = Field(default_factory=dict)
    overdue: int = 0


class InboxHold(Input):
    """Taking or releasing an item: nothing to say (`{}`), a short note at most."""

    model_config = example_config({})

    note: ShortText | None = None
