"""What Prefect costs per host in a project run: the project flow vs the same work without Prefect.

Run from the checkout, as root, when the machine is otherwise quiet::

    .venv/bin/python bench/prefect_overhead.py              # fleets of 10 and 50 hosts
    .venv/bin/python bench/prefect_overhead.py --hosts 5

For each fleet size it brings up its own lab (``benchp``, state in ``/tmp/itpm-benchp-state``), starts its own
Prefect server on a free port, and runs one project (the baseline as a compliance step: canary, then batches
of 50%, no approval gate) twice on freshly converged hosts, alternating the order:

- ``direct``: ``itpm.project_run.ProjectRun`` called in order from this process, as the flow would call it;
- ``flow``: ``flows.project.project_flow`` against the Prefect server: the same calls, inside tasks, plus the
  flow run, task runs, tags and artifacts.

Both runs change nothing (the hosts are converged first), so Ansible's share is the same and the difference is
Prefect's. It prints the wall time of each, the overhead in seconds, per host, and the ratio flow/direct.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml
from bench_lab import fleet_sizes, prepare

from itpm.execution.runner import run_playbook
from itpm.inventory import load_inventory
from itpm.lab.fleet import lab_down, lab_up
from itpm.models.project import PhaseName
from itpm.prefect_server import client_environment, ensure_server, stop_server
from itpm.project_run import ProjectRun
from itpm.rollout import Verdict
from itpm.settings import Settings

REPO = Path(__file__).resolve().parents[1]
LAB = "benchp"  # its own lab: tests, demos and the other benchmarks use other names
STATE_DIR = Path("/tmp/itpm-benchp-state").resolve()  # noqa: S108 - a scratch dir of this benchmark, root only
INVENTORY = STATE_DIR / "inventory" / "hosts.yml"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_project() -> Path:
    """Write the benchmark's project file (paths absolute; a playbooks/ dir marks the root)."""
    (STATE_DIR / "playbooks").mkdir(parents=True, exist_ok=True)
    document = {
        "name": "bench-overhead",
        "title": "Prefect overhead benchmark",
        "kind": "compliance",
        "objectives": ["measure"],
        "scope": {"inventory": str(INVENTORY), "hosts": "all"},
        "steps": [
            {
                "name": "baseline",
                "playbook": str(REPO / "playbooks" / "baseline.yml"),
                "checks": [str(REPO / "checks" / "baseline")],
                "strategy": {"canary": 1, "batch_size": "50%"},
            }
        ],
    }
    path = STATE_DIR / "bench-overhead.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def direct(project_file: Path, settings: Settings) -> float:
    """Run the project's work without Prefect, in the order the flow uses; return wall seconds."""
    started = time.monotonic()
    run = ProjectRun.open(project_file, settings, requester="bench")
    run.start()
    run.enter_phase(PhaseName.PLANNING)
    for step in run.project.steps:
        run.audit(step, "before")
        run.plan(step)
    run.enter_phase(PhaseName.EXECUTION)
    for step in run.project.steps:
        for batch in run.batches(step):
            if run.run_batch(step, batch).verdict is Verdict.HALTED:
                raise SystemExit(f"direct run halted at {batch.label}")
    for step in run.project.steps:
        run.audit(step, "after")
    run.finish("completed")
    return time.monotonic() - started


def with_flow(project_file: Path) -> float:
    """Run the same project through the Prefect flow; return wall seconds."""
    from flows.project import project_flow  # noqa: PLC0415 - Prefect reads its settings from the environment set in main

    started = time.monotonic()
    outcome = project_flow(project_file=str(project_file), run_id=f"bench-{time.time_ns()}", requester="bench")
    if outcome != "completed":
        raise SystemExit(f"flow run ended {outcome}")
    return time.monotonic() - started


def bench_fleet(settings: Settings, count: int) -> tuple[float, float]:
    """Return (direct seconds, flow seconds) on a converged fleet of ``count`` hosts."""
    lab_down(settings, name=LAB)
    lab_up(settings, name=LAB, count=count, inventory=INVENTORY)
    converge = run_playbook(REPO / "playbooks" / "baseline.yml", load_inventory(INVENTORY), settings)
    if not converge.succeeded:
        raise SystemExit(f"could not converge the bench lab: {sorted(converge.failed)}")
    project_file = write_project()
    # Alternate the order so neither variant always runs on a warmer machine; report the mean of two each.
    direct_times = [direct(project_file, settings)]
    flow_times = [with_flow(project_file)]
    flow_times.append(with_flow(project_file))
    direct_times.append(direct(project_file, settings))
    return sum(direct_times) / 2, sum(flow_times) / 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hosts", default="10,50", help="fleet sizes, comma-separated (default: 10,50)")
    args = parser.parse_args(argv)
    sizes = fleet_sizes(parser, args.hosts)
    settings = prepare(STATE_DIR, INVENTORY, prefect_port=_free_port())
    rows = []
    try:
        ensure_server(settings)
        os.environ.update(client_environment(settings))
        os.environ["ITPM_STATE_DIR"] = str(STATE_DIR)
        os.environ["ITPM_PREFECT_PORT"] = str(settings.prefect_port)
        for count in sizes:
            print(f"{count} hosts (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)", flush=True)
            rows.append((count, *bench_fleet(settings, count)))
    finally:
        lab_down(settings, name=LAB)
        stop_server(settings)
    print(f"\n{'hosts':>6}{'direct s':>12}{'flow s':>12}{'overhead s':>12}{'per host ms':>13}{'flow/direct':>13}")
    for count, direct_s, flow_s in rows:
        overhead = flow_s - direct_s
        print(
            f"{count:>6}{direct_s:>12.1f}{flow_s:>12.1f}{overhead:>12.2f}"
            f"{1000 * overhead / count:>13.0f}{flow_s / direct_s:>13.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
