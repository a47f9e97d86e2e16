"""The HTTP API (`uvicorn api.app:create_app --factory`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import console.app as console
from api import errors, metrics, openapi
from api.access_line import AccessLine
from api.anti_framing import AntiFraming
from api.auth import Authenticator
from api.boundary import Boundary
from api.codec_cors import CodecCors
from api.routes import claims, codec, documents, examiners, health, inbox, webhooks
from claim_service import ClaimService
from connections import connect_temporal, open_pool, sealer
from documents_service import DocumentService
from observability import process
from observability.http import RequestSpans
from observability.tracing import tracing_enabled
from panel_service import Panel
from people.accounts import Accounts
from settings import Settings, get_settings
from store.access_log import AccessLog
from store.documents import PostgresDocumentStore
from work_queue import WorkQueue


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app. uvicorn calls this without settings (`--factory`) as the process's entry point:
    then the process's logs and traces are set up first, from the environment (uvicorn has
    logged nothing of its own yet). Tests pass their settings and keep their own logging."""
    if settings is None:
        settings = get_settings()
        process.setup(settings, "ime-api", temporal=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings)
        temporal = await connect_temporal(settings)
        app.state.settings = settings
        app.state.pool = pool
        app.state.temporal = temporal
        app.state.sealer = sealer(settings)
        app.state.claims = ClaimService(pool, temporal, settings, app.state.sealer)
        app.state.authenticator = Authenticator(pool, settings)
        app.state.access_log = AccessLog(pool, timeout=settings.database_statement_timeout_seconds)
        app.state.accounts = Accounts(pool, settings, app.state.sealer, app.state.access_log)
        app.state.work_queue = WorkQueue(pool, app.state.sealer)
        app.state.panel = Panel(pool, app.state.claims)
        app.state.documents = DocumentService(
            pool,
            PostgresDocumentStore(pool, app.state.sealer),
            settings,
            on_records=app.state.claims.records_arrived,
        )
        # The same codec the client encrypts with: one key ring per process.
        app.state.codec = temporal.data_converter.payload_codec
        try:
            yield
        finally:
            await app.state.access_log.close()
            await app.state.authenticator.close()
            await pool.close()

    app = FastAPI(
        title="IME Claims Orchestrator",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry hooks check the environment on every request; tracing is
        # off until it is configured for the whole service.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        description=(
            "Independent medical examination claims, carried by durable workflows. Every route "
            "but /healthz and /readyz needs `Authorization: Bearer <API key>`; each route says "
            'which roles may call it. Errors are `{"error": {"code", "message", '
            '"details"}}`.'
        ),
    )
    errors.install(app)
    answered = metrics.install(app)
    openapi.install(app)
    # Before any route: who is calling, what they send, how long it may take, the access log.
    app.add_middleware(
        Boundary,
        max_body_bytes=settings.max_body_bytes,
        max_form_bytes=settings.max_form_bytes,
        read_deadline_seconds=settings.database_acquire_timeout_seconds
        + settings.database_statement_timeout_seconds,
        action_deadline_seconds=settings.action_timeout_seconds + 5,
        body_deadline_seconds=settings.request_body_timeout_seconds,
        max_document_bytes=settings.max_document_bytes,
        document_deadline_seconds=settings.document_upload_timeout_seconds,
    )
    # Outermost: the Temporal UI calls the codec endpoints from the browser (with credentials);
    # CORS for those only.
    app.add_middleware(CodecCors, allow_origins=settings.cors_origins())
    # Around everything: the request id, the request's log line and its HTTP metrics (also for
    # refused ones).
    app.add_middleware(AccessLine, answered=answered)
    # Every HTML answer (the /docs page, the codec sign-in page) refuses to be framed.
    app.add_middleware(AntiFraming)
    # The API's routes first: a request is matched against the routes in order, and the API's
    # (a status read above all) are the most frequent; the console's are all under /console.
    app.include_router(health.router)
    app.include_router(claims.router)
    app.include_router(documents.router)
    app.include_router(examiners.router)
    app.include_router(webhooks.router)
    app.include_router(inbox.router)
    app.include_router(codec.router)
    # The console's pages, assets and headers (inside the request's span when tracing is on).
    console.install(app, settings)
    if tracing_enabled(settings):
        # Outermost, so that the access line is written inside the request's span.
        app.add_middleware(RequestSpans)
    return app
