-- Delivery: every notification reaches its recipient (webhooks, email, paging, inboxes).

-- Notification details are sealed at rest (AES-GCM with the payload key ring): they can hold
-- clinical notes. `details` stays for rows written before.
ALTER TABLE notification_outbox ADD COLUMN sealed_details bytea;

-- Who a claim's claimant is, for the notices they get (email): sealed, written at intake.
CREATE TABLE claim_contacts (
    claim_id   text PRIMARY KEY,
    sealed     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE examiners ADD COLUMN email text;
UPDATE examiners SET email = id || '@examiners.example.org' WHERE email IS NULL;

-- Insurers' webhook endpoints; the signing secret is sealed and never shown after creation.
CREATE TABLE webhooks (
    id           text PRIMARY KEY,
    insurer_id   text NOT NULL,
    url          text NOT NULL,
    event_types  text[] NOT NULL,
    sealed_secret bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    rotated_at   timestamptz,
    deleted_at   timestamptz
);
CREATE INDEX webhooks_insurer ON webhooks (insurer_id) WHERE deleted_at IS NULL;

-- One row per message to send on one channel; the dispatcher's work list. A dispatcher claims a
-- row with a lease (FOR UPDATE SKIP LOCKED), sends, and records the attempt; a row whose lease
-- lapsed (its dispatcher died) is claimed again. `dedup` makes creation idempotent.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    dedup           text NOT NULL UNIQUE,
    channel         text NOT NULL CHECK (channel IN ('webhook', 'email', 'page')),
    claim_id        text NOT NULL,
    webhook_id      text REFERENCES webhooks (id),
    outbox_key      text REFERENCES notification_outbox (key),
    event_type      text NOT NULL,
    sealed_body     bytea NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'failed', 'delivered', 'dead', 'held')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    lease_owner     text,
    last_error      text,
    give_up_at      timestamptz NOT NULL,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at) WHERE webhook_id IS NOT NULL;
CREATE INDEX deliveries_held ON deliveries (claim_id) WHERE status = 'held';

-- What someone must act on now: one item per actionable notification, open until done.
CREATE TABLE inbox_items (
    id             uuid PRIMARY KEY,
    outbox_key     text NOT NULL UNIQUE REFERENCES notification_outbox (key),
    role           text NOT NULL,
    insurer_id     text,
    examiner_id    text,
    kind           text NOT NULL,
    claim_id       text NOT NULL,
    case_id        text,
    sealed_details bytea,
    due_at         timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    done_at        timestamptz,
    done_by        jsonb,
    sealed_note    bytea
);
CREATE INDEX inbox_open ON inbox_items (role, created_at) WHERE done_at IS NULL;
