"""The console against the API's role table: every console page and every action form, for every
role, answered as the API answers the same person's key (a test that fails when the two
disagree), and no PHI in the console's URLs, logs or error pages.

The expected codes are written out here (PRODUCT §6 and the action table), not computed from
`domain.access`. One DEMO claim, booked and confirmed (EXAM stage), is read and acted on by
everyone; every action is sent with an empty form (the API with `{}`), so each is refused and the
claim does not move: 404 for those who cannot read it, 403 for roles that may not take the
action, then the API's own refusal of the payload (422) or of the stage (409).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import httpx
import pytest

from console.claim_view import FORMS
from domain.names import Role
from store.access_log import for_claim
from tests.helpers.app import ApiHarness
from tests.helpers.browser import person
from tests.helpers.referrals import referral_payload
from tests.helpers.walk import post_action, wait_until

INSURER = "acme-ins"
# Who is who: (role, insurer, examiner); the examiners are filled in once the claim is booked.
ROLES = (
    "ops",
    "insurer",
    "other_insurer",
    "examiner",
    "other_examiner",
    "reviewer",
    "clinician",
    "sre",
)

# Reading the claim (in EXAM: no review, no safety case yet).
READ = {
    "ops": 200,
    "insurer": 200,
    "other_insurer": 404,
    "examiner": 200,
    "other_examiner": 404,
    "reviewer": 404,
    "clinician": 404,
    "sre": 404,
}

# Downloading the claim's documents (PRODUCT §9: records to ops, the insurer and the assigned
# examiner; letters to ops and the insurer), from the console as from the API.
DOWNLOADS: dict[str, dict[str, int]] = {
    "records": {
        "ops": 200,
        "insurer": 200,
        "other_insurer": 404,
        "examiner": 200,
        "other_examiner": 404,
        "reviewer": 404,
        "clinician": 404,
        "sre": 404,
    },
    "letter": {
        "ops": 200,
        "insurer": 200,
        "other_insurer": 404,
        "examiner": 404,
        "other_examiner": 404,
        "reviewer": 404,
        "clinician": 404,
        "sre": 404,
    },
}
RECORDS_FILE = "records-scan.png"
LETTER_FILE = "appointment-notice.pdf"

# Every console page, by role.
_OPS_ONLY = {role: 403 for role in ROLES} | {"ops": 200}
PAGES: dict[str, dict[str, int]] = {
    "/console/queue": {role: 200 for role in ROLES},
    "/console/claims": {role: 200 for role in ROLES} | {"sre": 403},
    "/console/bulk": {role: 403 for role in ROLES}
    | {"ops": 200, "insurer": 200, "other_insurer": 200},
    "/console/panel": _OPS_ONLY,
    "/console/deliveries": _OPS_ONLY,
    "/console/access": _OPS_ONLY,
    "/console/accounts": _OPS_ONLY,
    "/console/safety": {role: 403 for role in ROLES} | {"clinician": 200},
    "/console/worklist": {role: 403 for role in ROLES} | {"examiner": 200, "other_examiner": 200},
    "/console/webhooks": {role: 403 for role in ROLES}
    | {"ops": 200, "insurer": 200, "other_insurer": 200},
    # A supervisor's page: no account here is one (tests/test_console_insurer.py has one).
    "/console/team": {role: 403 for role in ROLES},
    "/console/reviews": {role: 403 for role in ROLES} | {"reviewer": 200},
}
# The API's counterpart of a console page, where it has one.
API_READS = {
    "/console/queue": "/v1/inbox",
    "/console/claims": "/v1/claims",
    "/console/panel": "/v1/examiners",
    "/console/webhooks": "/v1/webhooks",
}

# Each action form, sent empty by each role, on the claim in EXAM.
_NOT_READERS = {
    "other_insurer": 404,
    "other_examiner": 404,
    "reviewer": 404,
    "clinician": 404,
    "sre": 404,
}
ACTIONS: dict[str, dict[str, int]] = {
    "assign": {"ops": 422, "insurer": 403, "examiner": 403},
    "confirm-appointment": {"ops": 409, "insurer": 403, "examiner": 409},
    "decline-appointment": {"ops": 422, "insurer": 403, "examiner": 422},
    "reschedule": {"ops": 422, "insurer": 422, "examiner": 422},
    "interpreter-booked": {"ops": 409, "insurer": 403, "examiner": 403},
    "proceed-without-records": {"ops": 422, "insurer": 403, "examiner": 403},
    # The state's pick of the examiner (a DEMO claim has none: refused once the form is valid).
    "record-state-panel": {"ops": 422, "insurer": 403, "examiner": 403},
    "record-state-assignment": {"ops": 422, "insurer": 403, "examiner": 403},
    "strike": {"ops": 422, "insurer": 422, "examiner": 403},
    "panel-choice": {"ops": 422, "insurer": 422, "examiner": 403},
    "exam": {"ops": 422, "insurer": 403, "examiner": 422},
    "extend-decision": {"ops": 422, "insurer": 422, "examiner": 403},
    "decision": {"ops": 422, "insurer": 422, "examiner": 403},
    # The appeal of a denial: the empty form is refused before the stage is looked at.
    "appeal": {"ops": 422, "insurer": 422, "examiner": 403},
    "review": {"ops": 403, "insurer": 403, "examiner": 403},
    "appeal-decision": {"ops": 403, "insurer": 422, "examiner": 403},
    "safety-concern": {"ops": 422, "insurer": 422, "examiner": 422},
    "withdraw": {"ops": 422, "insurer": 422, "examiner": 403},
}
ACTIONS = {action: codes | _NOT_READERS for action, codes in ACTIONS.items()}

# The other forms, sent empty, and the API's counterpart sent `{}` where there is one: refused by
# role (403), else the empty form refused (422). Nothing is added or started.
_OPS_FORM = {role: 403 for role in ROLES} | {"ops": 422}
FORMS_ELSEWHERE: dict[str, tuple[dict[str, int], str | None]] = {
    "/console/panel": (_OPS_FORM, "/v1/examiners"),
    "/console/bulk": (
        {role: 403 for role in ROLES} | {"ops": 422, "insurer": 422, "other_insurer": 422},
        "/v1/claims",
    ),
    "/console/deliveries/retry": (_OPS_FORM, None),
    "/console/accounts": (_OPS_FORM, None),
    "/console/webhooks": (
        {role: 403 for role in ROLES} | {"ops": 422, "insurer": 422, "other_insurer": 422},
        "/v1/webhooks",
    ),
}

SIGN_IN = "/console/sign-in"


@dataclass
class Party:
    console: httpx.AsyncClient
    csrf: str
    api: httpx.AsyncClient


def _scope(name: str, examiner: str, other_examiner: str) -> tuple[Role, str | None, str | None]:
    match name:
        case "insurer":
            return Role.INSURER, INSURER, None
        case "other_insurer":
            return Role.INSURER, "other-ins", None
        case "examiner":
            return Role.EXAMINER, None, examiner
        case "other_examiner":
            return Role.EXAMINER, None, other_examiner
        case _:
            return Role(name), None, None


def _no_phi(answer: httpx.Response, phi: tuple[str, ...], *, body: bool = True) -> None:
    where = f"{answer.request.method} {answer.request.url.path}"
    for value in phi:
        assert value not in str(answer.request.url), where
        assert value not in answer.headers.get("location", ""), where
        if body:
            assert value not in answer.text, where


async def test_the_console_answers_every_role_as_the_api_does(
    api: ApiHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ops_api = await api.as_role(Role.OPS)
    insurer_api = await api.as_role(Role.INSURER, insurer=INSURER)
    referral = referral_payload("DEMO")
    phi = (referral["claimant"]["full_name"], referral["claimant"]["date_of_birth"])
    created = await insurer_api.post("/v1/claims", json=referral)
    assert created.status_code == 201, created.text
    claim_id = created.json()["claim_id"]
    booked = await wait_until(ops_api, claim_id, lambda c: c["appointment"] is not None)
    examiner = booked["examiner"]["id"]
    # In EXAM, a confirmation with an empty body is refused too (409), so nothing below moves it.
    confirmed = await post_action(ops_api, claim_id, "confirm-appointment")
    assert confirmed.status_code == 200 and confirmed.json()["stage"] == "EXAM", confirmed.text
    panel = (await ops_api.get("/v1/examiners")).json()
    other_examiner = next(e["id"] for e in panel if e["id"] != examiner)
    version = (await ops_api.get(f"/v1/claims/{claim_id}")).json()["version"]

    transport = httpx.ASGITransport(app=api.app)
    cookie = "ime_console"  # the development name (`console.session.session_cookie`)
    async with contextlib.AsyncExitStack() as stack:

        def browser(cookies: dict[str, str] | None = None) -> httpx.AsyncClient:
            http = httpx.AsyncClient(
                transport=transport,
                base_url="http://console",
                follow_redirects=False,
                cookies=cookies,
            )
            return http

        parties: dict[str, Party] = {}
        user_ids: dict[str, str | None] = {}
        for name in ROLES:
            role, insurer, examiner_id = _scope(name, examiner, other_examiner)
            someone = await person(api, role, insurer=insurer, examiner=examiner_id)
            new = await api.app.state.accounts.sign_in(
                someone.email, someone.password, someone.code(), None
            )
            console = await stack.enter_async_context(browser({cookie: new.token}))
            key = await api.key(role, insurer=insurer, examiner=examiner_id)
            parties[name] = Party(console, new.session.csrf_token, api.client(key))
            user_ids[name] = new.session.caller.user_id
        anonymous = await stack.enter_async_context(browser())

        # 1. Reading the claim: the console's page and the API's status, the same code.
        for name, party in parties.items():
            page = await party.console.get(f"/console/claims/{claim_id}")
            read = await party.api.get(f"/v1/claims/{claim_id}")
            assert (name, page.status_code) == (name, read.status_code) == (name, READ[name])
            _no_phi(page, phi, body=page.status_code != 200)

        # 1b. The claim's documents (records the insurer sent, a letter the service wrote):
        # listed on the page, with their names, to those who may read them; downloaded from the
        # console with the API's answer, as the API serves them, each an access-log row.
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
        sent = await insurer_api.post(
            f"/v1/claims/{claim_id}/documents",
            data={"kind": "records"},
            files={"file": (RECORDS_FILE, png, "image/png")},
        )
        assert sent.status_code == 201, sent.text
        # The claim records the records' arrival (its examiner told): one event, nothing else.
        moved = (await ops_api.get(f"/v1/claims/{claim_id}")).json()
        assert (moved["version"], moved["stage"]) == (version + 1, "EXAM")
        version = moved["version"]
        letter = await api.app.state.documents.store_letter(
            claim_id, LETTER_FILE, b"%PDF-1.7\n%a letter\n", source_key=f"{claim_id}:test"
        )
        ids = {"records": sent.json()["id"], "letter": letter.id}
        for name, party in parties.items():
            page = await party.console.get(f"/console/claims/{claim_id}")
            for kind, filename in (("records", RECORDS_FILE), ("letter", LETTER_FILE)):
                shown = filename in page.text
                assert (name, kind, shown) == (name, kind, DOWNLOADS[kind][name] == 200)
                path = f"/claims/{claim_id}/documents/{ids[kind]}"
                fetched = await party.console.get(f"/console{path}")
                answer = await party.api.get(f"/v1{path}")
                got = (kind, name, fetched.status_code, answer.status_code)
                assert got == (kind, name, DOWNLOADS[kind][name], DOWNLOADS[kind][name])
                if fetched.status_code == 200:
                    assert fetched.content == answer.content
                    for header in ("content-disposition", "cache-control", "content-type"):
                        assert fetched.headers[header] == answer.headers[header], header
                    assert "sandbox" in fetched.headers["content-security-policy"]
        downloads = {
            (e.entry.user_id, e.entry.document_id, e.entry.status)
            for e in await for_claim(api.pool, claim_id)
            if e.entry.route == "/console/claims/{claim_id}/documents/{doc_id}"
        }
        assert downloads == {
            (user_ids[name], ids[kind], DOWNLOADS[kind][name])
            for kind in DOWNLOADS
            for name in ("ops", "insurer", "examiner")  # the others: no claim to log it under
        }

        # 2. Every page, and its API counterpart where there is one.
        for path, codes in PAGES.items():
            for name, party in parties.items():
                page = await party.console.get(path)
                assert (path, name, page.status_code) == (path, name, codes[name])
                _no_phi(page, phi)
                if path in API_READS:
                    answer = await party.api.get(API_READS[path])
                    assert (path, name, answer.status_code) == (path, name, codes[name])
                if path == "/console/bulk":
                    # Bulk start is `POST /v1/claims` (START_CLAIM): refused by role, or the
                    # empty referral refused (nothing started).
                    start = await party.api.post("/v1/claims", json={})
                    assert (name, start.status_code) == (name, 422 if codes[name] == 200 else 403)

        # 3. Every action form, sent empty with the session's CSRF token, and the API's `{}`.
        assert {action.value for action in FORMS} == set(ACTIONS)
        for action, codes in ACTIONS.items():
            for name, party in parties.items():
                form = await party.console.post(
                    f"/console/claims/{claim_id}/actions/{action}",
                    data={"csrf_token": party.csrf},
                )
                answer = await post_action(party.api, claim_id, action, {})
                got = (action, name, form.status_code, answer.status_code)
                assert got == (action, name, codes[name], codes[name]), answer.text
                # A refusal of the payload or stage is the claim page (which names the claimant).
                _no_phi(form, phi, body=form.status_code in (403, 404))

        for path, (codes, counterpart) in FORMS_ELSEWHERE.items():
            for name, party in parties.items():
                form = await party.console.post(path, data={"csrf_token": party.csrf})
                assert (path, name, form.status_code) == (path, name, codes[name])
                _no_phi(form, phi)
                if counterpart is not None:
                    answer = await party.api.post(counterpart, json={})
                    assert (path, name, answer.status_code) == (path, name, codes[name])

        # 4. No PHI: error pages, redirects, the search by claimant (sent in the body).
        ops = parties["ops"].console
        missing = await ops.get("/console/claims/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404
        _no_phi(missing, phi)
        search = {"full_name": phi[0], "date_of_birth": phi[1]}
        found = await ops.post(
            "/console/claims/search", data=search | {"csrf_token": parties["ops"].csrf}
        )
        assert found.status_code == 200 and claim_id in found.text
        _no_phi(found, phi)
        wrong = await ops.post(
            "/console/claims/search",
            data={
                "full_name": phi[0],
                "date_of_birth": "not a date",
                "csrf_token": parties["ops"].csrf,
            },
        )
        assert wrong.status_code == 422
        _no_phi(wrong, phi)
        refused = await parties["sre"].console.post(
            "/console/claims/search", data=search | {"csrf_token": parties["sre"].csrf}
        )
        assert refused.status_code == 403
        _no_phi(refused, phi)
        forged = await ops.post("/console/claims/search", data=search)
        assert forged.status_code == 403
        _no_phi(forged, phi)

        # 5. No session: every page and action answers with the sign-in page, nothing else.
        for path in [*PAGES, f"/console/claims/{claim_id}"]:
            answer = await anonymous.get(path)
            assert (path, answer.status_code, answer.headers.get("location")) == (
                path,
                303,
                SIGN_IN,
            )
        for action in ACTIONS:
            answer = await anonymous.post(
                f"/console/claims/{claim_id}/actions/{action}", data={"csrf_token": "x"}
            )
            assert (action, answer.status_code, answer.headers.get("location")) == (
                action,
                303,
                SIGN_IN,
            )

    # Nothing moved the claim, and nothing logged the claimant.
    after = (await ops_api.get(f"/v1/claims/{claim_id}")).json()
    assert after["version"] == version and after["stage"] == "EXAM"
    logged = [str(vars(record)) for record in caplog.records]
    assert logged  # the access lines and the rest were captured
    for value in phi:
        assert not [line for line in logged if value in line]
