-- Panel, appointments, status projection, audit log and notification outbox.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE examiners (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    npi             text NOT NULL UNIQUE,
    specialty       text NOT NULL,
    licensed_states text[] NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    capacity        integer NOT NULL DEFAULT 20 CHECK (capacity > 0),
    location        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX examiners_specialty_active ON examiners (specialty) WHERE active;

-- One row per booking attempt of a claim; the exclusion constraint makes double booking of an
-- examiner impossible whatever the application does.
CREATE TABLE appointments (
    id           text PRIMARY KEY,
    claim_id     text NOT NULL,
    attempt      integer NOT NULL,
    examiner_id  text NOT NULL REFERENCES examiners (id),
    claimant_key text NOT NULL,
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
    location     text NOT NULL,
    status       text NOT NULL DEFAULT 'booked'
                 CHECK (status IN ('booked', 'cancelled', 'attended', 'no_show')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (claim_id, attempt),
    CONSTRAINT appointments_no_double_booking EXCLUDE USING gist (
        examiner_id WITH =, tstzrange(starts_at, ends_at) WITH &&
    ) WHERE (status = 'booked')
);
CREATE INDEX appointments_claimant ON appointments (claimant_key);
CREATE INDEX appointments_examiner_open ON appointments (examiner_id) WHERE status = 'booked';

-- Status projection that insurers poll: written only by workflow activities (and the first row by
-- the API), monotonic in `version`.
CREATE TABLE claims (
    claim_id      text PRIMARY KEY,
    workflow_id   text NOT NULL UNIQUE,
    insurer_id    text NOT NULL,
    claim_number  text NOT NULL,
    referral_hash text,
    claim_type    text NOT NULL,
    jurisdiction  text NOT NULL,
    stage         text NOT NULL,
    status        text NOT NULL,
    outcome       text,
    safety_hold   boolean NOT NULL DEFAULT false,
    examiner_id   text,
    overdue       boolean NOT NULL DEFAULT false,
    next_deadline timestamptz,
    body          jsonb NOT NULL,
    version       integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (insurer_id, claim_number)
);
CREATE INDEX claims_insurer_updated ON claims (insurer_id, updated_at, claim_id);
CREATE INDEX claims_stage_updated ON claims (stage, updated_at, claim_id);

-- Append-only audit log, idempotent on (claim, sequence).
CREATE TABLE claim_events (
    claim_id    text NOT NULL,
    seq         integer NOT NULL,
    type        text NOT NULL,
    stage       text NOT NULL,
    actor       text NOT NULL,
    at          timestamptz NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (claim_id, seq)
);

CREATE FUNCTION claim_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'claim_events is append-only';
END $$;
CREATE TRIGGER claim_events_no_update BEFORE UPDATE OR DELETE ON claim_events
    FOR EACH ROW EXECUTE FUNCTION claim_events_append_only();

-- Every outgoing message, keyed by an idempotency key (claim + step), so a retried activity
-- never sends twice.
CREATE TABLE notification_outbox (
    key        text PRIMARY KEY,
    claim_id   text NOT NULL,
    recipient  text NOT NULL,
    template   text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX notification_outbox_unsent ON notification_outbox (created_at) WHERE sent_at IS NULL;
