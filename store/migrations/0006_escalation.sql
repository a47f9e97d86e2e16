-- The escalation chain: a senior reviewer is told of an overdue review and may review.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('ops', 'insurer', 'examiner', 'reviewer', 'senior_reviewer', 'clinician', 'sre'));
