-- The examination report and its addenda: one row per version, the body sealed at rest (AES-GCM
-- with the payload key ring), written in the transaction of the transition that records it.
--
-- A verdict (accepted, addendum requested) may reach Postgres before the version it decides on
-- (activities are at-least-once and may run out of order): it then leaves the row with its status
-- and no body yet, and the version's own write fills the body in. `status_seq` is the audit event
-- that set the status, so an older write never overrides a newer verdict.
CREATE TABLE claim_reports (
    claim_id     text NOT NULL,
    version      integer NOT NULL CHECK (version >= 1),
    kind         text NOT NULL CHECK (kind IN ('report', 'addendum')),
    sealed       bytea,
    submitted_at timestamptz,
    -- Who filed it: role, key id, examiner id (never a name of the claimant).
    submitted_by jsonb,
    status       text NOT NULL
                 CHECK (status IN ('submitted', 'qa_failed', 'addendum_requested', 'accepted')),
    status_seq   integer NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (claim_id, version),
    CHECK ((sealed IS NULL) = (submitted_at IS NULL))
);

-- The body is written once: after that only the status may change, and no row goes away.
CREATE FUNCTION claim_reports_body_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'claim_reports is append-only';
    END IF;
    IF NEW.claim_id IS DISTINCT FROM OLD.claim_id OR NEW.version IS DISTINCT FROM OLD.version
       OR NEW.kind IS DISTINCT FROM OLD.kind
       OR (OLD.sealed IS NOT NULL AND (NEW.sealed IS DISTINCT FROM OLD.sealed
                                       OR NEW.submitted_at IS DISTINCT FROM OLD.submitted_at
                                       OR NEW.submitted_by IS DISTINCT FROM OLD.submitted_by)) THEN
        RAISE EXCEPTION 'claim_reports is append-only: only a version''s status changes';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER claim_reports_append_only BEFORE UPDATE OR DELETE ON claim_reports
    FOR EACH ROW EXECUTE FUNCTION claim_reports_body_append_only();
