-- An insurer's supervisor (issue 18): an insurer account flagged `supervisor` gets the console's
-- team page (their insurer's overdue decisions). The flag grants a page, not data: a supervisor
-- reads what any caller of their insurer may read. Only insurer accounts may carry it.
ALTER TABLE users ADD COLUMN supervisor boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD CONSTRAINT users_supervisor_is_insurer CHECK (NOT supervisor OR role = 'insurer');
