"""A claim's documents for a caller: upload (streamed, typed by content, checked, sealed as it
arrives), list, download. The one path the HTTP API and the console share; the rules are the
tables of `domain.documents`, the bytes live behind `domain.documents.DocumentStore`.

An upload never holds its file in memory nor writes it to disk in clear: the multipart body is
parsed as it streams (python-multipart's callback parser), each piece goes to the store, which
seals a chunk at a time inside the upload's transaction; the SHA-256 and the size are counted on
the way. A PDF is then parsed (pypdf) and a DOCX's `[Content_Types].xml` read (zipfile) over the
sealed chunks themselves, opened one at a time. Anything refused rolls the transaction back.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
import warnings
import zipfile
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote

import asyncpg
from pypdf import PasswordType, PdfReader
from pypdf.errors import PdfReadWarning
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from domain.documents import (
    ACCEPTED,
    ACCEPTED_NAMES,
    HEAD_BYTES,
    REPORT_KINDS,
    SERVICE,
    DocumentKind,
    DocumentStore,
    DocumentType,
    NewDocument,
    PendingDocument,
    StoredDocument,
    may_read_document,
    may_upload,
    names_word_document,
    plausible_document_id,
    readable_kinds,
    sanitize_filename,
    sniff,
    uploads_some_kind,
)
from domain.errors import (
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    UnsupportedMediaType,
)
from domain.models import Caller
from settings import Settings
from store import reports as reports_store
from store import retention as retention_store

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

log = logging.getLogger("ime.documents")

# pypdf's warnings and log lines can quote the document's own bytes: none reaches a log.
logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)
warnings.filterwarnings("ignore", category=PdfReadWarning)

# The form's parts besides the file: a few short fields (`kind`, `report_version`, a console's
# CSRF token), bounded so that nothing but the file can make a body large.
_MAX_FIELDS = 8
_MAX_FIELD_BYTES = 1024
# What the body may hold beyond the file: boundaries, part headers, those fields.
FORM_OVERHEAD_BYTES = 64 * 1024
# How much of a stored document a check may want at once: reading more means the parser wants
# the whole file (pypdf rebuilding a damaged cross-reference table), refused past this size.
_MAX_CHECK_READ = 16 * 1_048_576
# Read-back window of a check: the store's chunk size, so one window is one chunk to open.
_WINDOW = 1 << 20
_WINDOWS_KEPT = 4
# How long a content check may run (a hostile PDF can be slow to parse).
_CHECK_SECONDS = 30.0
_CONTENT_TYPES_XML = "[Content_Types].xml"
_MAX_CONTENT_TYPES_XML = 1 << 20

_KINDS = ", ".join(k.value for k in DocumentKind)
_NOT_ACCEPTED = f"the file is not a type accepted here; send {ACCEPTED_NAMES}"


# Told after a `records` document is stored: (claim id, document id, uploader). The API process
# hands `ClaimService.records_arrived` (the claim's records lead is met, its examiner told).
RecordsArrived = Callable[[str, str, Caller], Awaitable[None]]


class DocumentService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: DocumentStore,
        settings: Settings,
        *,
        on_records: RecordsArrived | None = None,
    ) -> None:
        self._pool = pool
        self._store = store
        self._on_records = on_records
        self._max_bytes = settings.max_document_bytes
        self._acquire_timeout = settings.database_acquire_timeout_seconds
        # An upload holds a pooled connection (its transaction) for as long as the client
        # sends: at most half the pool, so reads and actions always find one.
        self._uploads = asyncio.Semaphore(max(1, settings.database_pool_max // 2))

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    # --- uploading ------------------------------------------------------------------------------

    @staticmethod
    def require_uploader(caller: Caller) -> None:
        """Before the body is read: a role that uploads no kind at all is refused (403)."""
        if not uploads_some_kind(caller):
            raise Forbidden(f"the {caller.role} role may not upload documents")

    async def upload_form(
        self,
        claim_id: str,
        caller: Caller,
        content_type: str,
        body: AsyncIterator[bytes],
        *,
        check_fields: Callable[[dict[str, str]], None] | None = None,
    ) -> StoredDocument:
        """A `multipart/form-data` body of fields `kind` (and `report_version`) then `file`, as
        it streams; for a claim the caller may read (the caller of this checked it).
        `check_fields` sees the fields before a byte of the file is read (the console's CSRF
        token: it raises to refuse the form)."""
        self.require_uploader(caller)
        form = StreamingForm(content_type, body, max_bytes=self._max_bytes + FORM_OVERHEAD_BYTES)
        fields, filename = await form.fields()
        if check_fields is not None:
            check_fields(fields)
        return await self.upload(
            claim_id,
            caller,
            kind=fields.get("kind"),
            report_version=fields.get("report_version"),
            filename=filename,
            data=form.file(),
        )

    async def upload(
        self,
        claim_id: str,
        caller: Caller,
        *,
        kind: str | None,
        report_version: str | int | None,
        filename: str,
        data: AsyncIterator[bytes],
    ) -> StoredDocument:
        """Store one document, refusing in order: the kind unknown (422), not the caller's to
        upload (403), a report version that does not exist (422), then as the bytes come: not
        an accepted type (415), too large (413), a PDF that does not parse (422)."""
        chosen = _kind(kind)
        if not may_upload(caller, chosen):
            if chosen is DocumentKind.LETTER:
                raise Forbidden("letters are generated by the service; they cannot be uploaded")
            raise Forbidden(f"the {caller.role} role may not upload {chosen} documents")
        version = await self._report_version(claim_id, chosen, report_version)
        name = sanitize_filename(filename)
        async with self._upload_slot(), self._store.put(claim_id) as pending:
            size, digest, detected = await self._receive(pending, chosen, data)
            await _check_content(pending, detected, size)
            stored = await pending.commit(
                NewDocument(
                    claim_id=claim_id,
                    kind=chosen,
                    filename=name,
                    content_type=detected,
                    size=size,
                    sha256=digest,
                    report_version=version,
                    uploaded_by=caller,
                )
            )
        if chosen is DocumentKind.RECORDS and self._on_records is not None:
            await self._tell_records(claim_id, stored.id, caller)
        return stored

    async def _tell_records(self, claim_id: str, document_id: str, caller: Caller) -> None:
        """The document is stored whatever the claim answers: a claim that cannot be told now
        (closed, or Temporal unavailable) is logged, with ids only."""
        assert self._on_records is not None
        try:
            await self._on_records(claim_id, document_id, caller)
        except Exception as err:
            log.warning(
                "records stored but the claim was not told",
                extra={
                    "claim_id": claim_id,
                    "document_id": document_id,
                    "error": type(err).__name__,
                },
            )

    async def _receive(
        self, pending: PendingDocument, kind: DocumentKind, data: AsyncIterator[bytes]
    ) -> tuple[int, str, DocumentType]:
        size = 0
        digest = hashlib.sha256()
        head = b""
        detected: DocumentType | None = None
        async for piece in data:
            if not piece:
                continue
            size += len(piece)
            if size > self._max_bytes:
                raise PayloadTooLarge(f"the file is larger than {self._max_bytes} bytes")
            if detected is None:
                head += piece[: HEAD_BYTES - len(head)]
                if len(head) >= HEAD_BYTES:
                    # Decided on the first bytes: a refused type stores nothing more.
                    detected = _type_of(head, kind)
            digest.update(piece)
            await pending.write(piece)
        if size == 0:
            raise InvalidInput(
                "the file is empty", details=[{"field": "file", "message": "no bytes"}]
            )
        return size, digest.hexdigest(), detected or _type_of(head, kind)

    async def _report_version(
        self, claim_id: str, kind: DocumentKind, given: str | int | None
    ) -> int | None:
        if given is None or given == "":
            return None
        version = given if isinstance(given, int) else _int(given)
        if version is None or version < 1:
            raise _invalid("report_version", "a report version number (1 or more)")
        expected = REPORT_KINDS.get(kind)
        if expected is None:
            raise _invalid("report_version", "only report and addendum PDFs go with a version")
        filed = await reports_store.filed_kind(self._pool, claim_id, version)
        if filed is None:
            raise _invalid("report_version", "no such report version has been filed")
        if filed != expected:
            raise _invalid("report_version", f"that version is an {filed}, not an {expected}")
        return version

    def _upload_slot(self) -> _Slot:
        return _Slot(self._uploads, self._acquire_timeout)

    # --- the service's own documents ----------------------------------------------------------

    async def store_letter(
        self, claim_id: str, filename: str, pdf: bytes, *, source_key: str
    ) -> StoredDocument:
        """A claimant's letter the service wrote (`delivery.relay`, before it emails it), kept as
        a `letter` document, sealed like any upload, recorded as uploaded by the service. Once
        per `source_key` (the notification it goes with), enforced by the store: a retried or
        raced send gets back the letter stored first, whose bytes are the ones to send."""
        if sniff(pdf[:HEAD_BYTES]) is not DocumentType.PDF:
            raise ValueError("a letter is a PDF")  # a bug of the caller: nothing to store
        async with self._store.put(claim_id) as pending:
            await pending.write(pdf)
            return await pending.commit(
                NewDocument(
                    claim_id=claim_id,
                    kind=DocumentKind.LETTER,
                    filename=sanitize_filename(filename),
                    content_type=DocumentType.PDF,
                    size=len(pdf),
                    sha256=hashlib.sha256(pdf).hexdigest(),
                    report_version=None,
                    uploaded_by=SERVICE,
                    source_key=source_key,
                )
            )

    # --- reading --------------------------------------------------------------------------------

    async def documents(self, claim_id: str, caller: Caller) -> list[StoredDocument]:
        """The documents of a claim the caller may read, of the kinds they may read (the others
        are not there for them: not even their names are opened)."""
        kinds = readable_kinds(caller)
        if not kinds:
            return []
        return await self._store.of_claim(claim_id, kinds)

    async def document(self, claim_id: str, caller: Caller, document_id: str) -> StoredDocument:
        """One document, if the caller may read its kind; else "no such document" (404). A document
        destroyed under the retention rule is 410 Gone to those who may read its kind."""
        if not plausible_document_id(document_id) or not readable_kinds(caller):
            raise NotFound("no such document")
        found = await self._store.get(claim_id, document_id)
        if found is None:
            kind = await retention_store.destroyed_document(self._pool, claim_id, document_id)
            if kind is not None and may_read_document(caller, DocumentKind(kind)):
                raise Gone(
                    "this document was destroyed at the end of its retention period",
                    details={"document_id": document_id, "reason": "retention"},
                )
            raise NotFound("no such document")
        if not may_read_document(caller, found.kind):
            raise NotFound("no such document")
        return found

    def open(self, document: StoredDocument) -> AsyncIterator[bytes]:
        return self._store.open(document)


class _Slot:
    """One of the upload slots, waited for no longer than a pooled connection would be."""

    def __init__(self, slots: asyncio.Semaphore, timeout: float) -> None:
        self._slots = slots
        self._timeout = timeout

    async def __aenter__(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise Unavailable("too many documents are being uploaded; retry shortly") from None

    async def __aexit__(self, *_: object) -> None:
        self._slots.release()


def _kind(given: str | None) -> DocumentKind:
    try:
        return DocumentKind(given or "")
    except ValueError:
        raise _invalid("kind", f"one of {_KINDS}") from None


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def _invalid(name: str, message: str) -> InvalidInput:
    return InvalidInput("the form is invalid", details=[{"field": name, "message": message}])


def _type_of(head: bytes, kind: DocumentKind) -> DocumentType:
    detected = sniff(head)
    if detected is None:
        raise UnsupportedMediaType(_NOT_ACCEPTED)
    if detected not in ACCEPTED[kind]:
        accepted = ", ".join(sorted(t.name for t in ACCEPTED[kind]))
        raise UnsupportedMediaType(f"a {kind} document must be {accepted}")
    return detected


# --- checking what was stored -----------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, error: InvalidInput | UnsupportedMediaType) -> None:
        super().__init__(error.message)
        self.error = error


class _WantsWholeFile(Exception):
    """A check asked for more of the file at once than it may hold."""


class _Stopped(Exception):
    """The check was given up (it ran out of time): no more reads."""


async def _check_content(pending: PendingDocument, detected: DocumentType, size: int) -> None:
    """Parse a PDF, read a DOCX's content types: over the stored chunks (opened a window at a
    time in a thread, fetched through this event loop on the upload's own connection)."""
    checks: dict[DocumentType, Callable[[BinaryIO], None]] = {
        DocumentType.PDF: _check_pdf,
        DocumentType.DOCX: _check_docx,
    }
    check = checks.get(detected)
    if check is None:
        return  # TIFF, JPEG, PNG: their signature is what is checked
    loop = asyncio.get_running_loop()
    lock = asyncio.Lock()
    stopped = False

    async def read(offset: int, length: int) -> bytes:
        # One read at a time on the upload's connection, and none once the check was given up.
        async with lock:
            if stopped:
                raise _Stopped
            return await pending.read(offset, length)

    def fetch(offset: int, length: int) -> bytes:
        return asyncio.run_coroutine_threadsafe(read(offset, length), loop).result(
            timeout=_CHECK_SECONDS
        )

    file: BinaryIO = io.BufferedReader(_StoredFile(fetch, size), buffer_size=64 * 1024)
    try:
        async with asyncio.timeout(_CHECK_SECONDS):
            await asyncio.to_thread(check, file)
    except TimeoutError:
        raise InvalidInput(
            "the file could not be checked in time", details=[{"field": "file"}]
        ) from None
    except _Refused as refused:
        raise refused.error from None
    finally:
        stopped = True
        async with lock:  # a read in flight finishes before the transaction ends
            pass


