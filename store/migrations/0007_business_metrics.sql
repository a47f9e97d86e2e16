-- What the business metrics (`store.metrics`, scraped on /metrics) read: each count comes from an
-- index (or a counter row), so a scrape stays cheap however many claims, events and deliveries
-- accumulate. Open claims by stage are read from claims_stage_updated.

-- Closed claims by outcome: an index-only scan of the closed claims.
CREATE INDEX claims_closed_outcome ON claims (outcome) WHERE stage = 'CLOSED';
-- Overdue claims and claims on safety hold: a handful among many.
CREATE INDEX claims_overdue ON claims (stage) WHERE overdue;
CREATE INDEX claims_safety_hold ON claims (claim_id) WHERE safety_hold;
-- Deliveries not delivered (yet), by channel and status: delivered ones are the vast majority.
CREATE INDEX deliveries_undelivered ON deliveries (channel, status)
    WHERE status IN ('pending', 'failed', 'dead');

-- Deadline breaches by owner, counted as the audit log records them. A counter rather than an
-- index: the owner is inside `details`, so an index on it could not answer without reading every
-- breach event's row, and breaches only ever add up.
CREATE TABLE deadline_breach_counts (
    owner    text PRIMARY KEY,
    breaches bigint NOT NULL
);

CREATE FUNCTION count_deadline_breach() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deadline_breach_counts (owner, breaches)
    VALUES (COALESCE(NEW.details->>'owner', 'unknown'), 1)
    ON CONFLICT (owner) DO UPDATE SET breaches = deadline_breach_counts.breaches + 1;
    RETURN NULL;
END $$;

-- No event may be appended between the count of those already there and the trigger.
LOCK TABLE claim_events IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO deadline_breach_counts (owner, breaches)
SELECT COALESCE(details->>'owner', 'unknown'), count(*)
  FROM claim_events WHERE type = 'deadline_breached' GROUP BY 1;
-- claim_events is append-only and idempotent (ON CONFLICT DO NOTHING): a row inserted is a
-- breach recorded once. Counted at commit (deferred), so a transition holds its owner's counter
-- row for the commit only, not for the whole transaction: breaches falling due together do not
-- queue behind each other.
CREATE CONSTRAINT TRIGGER claim_events_count_breaches AFTER INSERT ON claim_events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.type = 'deadline_breached') EXECUTE FUNCTION count_deadline_breach();
