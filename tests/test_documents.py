"""A claim's documents through the real app (dev server, worker, Postgres): who uploads and reads
each kind (expected codes written out from issue 18, not derived from the tables under test),
types told by content, the size limit announced and streamed, a PDF that must parse, a 50 MB
round trip over a real loopback server with the process's memory bounded, nothing readable in
Postgres without the key ring, and an access-log row for every upload and download."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import zipfile
from collections.abc import AsyncIterator

import asyncpg
import httpx
import psutil
import pytest
from pypdf import PdfWriter

from api.app import create_app
from codec import CodecError
from documents_service import StreamingForm
from domain.documents import (
    DocumentKind,
    DocumentType,
    NewDocument,
    content_disposition,
    sanitize_filename,
)
from domain.errors import InvalidInput
from domain.models import Caller
from domain.names import Role
from store.access_log import for_claim
from store.documents import DocumentDamaged, PostgresDocumentStore
from tests.helpers.app import ApiHarness
from tests.helpers.config import TEST_SEALER, make_settings
from tests.helpers.referrals import complete_report, referral_payload
from tests.helpers.stack import dev_address
from tests.helpers.temporal_cli import served
from tests.helpers.walk import Parties, post_action, walk_to_report_stage

MARKER = b"ZyxwvRecordsMarker"
CLAIMANT_FILE = "Jane Do\u00e9_MRI.pdf"
KINDS = ("records", "report_pdf", "addendum_pdf", "letter")


def pdf_bytes(text: str = "") -> bytes:
    """A small valid PDF (pypdf writes it), with `text` in clear in its metadata."""
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    if text:
        writer.add_metadata({"/Subject": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
TIFF_II = b"II*\x00" + b"\x08\x00\x00\x00" + b"\x00" * 64
TIFF_MM = b"MM\x00*" + b"\x00\x00\x00\x08" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200


def docx_bytes(main: str = "wordprocessingml.document.main+xml") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/word/document.xml" ContentType="application/'
            f'vnd.openxmlformats-officedocument.{main}"/></Types>',
        )
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


async def upload(
    http: httpx.AsyncClient,
    claim_id: str,
    kind: str,
    data: bytes,
    *,
    filename: str = "scan.pdf",
    content_type: str = "application/pdf",
    report_version: int | None = None,
) -> httpx.Response:
    fields = {"kind": kind} | ({"report_version": str(report_version)} if report_version else {})
    return await http.post(
        f"/v1/claims/{claim_id}/documents",
        data=fields,
        files={"file": (filename, data, content_type)},
    )


async def stored_counts(pool: asyncpg.Pool) -> tuple[int, int]:
    return (
        await pool.fetchval("SELECT count(*) FROM documents"),
        await pool.fetchval("SELECT count(*) FROM document_chunks"),
    )


async def new_claim(http: httpx.AsyncClient) -> str:
    created = await http.post("/v1/claims", json=referral_payload("DEMO"))
    assert created.status_code == 201, created.text
    return created.json()["claim_id"]


# --- who uploads and reads what ----------------------------------------------------------------


async def test_each_role_uploads_and_reads_each_kind_as_the_table_says(
    api: ApiHarness, parties: Parties, pool: asyncpg.Pool
):
    claim = await walk_to_report_stage(parties)
    claim_id = claim["claim_id"]
    examiner = await api.as_role(Role.EXAMINER, examiner=claim["examiner"]["id"])
    filed = await post_action(examiner, claim_id, "report", complete_report())
    assert filed.status_code == 200 and filed.json()["stage"] == "REVIEW", filed.text

    callers = {
        "ops": parties.ops,
        "insurer": parties.insurer,
        "other_insurer": await api.as_role(Role.INSURER, insurer="other-ins"),
        "examiner": examiner,
        "other_examiner": await api.as_role(Role.EXAMINER, examiner="ex-ca-neurology-1"),
        "reviewer": parties.reviewer,
        "senior_reviewer": await api.as_role(Role.SENIOR_REVIEWER),
        "clinician": parties.clinician,
        "sre": await api.as_role(Role.SRE),
        "no_key": api.client(None),
    }
    body = {"records": PNG, "report_pdf": pdf_bytes(), "addendum_pdf": pdf_bytes()}
    body["letter"] = pdf_bytes()
    uploaded: dict[str, dict[str, int]] = {}
    for who, http in callers.items():
        uploaded[who] = {}
        for kind in KINDS:
            version = 1 if kind == "report_pdf" else None
            answer = await upload(http, claim_id, kind, body[kind], report_version=version)
            uploaded[who][kind] = answer.status_code
    assert uploaded == {
        "ops": {"records": 201, "report_pdf": 201, "addendum_pdf": 201, "letter": 403},
        "insurer": {"records": 201, "report_pdf": 403, "addendum_pdf": 403, "letter": 403},
        "other_insurer": {"records": 404, "report_pdf": 404, "addendum_pdf": 404, "letter": 404},
        "examiner": {"records": 403, "report_pdf": 201, "addendum_pdf": 201, "letter": 403},
        "other_examiner": {"records": 404, "report_pdf": 404, "addendum_pdf": 404, "letter": 404},
        "reviewer": {"records": 403, "report_pdf": 403, "addendum_pdf": 403, "letter": 403},
        "senior_reviewer": {"records": 403, "report_pdf": 403, "addendum_pdf": 403, "letter": 403},
        "clinician": {"records": 403, "report_pdf": 403, "addendum_pdf": 403, "letter": 403},
        "sre": {"records": 404, "report_pdf": 404, "addendum_pdf": 404, "letter": 404},
        "no_key": {"records": 401, "report_pdf": 401, "addendum_pdf": 401, "letter": 401},
    }
    letter = await upload(parties.ops, claim_id, "letter", pdf_bytes())
    assert letter.json()["error"]["message"] == (
        "letters are generated by the service; they cannot be uploaded"
    )

    # A letter is the service's: stored through the storage interface, as its generator will.
    store = PostgresDocumentStore(pool, TEST_SEALER)
    letter_pdf = pdf_bytes()
    async with store.put(claim_id) as pending:
        await pending.write(letter_pdf)
        await pending.commit(
            NewDocument(
                claim_id=claim_id,
                kind=DocumentKind.LETTER,
                filename="appointment-notice.pdf",
                content_type=DocumentType.PDF,
                size=len(letter_pdf),
                sha256=hashlib.sha256(letter_pdf).hexdigest(),
                report_version=None,
                uploaded_by=Caller(role=Role.OPS, key_name="ime-service"),
            )
        )

    listing = (await parties.ops.get(f"/v1/claims/{claim_id}/documents")).json()
    one_of_each = {d["kind"]: d["id"] for d in listing}
    assert sorted(one_of_each) == sorted(KINDS)
    read: dict[str, dict[str, int]] = {}
    listed: dict[str, list[str] | int] = {}
    for who, http in callers.items():
        read[who] = {}
        for kind, doc_id in one_of_each.items():
            answer = await http.get(f"/v1/claims/{claim_id}/documents/{doc_id}")
            read[who][kind] = answer.status_code
        answer = await http.get(f"/v1/claims/{claim_id}/documents")
        listed[who] = (
            sorted({d["kind"] for d in answer.json()})
            if answer.status_code == 200
            else answer.status_code
        )
    assert read == {
        "ops": {"records": 200, "report_pdf": 200, "addendum_pdf": 200, "letter": 200},
        "insurer": {"records": 200, "report_pdf": 200, "addendum_pdf": 200, "letter": 200},
        "other_insurer": {"records": 404, "report_pdf": 404, "addendum_pdf": 404, "letter": 404},
        "examiner": {"records": 200, "report_pdf": 200, "addendum_pdf": 200, "letter": 404},
        "other_examiner": {"records": 404, "report_pdf": 404, "addendum_pdf": 404, "letter": 404},
        "reviewer": {"records": 200, "report_pdf": 200, "addendum_pdf": 200, "letter": 404},
        "senior_reviewer": {"records": 200, "report_pdf": 200, "addendum_pdf": 200, "letter": 404},
        # Reads the claim (its safety case), none of its documents.
        "clinician": {"records": 404, "report_pdf": 404, "addendum_pdf": 404, "letter": 404},
        "sre": {"records": 404, "report_pdf": 404, "addendum_pdf": 404, "letter": 404},
        "no_key": {"records": 401, "report_pdf": 401, "addendum_pdf": 401, "letter": 401},
    }
    every = ["addendum_pdf", "letter", "records", "report_pdf"]
    assert listed == {
        "ops": every,
        "insurer": every,
        "other_insurer": 404,
        "examiner": ["addendum_pdf", "records", "report_pdf"],
        "other_examiner": 404,
        "reviewer": ["addendum_pdf", "records", "report_pdf"],
        "senior_reviewer": ["addendum_pdf", "records", "report_pdf"],
        "clinician": [],
        "sre": 404,
        "no_key": 401,
    }
    # The report version a PDF goes with: filed, and of its kind.
    report_pdf = next(d for d in listing if d["kind"] == "report_pdf")
    assert report_pdf["report_version"] == 1
    for kind, version, field_message in (
        ("report_pdf", 2, "no such report version has been filed"),
        ("addendum_pdf", 1, "that version is an report, not an addendum"),
        ("records", 1, "only report and addendum PDFs go with a version"),
    ):
        refused = await upload(parties.ops, claim_id, kind, pdf_bytes(), report_version=version)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"] == [
            {"field": "report_version", "message": field_message}
        ]
    # Another party's key sees the role that uploaded, not the key; its own key in full.
    seen_by_insurer = (await parties.insurer.get(f"/v1/claims/{claim_id}/documents")).json()
    assert {d["uploaded_by"]["role"] for d in seen_by_insurer} == {"ops", "examiner", "insurer"}
    for seen in seen_by_insurer:
        own = seen["uploaded_by"]["role"] == "insurer"
        assert (seen["uploaded_by"]["key_id"] is not None) == own, seen


# --- types, by content -------------------------------------------------------------------------


async def test_types_are_told_by_content_and_anything_else_is_refused_storing_nothing(
    api: ApiHarness, pool: asyncpg.Pool
):
    ops = await api.as_role(Role.OPS)
    claim_id = await new_claim(ops)
    accepted = {
        "png": (PNG, "image/png"),
        "tiff_ii": (TIFF_II, "image/tiff"),
        "tiff_mm": (TIFF_MM, "image/tiff"),
        "jpeg": (JPEG, "image/jpeg"),
        "docx": (docx_bytes(), DocumentType.DOCX.value),
        "pdf": (pdf_bytes(), "application/pdf"),
    }
    for name, (data, expected) in accepted.items():
        # Named and sent as something else: the content decides.
        answer = await upload(ops, claim_id, "records", data, filename=f"{name}.txt",
                              content_type="text/plain")  # fmt: skip
        assert answer.status_code == 201, (name, answer.text)
        assert answer.json()["content_type"] == expected, name
        downloaded = await ops.get(answer.headers["location"])
        assert downloaded.headers["content-type"] == expected
        assert downloaded.content == data
    before = await stored_counts(pool)

    refused = {
        "renamed executable": ELF,
        "a zip that is no docx": docx_bytes("presentationml.presentation.main+xml"),
        "a macro-enabled document": docx_bytes("wordprocessingml.document.macroEnabled.main+xml"),
        "plain text": b"just some text, not a document",
        "html": b"<!doctype html><script>alert(1)</script>",
    }
    for name, data in refused.items():
        answer = await upload(ops, claim_id, "records", data, filename="x.pdf")
        assert answer.status_code == 415, (name, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "unsupported_media_type"
        assert error["message"] == (
            "the file is not a type accepted here; send PDF, TIFF, JPEG, PNG or DOCX"
        )
    # A report PDF must be a PDF, even an accepted image.
    image = await upload(ops, claim_id, "report_pdf", PNG, filename="report.pdf")
    assert image.status_code == 415
    assert image.json()["error"]["message"] == "a report_pdf document must be PDF"
    assert await stored_counts(pool) == before

    # Not multipart at all: refused at the boundary.
    url = f"/v1/claims/{claim_id}/documents"
    as_json = await ops.post(url, json={"kind": "records"})
    assert as_json.status_code == 415
    assert as_json.json()["error"]["message"] == "send the document as multipart/form-data"


async def test_a_pdf_that_does_not_parse_is_refused_with_a_clear_error(
    api: ApiHarness, pool: asyncpg.Pool
):
    ops = await api.as_role(Role.OPS)
    claim_id = await new_claim(ops)
    before = await stored_counts(pool)
    good = pdf_bytes()
    for broken in (b"%PDF-1.7\nthis is not a pdf at all\n", good[: len(good) // 2]):
        answer = await upload(ops, claim_id, "records", broken)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["message"] == (
            "the file starts as a PDF but does not parse as one; send a valid PDF"
        )
    empty = await upload(ops, claim_id, "records", b"")
    assert empty.status_code == 422
    assert empty.json()["error"]["message"] == "the file is empty"
    assert await stored_counts(pool) == before


async def test_the_form_must_name_its_kind_before_its_file(api: ApiHarness, pool: asyncpg.Pool):
    ops = await api.as_role(Role.OPS)
    claim_id = await new_claim(ops)
    url = f"/v1/claims/{claim_id}/documents"
    boundary = "b0undary"
    file_first = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + PNG
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nrecords'
            f"\r\n--{boundary}--\r\n"
        ).encode()
    )
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    answer = await ops.post(url, content=file_first, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["error"]["details"] == [
        {"field": "kind", "message": "send kind (and report_version) before the file"}
    ]
    unknown = await upload(ops, claim_id, "x-rays", PNG)
    assert unknown.status_code == 422
    assert "x-rays" not in unknown.text
    truncated = await ops.post(url, content=file_first[:100], headers=headers)
    assert truncated.status_code == 422
    assert await stored_counts(pool) == (0, 0)


# --- the size limit ----------------------------------------------------------------------------


async def test_over_the_limit_is_413_announced_or_streamed_a_stalled_one_408_storing_nothing(
    dev_env, database_url: str, task_queue: str, pool: asyncpg.Pool
):
    limit = 64 * 1024
    settings = make_settings(database_url, task_queue, dev_address(dev_env)).model_copy(
        update={"max_document_bytes": limit, "request_body_timeout_seconds": 0.5}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Small chunks, so that the refused upload had written (and rolled back) many.
        from documents_service import DocumentService

        store = PostgresDocumentStore(app.state.pool, app.state.sealer, chunk_bytes=4096)
        app.state.documents = DocumentService(app.state.pool, store, settings)
        harness = ApiHarness(app, app.state.pool, settings)
        try:
            ops = await harness.as_role(Role.OPS)
            claim_id = await new_claim(ops)
            url = f"/v1/claims/{claim_id}/documents"

            at_limit = PNG + b"\x00" * (limit - len(PNG))
            assert (await upload(ops, claim_id, "records", at_limit)).status_code == 201
            before = await stored_counts(pool)
            assert before == (1, 16)

            # Announced: refused by its Content-Length before a byte is read; one byte over,
            # once the byte arrives.
            for over in (at_limit * 3, at_limit + b"\x00"):
                answer = await upload(ops, claim_id, "records", over)
                assert answer.status_code == 413, answer.text
                assert answer.json()["error"]["code"] == "payload_too_large"

            boundary = "streamedboundary"
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nrecords'
                f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="big.png"\r\n\r\n'
            ).encode()

            async def streamed() -> AsyncIterator[bytes]:
                yield head + PNG
                for _ in range(40):  # 160 KiB: well past the limit, no Content-Length
                    yield b"\x00" * 4096
                yield f"\r\n--{boundary}--\r\n".encode()

            answer = await ops.post(
                url,
                content=streamed(),
                headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            )
            assert answer.status_code == 413, answer.text
            assert answer.json()["error"]["message"] == f"the file is larger than {limit} bytes"
            assert await stored_counts(pool) == before

            async def stalled() -> AsyncIterator[bytes]:
                yield head + PNG + b"\x00" * 8192
                await asyncio.sleep(1.0)  # past the body deadline between two pieces
                yield f"\r\n--{boundary}--\r\n".encode()

            answer = await ops.post(
                url,
                content=stalled(),
                headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            )
            assert answer.status_code == 408, answer.text
            assert await stored_counts(pool) == before
        finally:
            await harness.close()


# --- 50 MB, streamed both ways over a real server ----------------------------------------------


def big_pdf(stream_bytes: int) -> tuple[int, AsyncIterator[bytes], hashlib._Hash]:
    """A valid PDF with one page and an incompressible stream of `stream_bytes` random bytes
    (an unreferenced object: pypdf parses the page tree without reading it), generated as it is
    sent, never whole in memory: its total size, a generator of its bytes and the SHA-256 the
    generator fills in."""
    header = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    objects = [
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\n",
    ]
    stream_head = b"4 0 obj\n<< /Length %d >>\nstream\n" % stream_bytes
    stream_tail = b"\nendstream\nendobj\n"
    offsets = []
    at = len(header)
    for obj in objects:
        offsets.append(at)
        at += len(obj)
    offsets.append(at)
    xref_at = at + len(stream_head) + stream_bytes + len(stream_tail)
    xref = b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    trailer = b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    start = header + b"".join(objects) + stream_head
    end = stream_tail + xref + trailer
    total = len(start) + stream_bytes + len(end)
    digest = hashlib.sha256()

    async def generate() -> AsyncIterator[bytes]:
        digest.update(start)
        yield start
        left = stream_bytes
        while left:
            piece = os.urandom(min(left, 1 << 20))
            left -= len(piece)
            digest.update(piece)
            yield piece
        digest.update(end)
        yield end

    return total, generate(), digest


async def test_a_50_mb_pdf_round_trips_byte_identical_with_the_memory_bounded(
    api: ApiHarness, pool: asyncpg.Pool
):
    ops = await api.as_role(Role.OPS)
    claim_id = await new_claim(ops)
    total, pdf, digest = big_pdf(50 * 1_048_576)
    boundary = "fiftymegabytes"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nrecords\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        async for piece in pdf:
            yield piece
        yield tail

    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    async with (
        served(api) as url,
        httpx.AsyncClient(base_url=url, headers=ops.headers, timeout=120) as http,
    ):
        answer = await http.post(
            f"/v1/claims/{claim_id}/documents",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert answer.status_code == 201, answer.text
        document = answer.json()
        assert (document["size"], document["sha256"]) == (total, digest.hexdigest())
        upload_peak = peak - baseline
        back = hashlib.sha256()
        size = 0
        async with http.stream("GET", answer.headers["location"]) as download:
            assert download.status_code == 200
            assert download.headers["content-type"] == "application/pdf"
            assert download.headers["content-length"] == str(total)
            async for piece in download.aiter_bytes():
                back.update(piece)
                size += len(piece)
    sampling = False
    await sampler
    assert (size, back.hexdigest()) == (total, digest.hexdigest())
    growth = peak - baseline
    print(f"RSS growth: upload {upload_peak / 2**20:.1f} MiB, overall {growth / 2**20:.1f} MiB")
    # The client, the server and the store are all this process: below the file's own size, so
    # holding the 50 MB once anywhere (a buffered body, a joined download) would fail this.
    assert growth < 40 * 2**20, growth
    chunks = await pool.fetchval(
        "SELECT count(*) FROM document_chunks WHERE document_id = $1", document["id"]
    )
    assert chunks == 51  # 50 MiB of random bytes and the PDF's own: 1 MiB each, sealed


# --- at rest, and the access log -------------------------------------------------------------


async def test_postgres_holds_nothing_readable_and_every_upload_and_download_is_logged(
    api: ApiHarness, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
):
    ops = await api.as_role(Role.OPS)
    insurer = await api.as_role(Role.INSURER, insurer="acme-ins")
    claim_id = await new_claim(ops)
    data = pdf_bytes(MARKER.decode())
    assert MARKER in data
    # A file of several chunks with the marker in clear all along, to look for in every chunk.
    records = PNG + (MARKER + os.urandom(1000)) * 2500

    with caplog.at_level("DEBUG"):
        pdf = await upload(insurer, claim_id, "records", data, filename=CLAIMANT_FILE)
        big = await upload(insurer, claim_id, "records", records, filename="Jane_Doe_MRI.png")
        assert pdf.status_code == 201 and big.status_code == 201, (pdf.text, big.text)
        downloaded = await ops.get(pdf.headers["location"])
    assert "Jane" not in caplog.text and "MRI" not in caplog.text

    assert downloaded.status_code == 200
    assert downloaded.content == data
    assert downloaded.headers["content-disposition"] == (
        "attachment; filename=\"Jane Do__MRI.pdf\"; filename*=UTF-8''Jane%20Do%C3%A9_MRI.pdf"
    )
    assert downloaded.headers["cache-control"] == "no-store"
    assert downloaded.headers["x-content-type-options"] == "nosniff"
    document = pdf.json()
    assert document["filename"] == CLAIMANT_FILE
    assert set(document) == {
        "id", "kind", "filename", "size", "sha256", "content_type", "report_version",
        "uploaded_by", "uploaded_at",
    }  # fmt: skip
    assert document["sha256"] == hashlib.sha256(data).hexdigest()
    assert pdf.headers["location"] == f"/v1/claims/{claim_id}/documents/{document['id']}"

    rows = await pool.fetch("SELECT * FROM documents WHERE claim_id = $1", claim_id)
    assert len(rows) == 2
    for row in rows:
        text = repr(dict(row))
        assert "Jane" not in text and "MRI" not in text
    chunks = await pool.fetch(
        "SELECT document_id, seq, sealed FROM document_chunks ORDER BY document_id, seq"
    )
    assert len(chunks) == 1 + 3  # the PDF; 2.4 MiB of records in chunks of 1 MiB
    for chunk in chunks:
        assert MARKER not in chunk["sealed"]
        assert b"Jane" not in chunk["sealed"]
    big_id = big.json()["id"]
    first = next(c["sealed"] for c in chunks if c["document_id"] == big_id)
    # Each chunk opens with the key ring at its own place only: none can be moved or swapped.
    assert TEST_SEALER.open(first, f"document:{big_id}:chunk:0".encode()).startswith(PNG)
    with pytest.raises(CodecError):
        TEST_SEALER.open(first, f"document:{big_id}:chunk:1".encode())
    await pool.execute(
        "UPDATE document_chunks SET sealed = $1 WHERE document_id = $2 AND seq = 1", first, big_id
    )
    store = PostgresDocumentStore(pool, TEST_SEALER)
    stored = await store.get(claim_id, big_id)
    assert stored is not None
    with pytest.raises(DocumentDamaged):
        async for _ in store.open(stored):
            pass

    logged = [
        (e.entry.role, e.entry.action, e.entry.status, e.entry.document_id)
        for e in await for_claim(pool, claim_id)
        if e.entry.route.startswith("/v1/claims/{claim_id}/documents")
    ]
    assert logged == [
        ("insurer", "document_upload", 201, document["id"]),
        ("insurer", "document_upload", 201, big_id),
        ("ops", "document_download", 200, document["id"]),
    ]


# --- pieces without a server -------------------------------------------------------------------


def test_file_names_are_made_safe_and_offered_back_encoded():
    assert sanitize_filename("C:\\Users\\jane\\Jane_Doe_MRI.pdf") == "Jane_Doe_MRI.pdf"
    assert sanitize_filename("../../etc/passwd") == "passwd"
    assert sanitize_filename("scan\u202efdp.exe") == "scanfdp.exe"  # no bidi override
    assert sanitize_filename("a\r\nb\x00c.pdf") == "a  bc.pdf"
    assert sanitize_filename("...") == "document"
    assert sanitize_filename("") == "document"
    long = sanitize_filename("x" * 300 + ".pdf")
    assert len(long) == 255 and long.endswith(".pdf")
    assert content_disposition('a"b;c\\d%.pdf') == (
        "attachment; filename=\"a_b_c_d_.pdf\"; filename*=UTF-8''a%22b%3Bc%5Cd%25.pdf"
    )


async def test_the_form_parser_refuses_what_is_not_a_form():
    async def body(*parts: bytes) -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    two_files = (
        b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\nrecords\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nAB\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="b"\r\n\r\nCD\r\n'
        b"--b--\r\n"
    )
    form = StreamingForm("multipart/form-data; boundary=b", body(two_files), max_bytes=10_000)
    fields, name = await form.fields()
    assert (fields, name) == ({"kind": "records"}, "a")
    with pytest.raises(InvalidInput, match="invalid"):
        async for _ in form.file():
            pass
    no_file = b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\nrecords\r\n--b--\r\n'
    form = StreamingForm("multipart/form-data; boundary=b", body(no_file), max_bytes=10_000)
    with pytest.raises(InvalidInput):
        await form.fields()
    extended = (
        b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\nrecords\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="fallback.pdf"; '
        b"filename*=UTF-8''Jane%20Do%C3%A9.pdf\r\n\r\nAB\r\n--b--\r\n"
    )
    form = StreamingForm("multipart/form-data; boundary=b", body(extended), max_bytes=10_000)
    assert (await form.fields())[1] == "Jane Do\u00e9.pdf"
    assert b"".join([piece async for piece in form.file()]) == b"AB"
