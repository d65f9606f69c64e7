"""One rollout at 50, 100 and 200 hosts: whether the time per host stays flat, and the memory it takes.

Run from the checkout, as root (the lab fleet needs namespaces), when the machine is otherwise quiet::

    .venv/bin/python bench/scale.py --hosts 50,100,200
    .venv/bin/python bench/scale.py --hosts 5,10 --batch-size 5     # a quick try

For each fleet size it makes fresh hosts (the lab ``benchs``, state in ``/tmp/itpm-benchs-state``; the time
``lab up`` took is printed, untimed otherwise) and runs one project through the Prefect flow (what ``itpm run``
calls), against a Prefect server of its own started untimed: projects/baseline-rollout.yaml (budget, team,
stakeholder notices, risks, the rollback playbook) pointed at the bench's inventory, without its approval gate,
the canary first and then batches of ``--batch-size`` hosts (default 50, itpm's ``max_forks``: a batch is what
Ansible runs at once). Each size gets its own project name, so that no run reads another's costs.

It prints per size: wall time, time per host and its ratio to the first size's (the target: not above 1, time
per host does not grow); the controller's CPU seconds per host and their ratio (this process and its reaped
children: on a shared machine wall time follows the others' load, CPU time much less, so a part that really
grows with the fleet shows there); the Prefect server's CPU seconds; the load average around the run; where the
time went per host (flow_accounting's categories); and the controller's peak memory:

- ``tree peak``: the summed RSS of this process and all its descendants (ansible-playbook and its workers,
  ssh, pytest and its xdist workers), sampled every 0.2 s in a thread, at its highest;
- ``server peak``: the same for the Prefect server's process tree (detached, so outside the first);
- ``max child``: ``ru_maxrss`` of the reaped children, the largest single process (the sampler can miss a
  short peak; this cannot).

The project must complete with every host verified; otherwise its row says FAILED with the reason. It asserts
nothing about time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_lab import fleet_sizes, free_port, prefect_server, prepare, save_project, shipped_project
from call_timing import CallTimer
from flow_accounting import OVERHEAD, WORK, FlowAccount, instrument
from process_tree import TreeMemory, children_max_rss_mib, tree_cpu_s
from timed_command import own_and_children_cpu_s

from itpm.lab.fleet import lab_down, lab_up
from itpm.log.store import ProjectLog
from itpm.project_file import load_project
from itpm.reports.run_status import run_status
from itpm.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHIPPED_PROJECT = "projects/baseline-rollout.yaml"
LAB = "benchs"  # its own lab: tests, demos and the other benchmarks use other names
STATE_DIR = Path("/tmp/itpm-benchs-state").resolve()  # noqa: S108 - a scratch dir of this benchmark, root only
INVENTORY = STATE_DIR / "inventory" / "hosts.yml"


@dataclass(frozen=True)
class FleetRun:
    """One rollout on a fleet: lab up and run seconds, where the time went, peak memory, why it failed."""

    hosts: int
    lab_up_s: float
    account: FlowAccount
    cpu_s: float  # the controller's CPU seconds: this process and its reaped children (Ansible, pytest, ssh)
    server_cpu_s: float  # the Prefect server's CPU seconds during the run
    load: tuple[float, float, float]  # 1-minute load average before and after the run, 5-minute after
    tree_peak_mib: float
    tree_peak_processes: int
    server_peak_mib: float
    max_child_mib: float
    failure: str | None


def write_project(count: int, batch_size: int) -> Path:
    """Write the baseline rollout for the bench's inventory: no approval gate, batches of ``batch_size``."""
    document = shipped_project(SHIPPED_PROJECT, INVENTORY)
    document["name"] = f"bench-scale-{count}"
    for step in document["steps"]:
        step["strategy"]["batch_size"] = batch_size
    document["budget"]["total"] = 100 * count  # per_host costs 15: keep the run within budget at any size
    return save_project(document, STATE_DIR, f"bench-scale-{count}.yaml")


def _server_root(settings: Settings) -> Iterable[int]:
    pid_file = settings.prefect_home / "server.pid"
    try:
        return [int(pid_file.read_text().strip())]
    except (OSError, ValueError):
        return []


