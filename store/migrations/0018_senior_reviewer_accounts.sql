-- Senior reviewers as people (issue 18): the escalation chain's senior reviewer (0006) signs in
-- at the console like any reviewer. Accounts take the roles API keys take.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('ops', 'insurer', 'examiner', 'reviewer', 'senior_reviewer', 'clinician', 'sre'));
