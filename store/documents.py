"""Documents in Postgres (`domain.documents.DocumentStore`): each document's bytes in chunks of
1 MiB, every chunk sealed on its own (AES-256-GCM with the payload key ring, a nonce each) and
bound to its document and index, the file name sealed too; the row and the chunks of an upload
written in one transaction, so a refused upload leaves nothing.

Nothing here holds a whole document: a write keeps at most one chunk of plaintext, a read
fetches one chunk per statement.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from codec import CodecError, Sealer
from domain.documents import (
    DocumentKind,
    DocumentType,
    NewDocument,
    StoredDocument,
    new_document_id,
)
from domain.models import Caller
from store.db import Connection, Executor

CHUNK_BYTES = 1 << 20


class DocumentDamaged(Exception):
    """A stored document that does not read back whole: a chunk missing, moved or altered, or
    bytes that do not match the recorded size and digest. Says nothing of the content."""


def _chunk_context(document_id: str, seq: int) -> bytes:
    return f"document:{document_id}:chunk:{seq}".encode()


def _name_context(document_id: str) -> bytes:
    return f"document:{document_id}:filename".encode()


class _PendingPostgres:
    """One upload in its transaction: whole chunks are sealed and inserted as they fill up; the
    last, partial one waits in memory for `commit`."""

    def __init__(self, conn: Connection, sealer: Sealer, claim_id: str, chunk_bytes: int) -> None:
        self._conn = conn
        self._sealer = sealer
        self._claim_id = claim_id
        self._chunk_bytes = chunk_bytes
        self._id = new_document_id()
        self._buffer = bytearray()
        self._stored_chunks = 0
        self.committed = False

    @property
    def id(self) -> str:
        return self._id

    async def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= self._chunk_bytes:
            await self._flush(bytes(self._buffer[: self._chunk_bytes]))
            del self._buffer[: self._chunk_bytes]

    async def _flush(self, plaintext: bytes) -> None:
        seq = self._stored_chunks
        sealed = self._sealer.seal(plaintext, _chunk_context(self._id, seq))
        await self._conn.execute(
            "INSERT INTO document_chunks (document_id, seq, sealed) VALUES ($1, $2, $3)",
            self._id,
            seq,
            sealed,
        )
        self._stored_chunks += 1

    async def read(self, offset: int, size: int) -> bytes:
        out = bytearray()
        stored = self._stored_chunks * self._chunk_bytes
        while size > 0:
            if offset >= stored:  # the part still in memory
                start = offset - stored
                out += self._buffer[start : start + size]
                break
            seq, start = divmod(offset, self._chunk_bytes)
            chunk = await _chunk(self._conn, self._sealer, self._id, seq)
            piece = chunk[start : start + size]
            out += piece
            offset += len(piece)
            size -= len(piece)
        return bytes(out)

    async def commit(self, document: NewDocument) -> StoredDocument:
        if self._buffer:
            await self._flush(bytes(self._buffer))
            self._buffer.clear()
        # A generated document's key taken already (a retried send, or another dispatcher's
        # concurrent one: the insert waits for that transaction, then does nothing): this one's
        # chunks are rolled back with the transaction, and the stored document stands.
        uploaded_at: datetime | None = await self._conn.fetchval(
            """INSERT INTO documents
                   (id, claim_id, kind, filename_sealed, content_type, size, sha256,
                    chunk_bytes, chunks, report_version, uploaded_by, source_key)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               ON CONFLICT (source_key) DO NOTHING
               RETURNING uploaded_at""",
            self._id,
            document.claim_id,
            document.kind.value,
            self._sealer.seal(document.filename.encode(), _name_context(self._id)),
            document.content_type.value,
            document.size,
            document.sha256,
            self._chunk_bytes,
            self._stored_chunks,
            document.report_version,
            _caller_json(document.uploaded_by),
            document.source_key,
        )
        if uploaded_at is None:
            row = await self._conn.fetchrow(
                f"SELECT {_COLUMNS} FROM documents WHERE source_key = $1", document.source_key
            )
            assert row is not None  # only a key conflicts, and its document is committed
            return _document(self._sealer, row)
        self.committed = True
        return StoredDocument(
            id=self._id,
            claim_id=document.claim_id,
            kind=document.kind,
            filename=document.filename,
            content_type=document.content_type,
            size=document.size,
            sha256=document.sha256,
            report_version=document.report_version,
            uploaded_by=document.uploaded_by,
            uploaded_at=uploaded_at,
        )


class PostgresDocumentStore:
    def __init__(
        self, pool: asyncpg.Pool, sealer: Sealer, *, chunk_bytes: int = CHUNK_BYTES
    ) -> None:
        self._pool = pool
        self._sealer = sealer
        self._chunk_bytes = chunk_bytes

    @asynccontextmanager
    async def put(self, claim_id: str) -> AsyncIterator[_PendingPostgres]:
        """A document to write: kept if `commit` was called when the block ends, else (the block
        left early, or raised) rolled back with every chunk written so far."""
        async with self._pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            pending = _PendingPostgres(conn, self._sealer, claim_id, self._chunk_bytes)
            try:
                yield pending
            except BaseException:
                await transaction.rollback()
                raise
            if pending.committed:
                await transaction.commit()
            else:
                await transaction.rollback()

    async def get(self, claim_id: str, document_id: str) -> StoredDocument | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM documents"
            " WHERE id = $1 AND claim_id = $2 AND deleted_at IS NULL",
            document_id,
            claim_id,
        )
        return None if row is None else _document(self._sealer, row)

    async def of_claim(
        self, claim_id: str, kinds: Collection[DocumentKind]
    ) -> list[StoredDocument]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM documents"
            " WHERE claim_id = $1 AND kind = ANY($2::text[]) AND deleted_at IS NULL"
            " ORDER BY uploaded_at, id",
            claim_id,
            [kind.value for kind in kinds],
        )
        return [_document(self._sealer, row) for row in rows]

    async def open(self, document: StoredDocument) -> AsyncIterator[bytes]:
        """The bytes a chunk at a time, one statement each (no transaction or connection held
        while the client reads); checked against the recorded size and SHA-256 as they go. A
        document that does not read back whole raises `DocumentDamaged` mid-stream."""
        digest = hashlib.sha256()
        seen = 0
        seq = 0
        while seen < document.size:
            chunk = await _chunk(self._pool, self._sealer, document.id, seq)
            seen += len(chunk)
            if seen > document.size:
                raise DocumentDamaged("the document has more bytes than recorded")
            digest.update(chunk)
            yield chunk
            seq += 1
        if digest.hexdigest() != document.sha256:
            raise DocumentDamaged("the document does not match its recorded digest")

    async def delete(self, document_id: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM document_chunks WHERE document_id = $1", document_id)
            await conn.execute(
                "UPDATE documents SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL",
                document_id,
            )


def _document(sealer: Sealer, row: asyncpg.Record) -> StoredDocument:
    try:
        filename = sealer.open(row["filename_sealed"], _name_context(row["id"])).decode()
    except CodecError:
        raise DocumentDamaged("the document's name does not open") from None
    return StoredDocument(
        id=row["id"],
        claim_id=row["claim_id"],
        kind=DocumentKind(row["kind"]),
        filename=filename,
        content_type=DocumentType(row["content_type"]),
        size=row["size"],
        sha256=row["sha256"],
        report_version=row["report_version"],
        uploaded_by=Caller.model_validate(row["uploaded_by"]),
        uploaded_at=row["uploaded_at"],
    )


_COLUMNS = (
    "id, claim_id, kind, filename_sealed, content_type, size, sha256, report_version,"
    " uploaded_by, uploaded_at"
)


async def _chunk(db: Executor, sealer: Sealer, document_id: str, seq: int) -> bytes:
    sealed = await db.fetchval(
        "SELECT sealed FROM document_chunks WHERE document_id = $1 AND seq = $2",
        document_id,
        seq,
    )
    if sealed is None:
        raise DocumentDamaged("a chunk of the document is missing")
    try:
        return sealer.open(sealed, _chunk_context(document_id, seq))
    except CodecError:
        raise DocumentDamaged("a chunk of the document does not open") from None


def _caller_json(caller: Caller) -> dict[str, Any]:
    return caller.model_dump(mode="json", exclude_none=True)
