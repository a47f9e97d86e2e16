-- What a person wrote when they acted (a withdrawal's, decline's, reschedule's, extension's or
-- waiver's reason, a decision's notes): free text, so PHI-capable, stored sealed (the payload key
-- ring, bound to the event's claim, lineage and sequence number) beside the event it explains,
-- written in the event's transaction. A table of its own: the event log is append-only, and the
-- retention sweep destroys notes with the claim's other contents.
CREATE TABLE claim_event_notes (
    claim_id    text NOT NULL,
    lineage     text NOT NULL DEFAULT '',
    seq         integer NOT NULL,
    sealed_note bytea NOT NULL,
    PRIMARY KEY (claim_id, lineage, seq),
    FOREIGN KEY (claim_id, lineage, seq) REFERENCES claim_events (claim_id, lineage, seq)
);