def bench_fleet(settings: Settings, count: int, batch_size: int) -> FleetRun:
    """Make ``count`` fresh hosts and roll the baseline out on them through the flow."""
    from flows.kinds import flow_for  # noqa: PLC0415 - Prefect reads its settings from the environment set in main

    started = time.monotonic()
    lab_down(settings, name=LAB)
    lab_up(settings, name=LAB, count=count, inventory=INVENTORY)
    lab_up_s = time.monotonic() - started
    print(f"  lab up: {count} hosts in {lab_up_s:.1f} s", flush=True)
    project_file = write_project(count, batch_size)
    project_flow = flow_for(load_project(project_file).kind)
    run_id = f"bench-scale-{count}-{time.time_ns()}"
    timer = CallTimer()
    instrument(timer)
    failure = None
    load_before = os.getloadavg()[0]
    server_cpu_before = sum(tree_cpu_s(pid) for pid in _server_root(settings))
    with timer, TreeMemory(0.2) as tree, TreeMemory(0.2, roots=lambda: _server_root(settings)) as server:
        cpu_before = own_and_children_cpu_s()
        started = time.monotonic()
        try:
            outcome = project_flow(project_file=str(project_file), run_id=run_id, requester="dana")
        except Exception as error:  # a halted or broken run is a result to print, not a crash
            outcome = f"{type(error).__name__}: {error}"
        wall = time.monotonic() - started
        cpu = own_and_children_cpu_s() - cpu_before
    server_cpu = sum(tree_cpu_s(pid) for pid in _server_root(settings)) - server_cpu_before
    load_after = os.getloadavg()
    if outcome != "completed":
        failure = f"flow ended {outcome}"[:600]
    else:
        status = run_status(ProjectLog.for_settings(settings).events(run_id))
        if status.problems:
            (step, host), why = next(iter(status.problems.items()))
            failure = f"{len(status.problems)} host-steps failed, e.g. {host} in {step}: {why}"[:600]
    return FleetRun(
        hosts=count,
        lab_up_s=lab_up_s,
        account=FlowAccount.of(timer, wall),
        cpu_s=cpu,
        server_cpu_s=server_cpu,
        load=(load_before, load_after[0], load_after[1]),
        tree_peak_mib=tree.peak_mib,
        tree_peak_processes=tree.peak_processes,
        server_peak_mib=server.peak_mib,
        max_child_mib=children_max_rss_mib(),
        failure=failure,
    )


def print_tables(runs: Sequence[FleetRun]) -> None:
    """Print the scaling table, where the time per host went, and the peak memory."""
    first = runs[0]
    base = first.account.wall_s / first.hosts
    cpu_base = first.cpu_s / first.hosts
    print(
        f"\n{'hosts':>6}{'lab up s':>10}{'wall s':>10}{'s/host':>9}{f'vs {first.hosts}':>9}{'batches':>9}"
        f"{'CPU s/host':>12}{f'vs {first.hosts}':>9}{'server CPU s':>14}{'load 1m before/after, 5m':>27}"
    )
    for run in runs:
        per_host, cpu_per_host = run.account.wall_s / run.hosts, run.cpu_s / run.hosts
        load = f"{run.load[0]:.1f} / {run.load[1]:.1f}, {run.load[2]:.1f}"
        print(
            f"{run.hosts:>6}{run.lab_up_s:>10.1f}{run.account.wall_s:>10.1f}{per_host:>9.3f}{per_host / base:>9.2f}"
            f"{run.account.batches:>9}{cpu_per_host:>12.3f}{cpu_per_host / cpu_base:>9.2f}{run.server_cpu_s:>14.1f}"
            f"{load:>27}" + ("  FAILED" if run.failure else "")
        )
    print("\nms per host, by where the time went (own time; the columns add up to s/host)")
    categories = (*WORK, *OVERHEAD)
    print(f"{'hosts':>6}" + "".join(f"{c:>19}" for c in categories))
    for run in runs:
        print(f"{run.hosts:>6}" + "".join(f"{1000 * run.account.seconds[c] / run.hosts:>19.1f}" for c in categories))
    print(f"\n{'hosts':>6}{'tree peak MiB':>15}{'processes':>11}{'server peak MiB':>17}{'max child MiB':>15}")
    for run in runs:
        print(
            f"{run.hosts:>6}{run.tree_peak_mib:>15.0f}{run.tree_peak_processes:>11}"
            f"{run.server_peak_mib:>17.0f}{run.max_child_mib:>15.0f}"
        )
    for run in runs:
        if run.failure:
            print(f"  {run.hosts} hosts FAILED: {run.failure}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 1 if a rollout failed, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hosts", default="50,100,200", help="fleet sizes, comma-separated (default: 50,100,200)")
    parser.add_argument("--batch-size", type=int, default=50, help="hosts per batch after the canary (default: 50)")
    args = parser.parse_args(argv)
    sizes = fleet_sizes(parser, args.hosts)
    if args.batch_size < 1:
        parser.error("--batch-size: at least 1 host")
    settings = prepare(STATE_DIR, INVENTORY, prefect_port=free_port())
    runs: list[FleetRun] = []
    try:
        with prefect_server(settings):
            for count in sizes:
                print(f"{count} hosts (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)", flush=True)
                runs.append(bench_fleet(settings, count, args.batch_size))
                run = runs[-1]
                print(f"  rollout: {run.account.wall_s:.1f} s" + (f" FAILED: {run.failure}" if run.failure else ""))
    finally:
        lab_down(settings, name=LAB)
    if runs:
        print_tables(runs)
    return 1 if any(run.failure for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
