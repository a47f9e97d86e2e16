-- Retention (issue 18): a closed claim's documents, report contents, clinical notes and claimant
-- contact are destroyed once its profile's retention period has passed (`store.retention`, run by
-- the `RetentionSweep` workflow), unless ops put the claim under a legal hold. What is destroyed
-- goes for good; the rows stay (metadata only) so that the audit still says what there was.

-- When the claim closed: set by Postgres whichever write closes it (the workflow's projection,
-- the reconciler), cleared if it ever opens again. Claims closed before this: their last update.
ALTER TABLE claims ADD COLUMN closed_at timestamptz,
                   ADD COLUMN legal_hold boolean NOT NULL DEFAULT false,
                   ADD COLUMN records_destroyed_at timestamptz;
UPDATE claims SET closed_at = updated_at WHERE status = 'closed';

CREATE FUNCTION claims_closed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> 'closed' THEN
        NEW.closed_at := NULL;
    ELSIF NEW.closed_at IS NULL THEN
        NEW.closed_at := NEW.updated_at;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER claims_closed_at BEFORE INSERT OR UPDATE ON claims
    FOR EACH ROW EXECUTE FUNCTION claims_closed_at();

-- What the sweep looks for: closed, not yet destroyed, not held.
CREATE INDEX claims_retention_due ON claims (closed_at, claim_id)
    WHERE closed_at IS NOT NULL AND records_destroyed_at IS NULL AND NOT legal_hold;

-- The claim's own record-keeping steps, apart from `claim_events` (whose sequence belongs to the
-- claim's workflow: a hold can be set on an open claim, and a step written there from outside
-- would take the number of the workflow's next event). Merged into the claim's timeline like
-- the safety cases' steps. Append-only; `dedup` makes each step once (one `records_destroyed`
-- per claim; the n-th hold placed or lifted). `details` never holds PHI: counts and codes.
CREATE TABLE claim_record_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    claim_id    text NOT NULL REFERENCES claims (claim_id),
    dedup       text NOT NULL UNIQUE,
    type        text NOT NULL
                CHECK (type IN ('legal_hold_placed', 'legal_hold_lifted', 'records_destroyed')),
    stage       text NOT NULL,
    actor       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    acted_by    jsonb
);
CREATE INDEX claim_record_events_claim ON claim_record_events (claim_id, at);

CREATE FUNCTION claim_record_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'claim_record_events is append-only';
END $$;
CREATE TRIGGER claim_record_events_no_update BEFORE UPDATE OR DELETE ON claim_record_events
    FOR EACH ROW EXECUTE FUNCTION claim_record_events_append_only();

-- A destroyed document keeps its row (kind, size, digest, who uploaded, when) without its name.
ALTER TABLE documents ALTER COLUMN filename_sealed DROP NOT NULL,
                      ADD CONSTRAINT documents_name_until_destroyed
                          CHECK (filename_sealed IS NOT NULL OR deleted_at IS NOT NULL);

-- The claimant's contact (name, address, email, date of birth) goes; the keyed pseudonym stays
-- (the conflict rule of 12 NYCRR 300.2(a) looks at past claims by it).
ALTER TABLE claim_contacts ALTER COLUMN sealed DROP NOT NULL,
                           ADD COLUMN destroyed_at timestamptz;

-- A report version whose contents were destroyed: status, kind, who filed it and when stay.
ALTER TABLE claim_reports ADD COLUMN destroyed_at timestamptz;
ALTER TABLE claim_reports DROP CONSTRAINT claim_reports_check,
    ADD CONSTRAINT claim_reports_body_until_destroyed
        CHECK (destroyed_at IS NOT NULL OR (sealed IS NULL) = (submitted_at IS NULL));

-- The body and the reasons are still written once; retention may empty them, once, and a
-- destroyed version never changes again (a late, retried write of it is skipped, not refused:
-- the activity that sent it must not fail for ever).
CREATE OR REPLACE FUNCTION claim_reports_body_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'claim_reports is append-only';
    END IF;
    IF OLD.destroyed_at IS NOT NULL THEN
        RETURN NULL;
    END IF;
    IF NEW.claim_id IS DISTINCT FROM OLD.claim_id OR NEW.version IS DISTINCT FROM OLD.version
       OR NEW.kind IS DISTINCT FROM OLD.kind OR NEW.lineage IS DISTINCT FROM OLD.lineage THEN
        RAISE EXCEPTION 'claim_reports is append-only: only a version''s status changes';
    END IF;
    IF NEW.destroyed_at IS NOT NULL THEN
        IF NEW.sealed IS NOT NULL OR NEW.addendum_reasons IS NOT NULL THEN
            RAISE EXCEPTION 'claim_reports: a destroyed version keeps no contents';
        END IF;
        RETURN NEW;
    END IF;
    IF (OLD.sealed IS NOT NULL AND (NEW.sealed IS DISTINCT FROM OLD.sealed
                                    OR NEW.submitted_at IS DISTINCT FROM OLD.submitted_at
                                    OR NEW.submitted_by IS DISTINCT FROM OLD.submitted_by))
       OR (OLD.addendum_reasons IS NOT NULL
           AND NEW.addendum_reasons IS DISTINCT FROM OLD.addendum_reasons) THEN
        RAISE EXCEPTION 'claim_reports is append-only: only a version''s status changes';
    END IF;
    RETURN NEW;
END $$;
