-- Finding a claim by its claimant: the keyed hash of the claimant's name and date of birth
-- (`domain.ids.claimant_key`, the conflict check's pseudonym), kept beside the sealed contact.
-- Never a plaintext index of names. Claims referred before this have none (found by number).
ALTER TABLE claim_contacts ADD COLUMN claimant_key text;
CREATE INDEX claim_contacts_claimant ON claim_contacts (claimant_key) WHERE claimant_key IS NOT NULL;

-- The claims list sorted by the next deadline (the console's default order).
CREATE INDEX claims_next_deadline ON claims ((coalesce(next_deadline, 'infinity'::timestamptz)), claim_id);

-- What ops' assign form checks examiners against, kept at intake (the workflow's booking asks
-- the same rules of `store.panel.search`): the specialty asked for, the state whose licence the
-- examiner needs, and the claimant's treating providers (a conflict). No claimant identity.
ALTER TABLE claim_contacts ADD COLUMN specialty text,
                           ADD COLUMN licence_state text,
                           ADD COLUMN treating_npis text[];
