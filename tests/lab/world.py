"""One lab test's surroundings for project runs through the CLI: state dir, inventory copy, project files, stamps.

The change the projects make is tests/lab/data/playbooks/marker.yml: its content comes from inventory vars (so a
host var makes a host's checks fail on purpose), and it stamps on each host when a run worked there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from itpm.log.events import ApprovalDecided, Event, RunFinished
from itpm.log.store import ProjectLog

from .conftest import REPO, Lab, run_itpm

DATA = Path(__file__).parent / "data"
HOSTS = ["h1", "h2", "h3", "h4", "h5"]


# Run in a process of its own, with the world's Prefect settings. A flow that has just refused an answer pauses
# again within seconds, so it looks for the paused flow run for up to a minute.
_ANSWER_IN_UI = """
import json, sys, time
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.flow_runs import resume_flow_run

answer, tags = json.loads(sys.stdin.read()), FlowRunFilterTags(all_=[f"itpm-run:{sys.argv[1]}"])
with get_client(sync_client=True) as client:
    for _ in range(120):
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=tags))
        paused = [r for r in runs if r.state and r.state.name in ("Paused", "Suspended")]
        if paused:
            break
        time.sleep(0.5)
if not paused:
    sys.exit(f"no paused flow run of {sys.argv[1]}: " + ", ".join(f"{r.name} {r.state_name}" for r in runs))
