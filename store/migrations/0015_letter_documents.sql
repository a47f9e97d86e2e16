-- A claimant's letter is stored as a `letter` document by the dispatcher that emails it
-- (`delivery.relay`), before the email goes out. A delivery is sent at least once — retried after
-- a failure, or sent again by a second dispatcher when the first one's lease lapsed mid-send — so
-- the letter is keyed by the notification it was written for (its outbox key): the unique index
-- keeps one document per notification, whichever dispatcher gets there first, and the others
-- attach the stored letter rather than a second rendering of it.
--
-- NULL for everything uploaded (nothing generated it); NULLs never conflict.
ALTER TABLE documents ADD COLUMN source_key text UNIQUE;
