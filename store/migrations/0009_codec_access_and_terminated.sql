-- Every use of the codec server is an access-log row too (who decrypted how many payloads, and
-- for which namespace and workflow when the caller says), and what the reconciler looks for in
-- terminated claims: what they leave dangling.

-- `credential`: how the caller proved who they are, 'key' (Authorization) or 'codec_session'
-- (the Temporal UI's cookie, codec routes only); null on rows written before it. `payloads`: how many
-- payloads a codec request carried (never their content). `namespace`: the X-Namespace header;
-- `workflow_id`: the workflow the caller named, when it named one of ours (and then `claim_id`
-- is its claim, so that `starter.py access-log --claim` lists it).
ALTER TABLE access_log ADD COLUMN credential text,
                       ADD COLUMN payloads integer,
                       ADD COLUMN namespace text,
                       ADD COLUMN workflow_id text;

-- The reconciler's sweep looks at the few claims closed as terminated (store.reconcile), and at
-- a claim's open inbox items.
CREATE INDEX claims_terminated ON claims (claim_id) WHERE outcome = 'terminated';
CREATE INDEX inbox_items_claim_open ON inbox_items (claim_id) WHERE done_at IS NULL;
