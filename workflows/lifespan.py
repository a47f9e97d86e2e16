"""How long one workflow run may grow before it hands its state to a new run (continue-as-new):
one rule for the claim and its safety cases."""

from __future__ import annotations

from temporalio import workflow

# Past this many events a run continues as new even if the server has not suggested it yet:
# bounded histories replay fast and never near the server's hard limits (50k events / 50 MB).
HISTORY_LIMIT = 1_000


def history_is_long(*, headroom: int = 0) -> bool:
    """Whether the run should continue as new now: the server suggests it, or the history is
    within `headroom` events of the limit (the room a run needs between two checks)."""
    info = workflow.info()
    return (
        info.is_continue_as_new_suggested()
        or info.get_current_history_length() + headroom > HISTORY_LIMIT
    )
