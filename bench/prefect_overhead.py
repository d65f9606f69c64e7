"""What Prefect costs per host-step in a project run, measured inside one flow run.

Run from the checkout, as root, when the machine is otherwise quiet::

    .venv/bin/python bench/prefect_overhead.py                     # 10, 50 and 200 hosts
    .venv/bin/python bench/prefect_overhead.py --hosts 5 --direct-up-to 5

For each fleet size it brings up its own lab (``benchp``, state in ``/tmp/itpm-benchp-state``), converges it
(untimed), and runs one project once through ``flows.project.project_flow`` against a Prefect server of its
own (started untimed): the baseline as one step, the canary and then batches of 50%, no approval gate.

Instead of subtracting two noisy runs, it accounts for the flow run's wall time call by call
(bench/flow_accounting.py): every call the flow makes into itpm (``ProjectRun``'s methods, and inside them
Ansible and pytest) is timed, and so are Prefect's task calls, its artifact calls and the board's views.
Prefect's overhead is the flow's wall time minus itpm's work: task runs (the task call minus the work in it),
artifacts, the views computed only for them, and the flow run's own start and end. It prints:

- Prefect's one-time start in a process (an empty flow run, first vs next; ``itpm run`` pays it every run),
  measured before the fleets so that none of them pays it and the sizes compare;
- the fixed cost per run, the cost per batch (a batch's task run and the board update after it), and the
  overhead per host-step (host-steps = hosts x steps; the target is 5 ms at most), without and with the
  one-time start;
- the breakdown by category, in ms per host-step.

The hosts are converged first, so that every size does the same (small) work per host and the overhead shows.
As a cross-check, for fleets up to ``--direct-up-to`` hosts (default 50) it also runs the same ``ProjectRun``
calls without Prefect, once, after the flow, and prints flow minus direct: the old, noisy way of measuring.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from bench_lab import fleet_sizes, free_port, prefect_server, prepare
from call_timing import CallTimer
from flow_accounting import OVERHEAD, WORK, FlowAccount, instrument
from process_tree import tree_cpu_s

from itpm.execution.runner import run_playbook
from itpm.inventory import load_inventory
from itpm.lab.fleet import lab_down, lab_up
from itpm.models.project import PhaseName
from itpm.project_run import ProjectRun
from itpm.rollout import Verdict
from itpm.settings import Settings

REPO = Path(__file__).resolve().parents[1]
LAB = "benchp"  # its own lab: tests, demos and the other benchmarks use other names
STATE_DIR = Path("/tmp/itpm-benchp-state").resolve()  # noqa: S108 - a scratch dir of this benchmark, root only
INVENTORY = STATE_DIR / "inventory" / "hosts.yml"
STEPS = 1  # the project below has one step


@dataclass(frozen=True)
class Overhead:
    """One fleet: the flow run's account and, as a cross-check, the direct run's wall seconds (None: not run)."""

    hosts: int
    account: FlowAccount
    server_cpu_s: float  # CPU seconds the Prefect server used during the flow run
    direct: FlowAccount | None  # the same calls without Prefect (its overhead categories stay at 0)
    direct_server_cpu_s: float | None  # ... and during the direct run: the idle server's own polling

    @property
    def host_steps(self) -> int:
        """Return hosts x steps."""
        return self.hosts * STEPS


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


def direct(project_file: Path, settings: Settings) -> FlowAccount:
    """Run the project's work without Prefect, in the order the flow uses, every call timed; return its account."""
    timer = CallTimer()
    instrument(timer)
    with timer:
        started = time.monotonic()
        _direct_calls(project_file, settings)
        wall = time.monotonic() - started
    return FlowAccount.of(timer, wall)


def _direct_calls(project_file: Path, settings: Settings) -> None:
    run = ProjectRun.open(project_file, settings, requester="bench")
    run.start()
    run.enter_phase(PhaseName.INITIATION)
    run.enter_phase(PhaseName.PLANNING)
    for step in run.project.steps:
        run.audit(step, "before")
        run.plan(step)
    run.enter_phase(PhaseName.EXECUTION)
    for step in run.project.steps:
        for batch in run.batches(step):
            if run.run_batch(step, batch).verdict is Verdict.HALTED:
                raise SystemExit(f"direct run halted at {batch.label}")
    run.enter_phase(PhaseName.MONITORING_AND_CONTROL)
    for step in run.project.steps:
        run.audit(step, "after")
    run.enter_phase(PhaseName.CLOSURE)
    run.finish("completed")


def with_flow(project_file: Path) -> FlowAccount:
    """Run the same project through the Prefect flow, every call timed; return the run's account."""
    from flows.project import project_flow  # noqa: PLC0415 - Prefect reads its settings from the environment set in main

    timer = CallTimer()
    instrument(timer)
    with timer:
        started = time.monotonic()
        outcome = project_flow(project_file=str(project_file), run_id=f"bench-{time.time_ns()}", requester="bench")
        wall = time.monotonic() - started
    if outcome != "completed":
        raise SystemExit(f"flow run ended {outcome}")
    return FlowAccount.of(timer, wall)


def server_cpu_s(settings: Settings) -> float:
    """Return the CPU seconds the bench's Prefect server (its process tree) has used so far."""
    return tree_cpu_s(int((settings.prefect_home / "server.pid").read_text().strip()))


