"""A run's approval gate answered from outside its flow (``itpm approve``): find its paused flow run, resume it.

The flow (flows/project.py) pauses at the gate and waits for an ``ApprovalInput``; this is the other end of
that conversation with Prefect, so that the command line only decides who may answer and says what happened.
"""

from __future__ import annotations

import time
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateName,
    FlowRunFilterTags,
)
from prefect.flow_runs import resume_flow_run

from flows.run_tag import run_tag
from itpm.errors import ExecutionError

__all__ = ["answer_approval"]


def answer_approval(
    run_id: str, *, approver: str, approve: bool, comment: str, signature: str = "", wait_seconds: float = 30
) -> UUID:
    """Resume the paused flow run of ``run_id`` with the approver's answer; return that flow run's id.

    The caller has read in the project log that the run waits for an approval. A flow that has just refused an
    answer (someone without the role) pauses again within seconds, so this looks for the paused flow run for up
    to ``wait_seconds``. Raises ExecutionError when there is none by then: the flow process may have stopped.
    """
    deadline = time.monotonic() + wait_seconds
    with get_client(sync_client=True) as client:
        while True:
            paused = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=[run_tag(run_id)]),
                    state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused", "Suspended"])),
                )
            )
            if paused or time.monotonic() >= deadline:
                break
            time.sleep(1)
    if not paused:
        raise ExecutionError(
            f"run {run_id} waits for approval in its log, but no paused flow run of it is in Prefect",
            fix=f"the flow process may have stopped: itpm resume {run_id}",
        )
    resume_flow_run(
        paused[0].id,
        run_input={"approver": approver, "approve": approve, "comment": comment, "signature": signature},
    )
    return paused[0].id
