-- Who is calling: API keys, the access log, idempotency records, truthful actors, and what each
-- role may see of a claim.

-- API keys: the secret is never stored, only its keyed hash; `id` is the key's public prefix.
CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    secret_hash  bytea NOT NULL,
    role         text NOT NULL
                 CHECK (role IN ('ops', 'insurer', 'examiner', 'reviewer', 'clinician', 'sre')),
    insurer_id   text,
    examiner_id  text,
    name         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CHECK ((role = 'insurer') = (insurer_id IS NOT NULL)),
    CHECK ((role = 'examiner') = (examiner_id IS NOT NULL))
);

-- Every read of a claim, its events or its report, and every action (HIPAA 164.312(b)).
-- Append-only; no PHI: who (key, role, scope), what (route template, action), which claim, when,
-- and the answer's status code.
CREATE TABLE access_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    key_id      text,
    role        text,
    insurer_id  text,
    examiner_id text,
    method      text NOT NULL,
    route       text NOT NULL,
    claim_id    text,
    action      text,
    status      integer NOT NULL,
    request_id  text
);
CREATE INDEX access_log_claim ON access_log (claim_id, id) WHERE claim_id IS NOT NULL;

CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'access_log is append-only';
END $$;
CREATE TRIGGER access_log_no_update BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();

-- The first answer to an action sent with an Idempotency-Key, per caller: a retry gets it back;
-- the same key with a different request is refused.
CREATE TABLE idempotency_keys (
    caller          text NOT NULL,
    idempotency_key text NOT NULL,
    claim_id        text NOT NULL,
    action          text NOT NULL,
    request_hash    text NOT NULL,
    status          integer NOT NULL,
    body            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, idempotency_key)
);

-- Who acted, for every event a person caused (role, key id and name, insurer or examiner id).
ALTER TABLE claim_events ADD COLUMN acted_by jsonb;

-- What roles whose work is one part of a claim may read: reviewers the claims whose report was
-- submitted, clinicians the claims that had a safety case. Monotonic flags kept with the events.
ALTER TABLE claims ADD COLUMN reached_review boolean NOT NULL DEFAULT false;
ALTER TABLE claims ADD COLUMN had_safety_case boolean NOT NULL DEFAULT false;
UPDATE claims c SET
    reached_review = EXISTS (SELECT 1 FROM claim_events e
                             WHERE e.claim_id = c.claim_id AND e.type = 'report_submitted'),
    had_safety_case = EXISTS (SELECT 1 FROM claim_events e
                              WHERE e.claim_id = c.claim_id AND e.type = 'safety_hold_placed');
CREATE INDEX claims_examiner_updated ON claims (examiner_id, updated_at, claim_id);
