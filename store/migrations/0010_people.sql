-- People at the console (`people`): accounts, one-time sign-up links, sessions, failed sign-ins;
-- and the access log names the person who acted.

-- An account: one person. The password is kept as an argon2id hash only; the authenticator's
-- secret sealed with the payload key ring (`codec.Sealer`). `last_totp_step`: the time-step of
-- the last code accepted, so that a code is never accepted twice. Emails are unique whatever
-- their case; the role and scope follow the same rules as API keys.
CREATE TABLE users (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email              text NOT NULL,
    name               text NOT NULL,
    role               text NOT NULL
                       CHECK (role IN ('ops', 'insurer', 'examiner', 'reviewer', 'clinician', 'sre')),
    insurer_id         text,
    examiner_id        text,
    active             boolean NOT NULL DEFAULT true,
    password_hash      text,
    sealed_totp_secret bytea,
    last_totp_step     bigint,
    created_at         timestamptz NOT NULL DEFAULT now(),
    deactivated_at     timestamptz,
    last_sign_in_at    timestamptz,
    CHECK ((role = 'insurer') = (insurer_id IS NOT NULL)),
    CHECK ((role = 'examiner') = (examiner_id IS NOT NULL))
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- A one-time link to set a password and an authenticator (a new person), or an authenticator
-- alone (after a reset). Only the SHA-256 of its token is kept. The pending authenticator secret
-- is made once per link, when it is first opened, and kept sealed until the sign-up completes.
CREATE TABLE sign_up_links (
    token_hash            bytea PRIMARY KEY,
    user_id               uuid NOT NULL REFERENCES users (id),
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL,
    used_at               timestamptz,
    sealed_pending_secret bytea
);
CREATE INDEX sign_up_links_user ON sign_up_links (user_id) WHERE used_at IS NULL;

-- A console session: `id` is the SHA-256 of the cookie's token (a leaked table signs nobody
-- in). It ends after `idle_expires_at` (pushed on while used, HIPAA 164.312(a)(2)(iii)), at
-- `absolute_expires_at` whatever happens, or when revoked.
CREATE TABLE console_sessions (
    id                  bytea PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id),
    csrf_token          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    idle_expires_at     timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    revoked_at          timestamptz
);
CREATE INDEX console_sessions_user ON console_sessions (user_id) WHERE revoked_at IS NULL;

-- Failed sign-ins, counted per account and per client address over a sliding window (shared by
-- every API process). `account` is a keyed hash of the email as typed, lowercased: an email that
-- names no account is limited the same (no account enumeration) and is never stored.
CREATE TABLE sign_in_failures (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    account text NOT NULL,
    address text
);
CREATE INDEX sign_in_failures_account ON sign_in_failures (account, at);
CREATE INDEX sign_in_failures_address ON sign_in_failures (address, at) WHERE address IS NOT NULL;
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);

-- `user_id`: the person who acted (signed in at the console), as `key_id` is the key.
-- `target_user_id`: the person an account event is about when someone else acted (ops
-- deactivating an account or resetting its authenticator).
ALTER TABLE access_log ADD COLUMN user_id text,
                       ADD COLUMN target_user_id text;
CREATE INDEX access_log_user ON access_log (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX access_log_target_user ON access_log (target_user_id, id)
    WHERE target_user_id IS NOT NULL;
