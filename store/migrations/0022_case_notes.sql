-- A clinician's notes on a safety case step (the resolution's notes): clinical, so for
-- clinicians only, stored sealed (bound to the case and step) beside the step, in its
-- transaction: they outlive the case workflow's history, until the retention sweep destroys them.
CREATE TABLE safety_case_notes (
    case_id     text NOT NULL,
    seq         integer NOT NULL,
    claim_id    text NOT NULL,
    sealed_note bytea NOT NULL,
    PRIMARY KEY (case_id, seq),
    FOREIGN KEY (case_id, seq) REFERENCES safety_case_events (case_id, seq)
);
CREATE INDEX safety_case_notes_claim ON safety_case_notes (claim_id);
