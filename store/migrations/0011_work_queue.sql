-- The inbox as a work queue (`work_queue`): who has taken an item and since when, the claim's
-- jurisdiction (a filter of the queue, copied at insert), and the queue's order on open items.
ALTER TABLE inbox_items
    ADD COLUMN taken_by_id   text,
    ADD COLUMN taken_by_name text,
    ADD COLUMN taken_at      timestamptz,
    ADD COLUMN jurisdiction  text;

UPDATE inbox_items i SET jurisdiction = c.jurisdiction
FROM claims c WHERE c.claim_id = i.claim_id AND i.jurisdiction IS NULL;

-- Open items of a role in queue order: by due time (no due time last), then oldest.
CREATE INDEX inbox_queue ON inbox_items (role, due_at, created_at, id) WHERE done_at IS NULL;
-- A holder's open items ("mine").
CREATE INDEX inbox_taken ON inbox_items (taken_by_id) WHERE done_at IS NULL AND taken_by_id IS NOT NULL;
