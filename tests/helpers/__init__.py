"""What the tests share besides fixtures (those stay in tests/conftest.py), one module a theme:

- config: the test secrets and key ring, settings and activities as tests configure them
- stack: the real servers (embedded Postgres, which a test may freeze; Temporal's
  time-skipping server; the dev server's address)
- app: the HTTP app under test and clients holding real API keys of any role
- referrals: sample referral and report payloads
- claims: starting claims on a test server, acting on them, waiting for their state
- walk: a DEMO claim walked through the HTTP API by its parties
- probes: named reads of what the service wrote to Postgres (notices, inbox items, deliveries,
  appointments, claims)
- histories: recorded workflow histories for the replay tests
- processes: the service's own processes (API, worker, dispatcher, starter.py)
- receivers: the outside callees on loopback (webhook, paging, SMTP)
- phi: a distinctive claimant and the spellings under which it could leak
- strategies: Hypothesis strategies for what callers send
- latency: added latency for chosen activities
- logging_workflow: a workflow and an activity that log

The claim helpers are re-exported here (`from tests.helpers import start_claim`). They load on
first use: the workflow sandbox imports `tests.helpers.logging_workflow`, and with it this
package, which must then import little.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.helpers.claims import (
        STARTED,
        act,
        act_and_finish,
        appointment_of,
        examiner_of,
        projection_until,
        start_claim,
        start_demo_claim,
        terminate_leftovers,
        wait_for,
    )
    from tests.helpers.histories import HISTORIES, MANIFEST, VERSION, keep_history, save_history
    from tests.helpers.processes import starter_cli

__all__ = [
    "HISTORIES",
    "MANIFEST",
    "STARTED",
    "VERSION",
    "act",
    "act_and_finish",
    "appointment_of",
    "examiner_of",
    "keep_history",
    "projection_until",
    "save_history",
    "start_claim",
    "start_demo_claim",
    "starter_cli",
    "terminate_leftovers",
    "wait_for",
]

_ELSEWHERE = {"HISTORIES": "histories", "MANIFEST": "histories", "VERSION": "histories",
              "keep_history": "histories", "save_history": "histories",
              "starter_cli": "processes"}  # fmt: skip


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    home = _ELSEWHERE.get(name, "claims")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