def process_start_s() -> tuple[float, float]:
    """Return the wall seconds of an empty flow run: the first in this process, and the next one.

    The first pays Prefect's set-up in the process (its API client, the engine's background services); ``itpm
    run`` runs one flow per process, so it pays that on every run. Measured first, so that every fleet's flow
    below runs without it and the sizes compare; the tables add it back.
    """
    from prefect import flow  # noqa: PLC0415 - Prefect reads its settings from the environment set in main

    @flow(name="bench-empty", persist_result=False)
    def empty() -> None:
        return None

    walls = []
    for _ in range(2):
        started = time.monotonic()
        empty()
        walls.append(time.monotonic() - started)
    return walls[0], walls[1]


def bench_fleet(settings: Settings, count: int, direct_up_to: int) -> Overhead:
    """Return the flow's account (and the direct run's seconds, for small fleets) on ``count`` converged hosts."""
    lab_down(settings, name=LAB)
    lab_up(settings, name=LAB, count=count, inventory=INVENTORY)
    converge = run_playbook(REPO / "playbooks" / "baseline.yml", load_inventory(INVENTORY), settings)
    if not converge.succeeded:
        raise SystemExit(f"could not converge the bench lab: {sorted(converge.failed)}")
    project_file = write_project()
    cpu_before = server_cpu_s(settings)
    account = with_flow(project_file)
    server_cpu = server_cpu_s(settings) - cpu_before
    print(f"  flow: {account.wall_s:.1f} s, of which Prefect {account.overhead_s:.2f} s", flush=True)
    if count > direct_up_to:
        return Overhead(count, account, server_cpu, None, None)
    cpu_before = server_cpu_s(settings)
    without = direct(project_file, settings)
    print(f"  direct (cross-check): {without.wall_s:.1f} s", flush=True)
    return Overhead(count, account, server_cpu, without, server_cpu_s(settings) - cpu_before)


def print_tables(rows: Sequence[Overhead], start: tuple[float, float]) -> None:
    """Print the overhead per run, per batch and per host-step, then its breakdown, then the cross-check."""
    once = start[0] - start[1]
    print(f"\nan empty flow: {start[0]:.2f} s the first in a process, {start[1]:.2f} s the next: {once:.2f} s once")
    print("per process, which `itpm run` (one flow per process) pays on every run; added in the last column")
    print(
        f"\n{'hosts':>6}{'flow s':>9}{'itpm work s':>13}{'Prefect s':>11}{'fixed s':>9}{'batches':>9}"
        f"{'per batch s':>13}{'ms/host-step':>14}{'server CPU s':>14}{'+ process start':>17}"
    )
    for row in rows:
        a = row.account
        per_host_step = 1000 * a.overhead_s / row.host_steps
        print(
            f"{row.hosts:>6}{a.wall_s:>9.1f}{a.work_s:>13.1f}{a.overhead_s:>11.2f}{a.fixed_s:>9.2f}{a.batches:>9}"
            f"{a.per_batch_s:>13.3f}{per_host_step:>14.1f}{row.server_cpu_s:>14.2f}"
            f"{1000 * (a.overhead_s + once) / row.host_steps:>17.1f}"
        )
    print("\nms per host-step, by category (own time)")
    print(f"{'hosts':>6}" + "".join(f"{c:>19}" for c in (*WORK, *OVERHEAD)))
    for row in rows:
        by_category = (1000 * row.account.seconds[c] / row.host_steps for c in (*WORK, *OVERHEAD))
        print(f"{row.hosts:>6}" + "".join(f"{ms:>19.1f}" for ms in by_category))
    checked = [row for row in rows if row.direct is not None]
    if checked:
        print("\ncross-check: one direct run after the flow, seconds (noisy: two runs' difference)")
        titles = "".join(f"{c:>19}" for c in WORK) + f"{'Prefect':>10}{'server CPU':>12}"
        print(f"{'hosts':>6}{'run':>8}{'wall':>9}" + titles)
        for row in checked:
            assert row.direct is not None and row.direct_server_cpu_s is not None
            runs = (("flow", row.account, row.server_cpu_s), ("direct", row.direct, row.direct_server_cpu_s))
            for name, account, server_cpu in runs:
                work = "".join(f"{account.seconds[c]:>19.2f}" for c in WORK)
                print(
                    f"{row.hosts:>6}{name:>8}{account.wall_s:>9.2f}{work}{account.overhead_s:>10.2f}{server_cpu:>12.2f}"
                )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hosts", default="10,50,200", help="fleet sizes, comma-separated (default: 10,50,200)")
    parser.add_argument("--direct-up-to", type=int, default=50, help="cross-check fleets up to this size (0: none)")
    args = parser.parse_args(argv)
    sizes = fleet_sizes(parser, args.hosts)
    settings = prepare(STATE_DIR, INVENTORY, prefect_port=free_port())
    rows = []
    try:
        with prefect_server(settings):
            start = process_start_s()
            for count in sizes:
                print(f"{count} hosts (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)", flush=True)
                rows.append(bench_fleet(settings, count, args.direct_up_to))
    finally:
        lab_down(settings, name=LAB)
    print_tables(rows, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
