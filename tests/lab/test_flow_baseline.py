"""The baseline flow under a real (temporary) Prefect server: it runs the services and publishes a host table."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from prefect.testing.utilities import prefect_test_harness

from flows.baseline import BaselineFailed, baseline
from itpm.execution import connection
from itpm.lab import faults

from .conftest import REPO, Lab


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def in_lab(converged: Lab, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("ITPM_STATE_DIR", str(converged.settings.state_dir))
    return converged


def _host_tables() -> list[list[dict[str, str]]]:
    """Return the rows of every baseline host table, newest first (Prefect stores table data as JSON text)."""

    async def read() -> list[list[dict[str, str]]]:
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["baseline-hosts"])),
                sort=ArtifactSort.CREATED_DESC,
            )
        return [json.loads(str(artifact.data)) for artifact in artifacts]

    return asyncio.run(read())


def test_flow_applies_verifies_and_publishes_the_host_table(prefect_server: None, in_lab: Lab) -> None:
    state = baseline(inventory=in_lab.inventory_path, limit="h1,h2", return_state=True)
    assert state.is_completed(), state.message
    verified = state.result()
    assert sorted(verified.hosts) == ["h1", "h2"] and verified.succeeded
    tables = _host_tables()
    assert {"host": "h1", "applied": "ok", "checks": "11 of 11 passed", "attention": ""} in tables[0]


def test_flow_fails_naming_the_host_when_one_is_unreachable(prefect_server: None, in_lab: Lab) -> None:
    faults.kill_sshd(in_lab.name, "h3")
    try:
        state = baseline(inventory=in_lab.inventory_path, limit="h3,h4", return_state=True)
    finally:
        faults.start_sshd(in_lab.name, "h3")
    assert state.is_failed()
    with pytest.raises(BaselineFailed, match="baseline failed on h3"):
        state.result()
    rows = {row["host"]: row for row in _host_tables()[0]}
    assert rows["h3"]["applied"] == "unreachable" and "Connection refused" in rows["h3"]["attention"]
    assert rows["h4"]["checks"] == "11 of 11 passed"


def test_playbooks_started_after_a_flow_still_use_mitogen(prefect_server: None, in_lab: Lab) -> None:
    # Prefect adds a second FileFinder path hook when it runs a flow; Ansible's collection loader refuses to
    # load beside it. The mitogen check must not depend on this process's import state.
    baseline(inventory=in_lab.inventory_path, limit="h1", return_state=True)
    assert len([hook for hook in sys.path_hooks if "FileFinder" in repr(hook)]) > 1  # the condition under test
    connection.mitogen_strategy_dir.cache_clear()
    tuning = connection.tuning_for(in_lab.settings, 5)
    assert tuning.strategy == "mitogen", tuning.fallback_reason
