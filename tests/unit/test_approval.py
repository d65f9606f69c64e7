"""``itpm approve``'s side in Prefect (flows/approval.py): the paused flow run of that run is resumed, no other."""

from __future__ import annotations

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Paused
from prefect.testing.utilities import prefect_test_harness

from flows.approval import answer_approval
from flows.run_tag import run_tag
from itpm.errors import ExecutionError


@flow(persist_result=False)
def _gate() -> None:
    """Stands for a project flow: only its flow runs' tags and states matter here."""


def test_the_answer_resumes_the_paused_flow_run_of_that_run_only() -> None:
    with prefect_test_harness(server_startup_timeout=60), get_client(sync_client=True) as client:
        mine = client.create_flow_run(_gate, tags=[run_tag("demo-r1")], state=Paused(timeout_seconds=600))
        other = client.create_flow_run(_gate, tags=[run_tag("demo-r2")], state=Paused(timeout_seconds=600))

        assert answer_approval("demo-r1", approver="chris", approve=True, comment="ok", wait_seconds=0) == mine.id

        paused = {run.id: run.state is not None and run.state.is_paused() for run in client.read_flow_runs()}
        assert paused == {mine.id: False, other.id: True}
        with pytest.raises(ExecutionError, match="no paused flow run of it is in Prefect") as raised:
            answer_approval("demo-r3", approver="chris", approve=True, comment="", wait_seconds=0)
        assert raised.value.fix == "the flow process may have stopped: itpm resume demo-r3"
