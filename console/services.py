"""The services a console page calls, as the app holds them (one instance per process, made in
`api.app`'s lifespan): the same objects the API's routes use."""

from __future__ import annotations

from fastapi import Request

from claim_service import ClaimService
from documents_service import DocumentService
from panel_service import Panel
from people.accounts import Accounts
from work_queue import WorkQueue


def claim_service(request: Request) -> ClaimService:
    service: ClaimService = request.app.state.claims
    return service


def document_service(request: Request) -> DocumentService:
    service: DocumentService = request.app.state.documents
    return service


def work_queue(request: Request) -> WorkQueue:
    queue: WorkQueue = request.app.state.work_queue
    return queue


def panel(request: Request) -> Panel:
    service: Panel = request.app.state.panel
    return service


def accounts(request: Request) -> Accounts:
    service: Accounts = request.app.state.accounts
    return service
