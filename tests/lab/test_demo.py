"""The main job (`make run`, `itpm demo`) on a lab of its own, then the demo's flow run in the real Prefect UI.

The demo runs as `make run` runs it: its own local Prefect server (a free port instead of 4200, a state dir of the
test), the deployments of prefect.yaml, a worker, the network project from its deployment with a canary and an
approval the demo grants. Only the host count is smaller (4 instead of 12) and the project file a copy pointing at
the test's inventory. Then a PM's view: the flow run's page, its progress artifact and status report in headless
Chromium (tests/prefect_ui.py), screenshots in test-artifacts/ui/, and every artifact of the run and what the UI
renders of them read as plain words and numbers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from itpm.lab.fleet import lab_down
from itpm.lab.keys import ensure_key_pair
from itpm.log.events import ApprovalDecided, BatchStarted, RunFinished
from itpm.log.store import ProjectLog
from itpm.settings import Settings
from tests import prefect_ui as ui

from .conftest import LAB, free_port, make_inventory_dir, run_itpm
from .it_projects import shipped_copy

HOSTS = 4


@dataclass(frozen=True)
class Demo:
    """A finished demo: what it printed, its exit code, its state dir and the API its server answers on."""

    returncode: int
    stdout: str
    stderr: str
    state: Path
    api_url: str

    @property
    def log(self) -> ProjectLog:
        return ProjectLog(f"sqlite:///{self.state / 'project-log.sqlite'}")

    @property
    def run_id(self) -> str:
        found = re.search(r"^Run (\S+): ", self.stdout, re.MULTILINE)
        assert found, self.stdout
        return found[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """Run `itpm demo` once for the module; stop its worker and server and bring its lab down after."""
    base = tmp_path_factory.mktemp("demo")
    name = f"{LAB}d"
    state = base / "state"
    settings = Settings(state_dir=state)
    pair = ensure_key_pair(base / "service_ed25519", "itpm-svc@test")
    inventory = make_inventory_dir(base / "inventory", pair.public)
    (base / "playbooks").mkdir()
    project_file = shipped_copy("projects/network-config.yaml", base, inventory)  # approval gate and all
    port = free_port()
    env = {**os.environ, "ITPM_STATE_DIR": str(state), "ITPM_PREFECT_PORT": str(port)}
    env.pop("PREFECT_API_URL", None)  # as on a newcomer's machine: the demo starts its own server
    env.pop("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", None)
    lab_down(settings, name=name)
    try:
        done = run_itpm(
            env,
            "demo",
            "--hosts",
            str(HOSTS),
            "--project",
            str(project_file),
            "--name",
            name,
            timeout=1500,
        )
        yield Demo(done.returncode, done.stdout, done.stderr, state, f"http://127.0.0.1:{port}/api")
    finally:
        worker_pid = state / "prefect" / "worker.pid"
        pid = int(worker_pid.read_text()) if worker_pid.exists() else 0
        stopped = run_itpm(env, "server", "stop", timeout=120)
        lab_down(settings, name=name)
        assert stopped.returncode == 0, stopped.stderr
        if pid:  # `itpm server stop`, as `make stop` runs it, ended the worker with its flow processes
            with pytest.raises(ProcessLookupError):
                os.killpg(pid, 0)


def test_the_demo_finishes_a_verified_rollout_through_its_deployment_with_a_granted_approval(demo: Demo) -> None:
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    events = demo.log.events(demo.run_id)
    finished = [e for e in events if isinstance(e, RunFinished)]
    assert [e.status for e in finished] == ["completed"]
    approvals = [e for e in events if isinstance(e, ApprovalDecided)]
    assert [(a.approver, a.decision) for a in approvals] == [("chris", "approved")]
    batches = [e.batch for e in events if isinstance(e, BatchStarted)]
    assert batches[0] == "segment/canary", batches
    assert f"{HOSTS * 2} of {HOSTS * 2} host-steps verified (100%)" in demo.stdout
    # Where to look: the UI, itpm status, and the report the flow wrote.
    assert f"itpm status {demo.run_id}" in demo.stdout
    found = re.search(r"the report +(\S+\.html)$", demo.stdout, re.MULTILINE)
    assert found, demo.stdout
    report = Path(found[1])
    assert report.is_file() and demo.run_id in report.read_text()
    # The run came from the network-config deployment, as a Run button in the UI would start it.
    flow_run = ui.api(demo.api_url, f"/flow_runs/{_flow_run_id(demo)}")
    deployment = ui.api(demo.api_url, f"/deployments/{flow_run['deployment_id']}")
    assert (deployment["name"], flow_run["state_type"]) == ("network-config", "COMPLETED")
    assert flow_run["parameters"]["requester"] == "dana"


def test_a_pm_finds_progress_and_status_report_of_the_demo_in_the_prefect_ui(demo: Demo) -> None:
    assert demo.returncode == 0, demo.stderr[-3000:]
    api, flow_run = demo.api_url, _flow_run_id(demo)
    run_page = ui.open_flow_run(api, flow_run, name="demo-flow-run")
    assert demo.run_id in run_page.text and "Completed" in run_page.text
    tab = ui.open_artifacts_tab(api, flow_run, name="demo-artifacts")
    assert "itpm-network-config-progress" in tab.content and "itpm-network-config-status" in tab.content

    progress = ui.progress_artifact(api, flow_run, name="demo-progress")
    assert progress.content == "Progress: 100%"
    report = ui.status_report(api, flow_run, name="demo-status-report")
    shown = " ".join(report.content.split())
    assert f"Run: {demo.run_id}" in shown and "State: completed" in shown
    assert f"{HOSTS * 2} of {HOSTS * 2} host-steps verified (100%)" in shown
    assert "Approval of step segment: approved by chris, unsigned (demo: approved in the change window)" in shown
    assert "Budget" in shown and "EUR" in shown
    for page in (run_page, tab, progress, report):
        ui.assert_not_blank(page.screenshot)

    # Every artifact of the run as stored, and as the UI renders it, reads as words and numbers with units.
    artifacts = ui.run_artifacts(api, flow_run)
    assert {a.type for a in artifacts} >= {"progress", "table", "markdown"}
    unreadable = {f"{a.key} ({a.type}, created {a.created})": ui.unreadable(ui.artifact_text(a)) for a in artifacts}
    unreadable |= {f"{page.url} ({page.screenshot})": ui.unreadable(page.content) for page in (tab, progress, report)}
    assert not any(unreadable.values()), {where: found for where, found in unreadable.items() if found}


def _flow_run_id(demo: Demo) -> str:
    found = re.search(r"/runs/flow-run/([0-9a-f-]{36})", demo.stdout)
    assert found, demo.stdout
    return found[1]
