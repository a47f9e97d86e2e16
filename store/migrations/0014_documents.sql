-- A claim's documents (issue 18): records in, signed report PDFs out, letters to the claimant.
--
-- The bytes are kept in chunks (1 MiB of plaintext each), every chunk sealed on its own with the
-- payload key ring (AES-256-GCM, its own nonce) and bound to its document and place (the
-- associated data): a chunk cannot be moved to another document or another position. The file
-- name can say whose file it is ("Jane_Doe_MRI.pdf"), so it is sealed too; what stays in clear is
-- what the service needs to decide and serve: kind, type, size, digest, who uploaded and when.
--
-- A document is written in one transaction: its chunks as they arrive, its row last (the
-- foreign key is checked at commit), so an upload refused half-way leaves nothing behind.
CREATE TABLE documents (
    id              text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    claim_id        text NOT NULL,
    kind            text NOT NULL
                    CHECK (kind IN ('records', 'report_pdf', 'addendum_pdf', 'letter')),
    -- The sanitised name (at most 255 characters), sealed; opened only for those who may read
    -- the document.
    filename_sealed bytea NOT NULL,
    content_type    text NOT NULL CHECK (content_type IN (
                        'application/pdf', 'image/tiff', 'image/jpeg', 'image/png',
                        'application/vnd.openxmlformats-officedocument.wordprocessingml.document')),
    size            bigint NOT NULL CHECK (size > 0),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    chunk_bytes     integer NOT NULL CHECK (chunk_bytes > 0),
    chunks          integer NOT NULL CHECK (chunks > 0),
    -- The report version a report or addendum PDF accompanies (a version of claim_reports).
    report_version  integer CHECK (report_version >= 1),
    -- Who uploaded it (`Caller`: role, key, scope, person); the service for a letter.
    uploaded_by     jsonb NOT NULL,
    uploaded_at     timestamptz NOT NULL DEFAULT now(),
    -- Set when the bytes are destroyed (retention); the row stays for the audit.
    deleted_at      timestamptz,
    CHECK ((report_version IS NULL) OR kind IN ('report_pdf', 'addendum_pdf'))
);
CREATE INDEX documents_claim ON documents (claim_id, uploaded_at, id);

CREATE TABLE document_chunks (
    document_id text NOT NULL
                REFERENCES documents (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    seq         integer NOT NULL CHECK (seq >= 0),
    sealed      bytea NOT NULL,
    PRIMARY KEY (document_id, seq)
);
-- Ciphertext does not compress: store it out of line without trying.
ALTER TABLE document_chunks ALTER COLUMN sealed SET STORAGE EXTERNAL;

-- Which document an access-log row read or wrote (an upload, a download).
ALTER TABLE access_log ADD COLUMN document_id text;
