"""The HTTP API (`uvicorn api.app:create_app --factory`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import errors, metrics
from api.routes import claims, codec, examiners, health
from claim_service import ClaimService
from connections import connect_temporal, open_pool
from settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await open_pool(settings)
        temporal = await connect_temporal(settings)
        app.state.pool = pool
        app.state.temporal = temporal
        app.state.claims = ClaimService(pool, temporal, settings)
        # The same codec the client encrypts with: one key ring per process.
        app.state.codec = temporal.data_converter.payload_codec
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(
        title="IME Claims Orchestrator",
        version="0.1.0",
        lifespan=lifespan,
        description="Independent medical examination claims, carried by durable workflows.",
    )
    errors.install(app)
    metrics.install(app)
    # The Temporal UI calls the codec endpoints from the browser.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins(),
        allow_credentials=True,
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["*"],
    )
    app.include_router(health.router)
    app.include_router(claims.router)
    app.include_router(examiners.router)
    app.include_router(codec.router)
    return app
