-- An examiner's away periods (issue 18): whole days, `ends_on` inclusive, in the examiner's local
-- sense. The booking reads a day in the timezone it books in (the claim's profile timezone,
-- `ScheduleRequest.timezone`) and never offers a slot touching an away day (`store.panel`).
-- Replaced as a list (`PUT /v1/examiners/{id}/away`): a period sent again keeps its row, so
-- `created_at` / `created_by` (the `Caller`: role, key, scope, person) say who first set it.
CREATE TABLE examiner_away (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    examiner_id text NOT NULL REFERENCES examiners (id),
    starts_on   date NOT NULL,
    ends_on     date NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  jsonb NOT NULL,
    CONSTRAINT examiner_away_ends_after_start CHECK (ends_on >= starts_on),
    -- One examiner's periods never overlap (the API refuses it first, with a 422).
    CONSTRAINT examiner_away_no_overlap EXCLUDE USING gist (
        examiner_id WITH =, daterange(starts_on, ends_on, '[]') WITH &&
    )
);
