-- The steps of each safety case (PRODUCT §4): its own append-only timeline, apart from the
-- claim's because the case is a workflow of its own that can outlive the claim. The claim's
-- timeline shows them, merged in time order, to ops and clinicians only. Never clinical notes.
CREATE TABLE safety_case_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id     text NOT NULL,
    -- The case workflow's own sequence (idempotent on (case_id, seq): a retried activity adds
    -- nothing); NULL for a record made outside the workflow, which names its inbox item instead
    -- (ops closing the case's duty-to-protect task, once per item).
    seq         integer,
    inbox_item  uuid UNIQUE,
    claim_id    text NOT NULL,
    type        text NOT NULL,
    actor       text NOT NULL,
    at          timestamptz NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    acted_by    jsonb,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (case_id, seq),
    CHECK ((seq IS NULL) <> (inbox_item IS NULL))
);
CREATE INDEX safety_case_events_claim ON safety_case_events (claim_id, at);

CREATE FUNCTION safety_case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'safety_case_events is append-only';
END $$;
CREATE TRIGGER safety_case_events_no_update BEFORE UPDATE OR DELETE ON safety_case_events
    FOR EACH ROW EXECUTE FUNCTION safety_case_events_append_only();