resume_flow_run(paused[0].id, run_input=answer)
"""


class World:
    """One test's surroundings: lab, state dir, inventory, and the environment the CLI runs in."""

    def __init__(self, lab: Lab, root: Path, inventory_dir: Path, env: dict[str, str]) -> None:
        self.lab, self.root, self.inventory_dir, self.env = lab, root, inventory_dir, env
        self.background: list[subprocess.Popen[str]] = []

    @classmethod
    def fresh(cls, lab: Lab, prefect_api: dict[str, str], root: Path) -> World:
        """Return a world under ``root``: own state dir and inventory copy, every host's marker and stamps removed."""
        for host in HOSTS:
            lab.host(host).run("rm -f /etc/itpm-marker /var/log/itpm-stamps")
        inventory_dir = root / "inventory"
        shutil.copytree(lab.inventory_path.parent / "group_vars", inventory_dir / "group_vars")
        shutil.copy(lab.inventory_path, inventory_dir / "hosts.yml")
        (inventory_dir / "group_vars" / "all" / "marker.yml").write_text("marker_content: ok\nmarker_work_seconds: 1\n")
        (root / "playbooks").mkdir()  # marks root as the root the project files' paths resolve against
        (root / "state").mkdir()
        env = {**os.environ, **prefect_api, "ITPM_STATE_DIR": str(root / "state")}
        env.pop("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", None)  # the test session's; the CLI brings its own
        return cls(lab, root, inventory_dir, env)

    def stop_background(self) -> None:
        """Kill every run this test started in the background that is still going, and reap them all."""
        for running in self.background:
            if running.poll() is None:
                os.killpg(running.pid, signal.SIGKILL)
            running.communicate(timeout=60)

    @property
    def log(self) -> ProjectLog:
        return ProjectLog(f"sqlite:///{self.root / 'state' / 'project-log.sqlite'}")

    def host_var(self, host: str, **values: Any) -> None:
        (self.inventory_dir / "host_vars").mkdir(exist_ok=True)
        (self.inventory_dir / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(values))

    def project(
        self,
        name: str,
        *,
        hosts: str = "all",
        approval: bool = False,
        stakeholders: list[dict[str, Any]] | None = None,
        team: list[dict[str, Any]] | None = None,
        sections: dict[str, Any] | None = None,
        **strategy: Any,
    ) -> Path:
        """Write a one-step project (the marker change) and return its path.

        ``team`` replaces the default team (dana the engineer, chris the change manager); ``sections`` adds or
        replaces top-level sections of the file (``signing``, ``environment``); the rest is the step's strategy.
        """
        step: dict[str, Any] = {
            "name": "marker",
            "playbook": str(DATA / "playbooks" / "marker.yml"),
            "checks": [str(DATA / "checks")],
            "rollback": str(DATA / "playbooks" / "marker-rollback.yml"),
            "strategy": {"canary": None, "batch_size": "100%", **strategy},
        }
        if approval:
            step["strategy"]["approval"] = {"roles": ["change_manager"]}
        document = {
            "name": name,
            "title": f"Test project {name}",
            "kind": "compliance",
            "objectives": ["prove project runs on real hosts"],
            "scope": {"inventory": str(self.inventory_dir / "hosts.yml"), "hosts": hosts},
            "team": team
            or [
                {"name": "Dana Engineer", "role": "engineer", "user": "dana"},
                {"name": "Chris Change", "role": "change_manager", "user": "chris"},
            ],
            "budget": {
                "currency": "EUR",
                "total": 1000,
                "rates": {"engineer": 100, "change_manager": 120},
                "per_host": 10,
            },
            "risks": [
                {
                    "id": "R1",
                    "title": "the marker breaks checks",
                    "likelihood": "low",
                    "impact": "medium",
                    "mitigation": "canary first",
                    "owner": "Dana Engineer",
                    "signals": ["check_failed"],
                }
            ],
            "stakeholders": stakeholders or [],
            "steps": [step],
            **(sections or {}),
        }
        path = self.root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(document))
        return path

    def itpm(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run_itpm(self.env, *args, timeout=timeout)

    def itpm_background(self, *args: str) -> subprocess.Popen[str]:
        """Start ``itpm`` in its own session; the fixture kills it at the end of the test if it still runs."""
        running = subprocess.Popen(
            [sys.executable, "-m", "itpm", *args],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.background.append(running)
        return running

    def wait_for(
        self, kind: str, *, project: str | None = None, batch: str | None = None, timeout: float = 180
    ) -> Event:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.log.events(project=project, kinds=[kind]):
                if batch is None or entry.batch == batch:
                    return entry
            time.sleep(0.3)
        raise AssertionError(f"no {kind} event within {timeout} s")

    def answer_in_ui(self, run_id: str, answer: dict[str, Any]) -> None:
        """Answer the run's paused gate straight through the Prefect API, as the UI's form does."""
        done = subprocess.run(
            [sys.executable, "-c", _ANSWER_IN_UI, run_id],
            input=json.dumps(answer),
            text=True,
            env=self.env,
            check=False,
            timeout=120,
            capture_output=True,
        )
        assert done.returncode == 0, f"answering run {run_id} through the API: {done.stderr[-2000:]}"

    def decisions(self, run_id: str, count: int = 0, timeout: float = 120) -> list[ApprovalDecided]:
        """Return the run's answers at its gates, once there are at least ``count`` (AssertionError after timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.log.events(run_id, kinds=["approval_decided"]) if isinstance(e, ApprovalDecided)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} answers at the gate of run {run_id}, not {count}, in {timeout} s")
            time.sleep(0.3)

    def marker(self, host: str) -> str | None:
        found = self.lab.host(host).file("/etc/itpm-marker")
        return found.content_string.strip() if found.exists else None

    def stamps(self, host: str) -> list[tuple[str, str, float]]:
        found = self.lab.host(host).file("/var/log/itpm-stamps")
        if not found.exists:
            return []
        return [
            (run, what, float(at)) for run, what, at in (line.split() for line in found.content_string.splitlines())
        ]

    def spans(self, host: str) -> dict[str, tuple[float, float]]:
        """Return each run's work on ``host`` as the host's own clock stamped it: run id -> (start, end).

        Fails unless every run stamped exactly one start and one end there (worked on the host exactly once).
        """
        stamps: dict[str, dict[str, list[float]]] = {}
        for run, what, at in self.stamps(host):
            stamps.setdefault(run, {}).setdefault(what, []).append(at)
        spans = {}
        for run, by_kind in stamps.items():
            assert len(by_kind.get("start", [])) == 1 and len(by_kind.get("end", [])) == 1, (
                f"run {run} did not work on {host} exactly once: {by_kind}"
            )
            spans[run] = (by_kind["start"][0], by_kind["end"][0])
        return spans


def finished_status(world: World, run_id: str) -> str:
    (finished,) = [e for e in world.log.events(run_id, kinds=["run_finished"]) if isinstance(e, RunFinished)]
    return finished.status