def _check_pdf(file: BinaryIO) -> None:
    try:
        reader = PdfReader(file, strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise _Refused(
                InvalidInput(
                    "the PDF is password-protected; send it without a password",
                    details=[{"field": "file", "message": "password-protected PDF"}],
                )
            )
        pages = len(reader.pages)
    except _Refused:
        raise
    except _WantsWholeFile:
        raise _Refused(
            InvalidInput(
                "the PDF's cross-reference table is damaged; save the PDF again and resend it",
                details=[{"field": "file", "message": "damaged PDF"}],
            )
        ) from None
    except Exception as err:  # whatever a malformed PDF makes pypdf raise
        log.info("a PDF upload did not parse: %s", type(err).__name__)
        raise _Refused(
            InvalidInput(
                "the file starts as a PDF but does not parse as one; send a valid PDF",
                details=[{"field": "file", "message": "invalid PDF"}],
            )
        ) from None
    if pages < 1:
        raise _Refused(
            InvalidInput(
                "the PDF has no pages", details=[{"field": "file", "message": "empty PDF"}]
            )
        )


def _check_docx(file: BinaryIO) -> None:
    try:
        with zipfile.ZipFile(file) as archive:
            info = archive.getinfo(_CONTENT_TYPES_XML)
            with archive.open(info) as member:
                # Bounded, whatever the archive claims: no zip bomb is inflated.
                content_types = member.read(_MAX_CONTENT_TYPES_XML + 1)
    except Exception as err:  # not a ZIP we can read, or no content types: not a DOCX
        log.info("a ZIP upload is not a readable DOCX: %s", type(err).__name__)
        raise _Refused(UnsupportedMediaType(_NOT_ACCEPTED)) from None
    if len(content_types) > _MAX_CONTENT_TYPES_XML or not names_word_document(content_types):
        raise _Refused(UnsupportedMediaType(_NOT_ACCEPTED))


class _StoredFile(io.RawIOBase):
    """A read-only, seekable file over a stored document, for parsers that want one (pypdf,
    zipfile): a few decrypted windows kept, each fetched when first read. Used from a thread."""

    def __init__(self, fetch: Callable[[int, int], bytes], size: int) -> None:
        super().__init__()
        self._fetch = fetch
        self._size = size
        self._position = 0
        self._windows: OrderedDict[int, bytes] = OrderedDict()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readall(self) -> bytes:
        return self.read(-1)

    def read(self, size: int | None = -1) -> bytes:
        left = max(0, self._size - self._position)
        wanted = left if size is None or size < 0 else min(size, left)
        if wanted > _MAX_CHECK_READ:
            raise _WantsWholeFile
        out = bytearray()
        while len(out) < wanted:
            index, start = divmod(self._position, _WINDOW)
            piece = self._window(index)[start : start + wanted - len(out)]
            if not piece:
                break
            out += piece
            self._position += len(piece)
        return bytes(out)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _window(self, index: int) -> bytes:
        window = self._windows.get(index)
        if window is None:
            window = self._fetch(index * _WINDOW, _WINDOW)
            self._windows[index] = window
            if len(self._windows) > _WINDOWS_KEPT:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(index)
        return window


# --- the form, as it streams ------------------------------------------------------------------

_PARAMETER = re.compile(r';\s*([!#$&+.^_`|~0-9A-Za-z-]+\*?)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_ESCAPED = re.compile(r"\\(.)")


@dataclass
class _Events:
    """What python-multipart's callbacks report, queued for the coroutine reading the form."""

    queue: deque[tuple[str, Any]] = field(default_factory=deque)
    header_name: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)

    def callbacks(self) -> MultipartCallbacks:
        def data(kind: str) -> Callable[[bytes, int, int], None]:
            def on(chunk: bytes, start: int, end: int) -> None:
                self.queue.append((kind, bytes(chunk[start:end])))

            return on

        def header_part(target: bytearray) -> Callable[[bytes, int, int], None]:
            def on(chunk: bytes, start: int, end: int) -> None:
                target.extend(chunk[start:end])

            return on

        def header_end() -> None:
            self.queue.append(("header", (bytes(self.header_name), bytes(self.header_value))))
            self.header_name.clear()
            self.header_value.clear()

        return {
            "on_part_begin": lambda: self.queue.append(("begin", None)),
            "on_header_field": header_part(self.header_name),
            "on_header_value": header_part(self.header_value),
            "on_header_end": header_end,
            "on_headers_finished": lambda: self.queue.append(("headers", None)),
            "on_part_data": data("data"),
            "on_part_end": lambda: self.queue.append(("end", None)),
            "on_end": lambda: self.queue.append(("done", None)),
        }


class StreamingForm:
    """A `multipart/form-data` body read as it arrives: its short fields first (`fields`), then
    its file as a stream (`file`). The file must be the last part, as in S3's form uploads: the
    fields that say what the file is (and whether the caller may send it) come before a byte of
    it is stored."""

    def __init__(self, content_type: str, body: AsyncIterator[bytes], *, max_bytes: int) -> None:
        media_type, options = parse_options_header(content_type)
        if media_type != b"multipart/form-data":
            raise UnsupportedMediaType("send the document as multipart/form-data")
        boundary = options.get(b"boundary")
        if not boundary or len(boundary) > 70:
            raise InvalidInput("the multipart body has no valid boundary")
        self._events = _Events()
        self._parser = MultipartParser(boundary, self._events.callbacks())
        self._body = body.__aiter__()
        self._max_bytes = max_bytes
        self._received = 0
        self._body_ended = False

    async def _next(self) -> tuple[str, Any]:
        while not self._events.queue:
            if self._body_ended:
                raise InvalidInput("the form ended early; send it whole")
            try:
                chunk = await anext(self._body)
            except StopAsyncIteration:
                self._body_ended = True
                continue
            self._received += len(chunk)
            if self._received > self._max_bytes:
                raise PayloadTooLarge(f"the body is larger than {self._max_bytes} bytes")
            try:
                self._parser.write(chunk)
            except MultipartParseError:
                raise InvalidInput("the body is not a valid multipart form") from None
        return self._events.queue.popleft()

    async def fields(self) -> tuple[dict[str, str], str]:
        """The fields before the file, and the file's name as sent (not yet made safe)."""
        fields: dict[str, str] = {}
        while True:
            event, _ = await self._next()
            if event == "done":
                raise _invalid("file", "the form has no file")
            if event != "begin":
                continue
            name, filename = await self._part_headers()
            if name == "file":
                if "kind" not in fields:
                    raise _invalid("kind", "send kind (and report_version) before the file")
                return fields, filename or ""
            if name is None or name in fields or len(fields) >= _MAX_FIELDS:
                raise _invalid("(form)", "each field once, named, and only a few of them")
            fields[name] = await self._field_value()

    async def _part_headers(self) -> tuple[str | None, str | None]:
        disposition = b""
        while True:
            event, value = await self._next()
            if event == "header" and value[0].lower() == b"content-disposition":
                disposition = value[1]
            elif event == "headers":
                return _disposition(disposition)

    async def _field_value(self) -> str:
        value = bytearray()
        while True:
            event, data = await self._next()
            if event == "data":
                value += data
                if len(value) > _MAX_FIELD_BYTES:
                    raise _invalid("(form)", f"a field holds at most {_MAX_FIELD_BYTES} bytes")
            elif event == "end":
                try:
                    return value.decode()
                except UnicodeDecodeError:
                    raise _invalid("(form)", "fields are UTF-8 text") from None

    async def file(self) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive; then the form must end."""
        while True:
            event, data = await self._next()
            if event == "data":
                yield data
            elif event == "end":
                break
        event, _ = await self._next()
        if event != "done":
            raise _invalid("file", "the file must be the form's last part")
        async for _ in self._body:  # an epilogue, if any: read, ignored (the size still counts)
            pass


def _disposition(value: bytes) -> tuple[str | None, str | None]:
    """The `name` and `filename` of a part's Content-Disposition (`filename*`, RFC 5987, before
    `filename`). Header bytes are UTF-8 as browsers send them."""
    text = value.decode("utf-8", errors="replace")
    if text.split(";", 1)[0].strip().lower() != "form-data":
        return None, None
    parameters: dict[str, str] = {}
    for match in _PARAMETER.finditer(text):
        raw = match.group(2).strip()
        if raw.startswith('"'):
            raw = _ESCAPED.sub(r"\1", raw[1:-1])
        parameters[match.group(1).lower()] = raw
    filename = parameters.get("filename")
    extended = parameters.get("filename*")
    if extended is not None:
        charset, _, rest = extended.partition("'")
        _, _, encoded = rest.partition("'")
        if charset.lower() in {"utf-8", "iso-8859-1"}:
            filename = unquote(encoded, encoding=charset.lower(), errors="replace")
    return parameters.get("name"), filename
