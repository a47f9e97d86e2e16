-- Operator resets (Temporal reset, docs/operations.md "Resetting a claim"): a reset claim writes
-- as a new lineage, so that its events, report versions and notices never collide with what the
-- run before did from the reset point on, which stays in the log, superseded.

-- Every event belongs to a lineage ('' the claim's first); (claim, lineage, seq) is unique.
ALTER TABLE claim_events ADD COLUMN lineage text NOT NULL DEFAULT '';
ALTER TABLE claim_events DROP CONSTRAINT claim_events_pkey;
ALTER TABLE claim_events ADD PRIMARY KEY (claim_id, lineage, seq);

-- The lineage whose writes the projection follows.
ALTER TABLE claims ADD COLUMN lineage text NOT NULL DEFAULT '';

-- Each reset lineage: the one it branched from, where, and when it was first seen.
CREATE TABLE claim_lineages (
    claim_id    text NOT NULL,
    lineage     text NOT NULL CHECK (lineage <> ''),
    parent      text NOT NULL,
    from_seq    integer NOT NULL CHECK (from_seq >= 1),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (claim_id, lineage)
);

-- Report versions are their lineage's own too; `filed_seq`: the event that filed the body.
ALTER TABLE claim_reports ADD COLUMN lineage text NOT NULL DEFAULT '';
ALTER TABLE claim_reports ADD COLUMN filed_seq integer;
ALTER TABLE claim_reports DROP CONSTRAINT claim_reports_pkey;
ALTER TABLE claim_reports ADD PRIMARY KEY (claim_id, lineage, version);
