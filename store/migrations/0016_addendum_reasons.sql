-- Why a report version went back for an addendum (issue 18): the reviewer's reasons as written,
-- or the automatic QA checklist's findings, shown to the report's readers with the version.
-- Reasons are free text and may name the claimant, so they are sealed (a JSON list, with the
-- payload key ring, bound to the row: claim, lineage, version) and never written to the audit
-- log, which keeps only their count. NULL: no reasons (a version never sent back, or sent back
-- before reasons were kept).
ALTER TABLE claim_reports ADD COLUMN addendum_reasons bytea;

-- The reasons are written once, like the body: after that only the status may change.
CREATE OR REPLACE FUNCTION claim_reports_body_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'claim_reports is append-only';
    END IF;
    IF NEW.claim_id IS DISTINCT FROM OLD.claim_id OR NEW.version IS DISTINCT FROM OLD.version
       OR NEW.kind IS DISTINCT FROM OLD.kind
       OR (OLD.sealed IS NOT NULL AND (NEW.sealed IS DISTINCT FROM OLD.sealed
                                       OR NEW.submitted_at IS DISTINCT FROM OLD.submitted_at
                                       OR NEW.submitted_by IS DISTINCT FROM OLD.submitted_by))
       OR (OLD.addendum_reasons IS NOT NULL
           AND NEW.addendum_reasons IS DISTINCT FROM OLD.addendum_reasons) THEN
        RAISE EXCEPTION 'claim_reports is append-only: only a version''s status changes';
    END IF;
    RETURN NEW;
END $$;
