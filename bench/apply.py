"""How much faster ``itpm apply`` is than plain ``ansible-playbook``, measured side by side on lab fleets.

Run from the checkout, as root (the lab fleet needs namespaces), when the machine is otherwise quiet::

    .venv/bin/python bench/apply.py                  # fleets of 10 and 50 hosts, all three variants
    .venv/bin/python bench/apply.py --hosts 3 --only itpm,tuned

For each fleet size it applies ``playbooks/baseline.yml`` three ways:

- ``itpm``: ``itpm.execution.runner.run_playbook`` in this process (ansible-runner, mitogen when usable);
- ``defaults``: ``ansible-playbook`` with Ansible's defaults (an empty ANSIBLE_CONFIG: 5 forks, no pipelining,
  the linear strategy), only the roles path given;
- ``tuned``: ``ansible-playbook`` with the environment itpm itself would use (forks=N, pipelining,
  ControlPersist, mitogen strategy plugins when usable): the best one can do without itpm.

Every variant starts from freshly made hosts (the bench lab is brought down and up before it, untimed), runs
once on them ("first") and once more on the hosts it converged ("converged"). It prints wall time and the
controller's CPU time of each run, and the ratios itpm/defaults and itpm/tuned (below 1: itpm is faster).

CPU time is what this process reaped: ``RUSAGE_CHILDREN`` deltas for the commands, ``RUSAGE_SELF`` plus
``RUSAGE_CHILDREN`` for the in-process itpm run (its event handling runs here). SSH ControlPersist masters
detach from their parent, so their CPU (encryption, small) is counted for no variant. The inventory is loaded
(one ``ansible-inventory``, ~0.3 s) before the itpm run starts, as it is before ``itpm apply`` runs Ansible.

The bench uses its own lab (``bench``) and state dir (``/tmp/itpm-bench-state``) so it can run beside the
labs of tests and demos; it brings its lab down at the end, also when interrupted. It asserts nothing:
a run that does not succeed is printed as FAILED, with the reason below the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_lab import fleet_sizes, prepare
from timed_command import own_and_children_cpu_s, run_timed

from itpm.errors import PlaybookError
from itpm.executables import executable
from itpm.execution.connection import control_path_dir, tuning_for
from itpm.execution.runner import run_playbook
from itpm.inventory import Inventory, load_inventory
from itpm.lab.fleet import lab_down, lab_up
from itpm.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = REPO / "playbooks" / "baseline.yml"
ROLES = REPO / "playbooks" / "roles"
LAB = "bench"  # never "lab" or "ltest": other work runs on those at the same time
STATE_DIR = Path("/tmp/itpm-bench-state").resolve()  # noqa: S108 - a scratch dir of this benchmark, root only
INVENTORY = STATE_DIR / "inventory" / "hosts.yml"
EMPTY_CONFIG = STATE_DIR / "empty-ansible.cfg"  # ANSIBLE_CONFIG for the raw variants: Ansible's own defaults
VARIANTS = ("itpm", "defaults", "tuned")


@dataclass(frozen=True)
class Measurement:
    """One playbook run: its wall and controller CPU seconds, and why it failed if it did."""

    wall_s: float
    cpu_s: float
    failure: str | None = None  # None when the run succeeded on every host


@dataclass(frozen=True)
class VariantResult:
    """A variant on one fleet: the run on fresh hosts and the run on the hosts it converged."""

    first: Measurement
    converged: Measurement


def measure_itpm(inventory: Inventory, settings: Settings) -> Measurement:
    """Apply the baseline with ``run_playbook``, as ``itpm apply`` does."""
    # ansible-runner handles events in this process and runs ansible-playbook as its child: count both.
    cpu_before = own_and_children_cpu_s()
    started = time.monotonic()
    try:
        result = run_playbook(PLAYBOOK, inventory, settings)
    except PlaybookError as error:  # Ansible could not run at all: a failed run, not a reason to stop
        wall = time.monotonic() - started
        cpu = own_and_children_cpu_s() - cpu_before
        return Measurement(wall, cpu, str(error))
    wall = time.monotonic() - started
    cpu = own_and_children_cpu_s() - cpu_before
    failure = None
    if not result.succeeded:
        hosts = "; ".join(
            f"{host}: {r.status.value}" + (f" at {r.failure.task!r}: {r.failure.message[:200]}" if r.failure else "")
            for host, r in result.failed.items()
        )
        tail = " | ".join(line for line in result.stdout_tail[-5:] if line.strip())
        failure = f"runner {result.runner_status}, rc {result.rc}; {hosts or tail}"
    return Measurement(wall, cpu, failure)


def measure_command(env: dict[str, str], log: Path, timeout_s: float) -> Measurement:
    """Run ``ansible-playbook`` on the bench inventory with ``env`` added; its output goes to ``log``."""
    command = [executable("ansible-playbook"), "-i", str(INVENTORY), str(PLAYBOOK)]
    # Ansible settings of the caller's shell would tune the "raw" variants behind the benchmark's back.
    base = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    run = run_timed(command, cwd=REPO, env={**base, **env}, log=log, timeout_s=timeout_s)
    return Measurement(run.wall_s, run.cpu_s, None if run.rc == 0 else run.failure("ansible-playbook"))


def raw_env(settings: Settings, count: int, variant: str) -> dict[str, str]:
    """Return the environment ``ansible-playbook`` runs with in the ``defaults`` or ``tuned`` variant.

    Both ignore the checkout's tuned ansible.cfg. ``defaults`` keeps Ansible's defaults except where its SSH
    ControlPersist sockets go: the bench's control dir instead of ``~/.ansible/cp``, not for speed but so that
    ``lab_down`` closes those masters too (a master left to a re-made host would skip the check of its new
    host key, and ending masters in ``~/.ansible/cp`` could end other work's).
    """
    env = {
        "ANSIBLE_CONFIG": str(EMPTY_CONFIG),
        "ANSIBLE_ROLES_PATH": str(ROLES),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_path_dir(settings)),
    }
    if variant == "tuned":
        env.update(tuning_for(settings, count).environment())
    return env


def fresh_lab(settings: Settings, count: int) -> Inventory:
    """Remake the bench lab with ``count`` new hosts; return its inventory (untimed)."""
    lab_down(settings, name=LAB)
    lab_up(settings, name=LAB, count=count, inventory=INVENTORY)
    return load_inventory(INVENTORY)


def measure(settings: Settings, inventory: Inventory, variant: str, phase: str) -> Measurement:
    """Run one variant once on the bench lab as it is now."""
    if variant == "itpm":
        return measure_itpm(inventory, settings)
    count = len(inventory.hosts)
    log = STATE_DIR / "logs" / f"{count}-{variant}-{phase}.log"
    return measure_command(raw_env(settings, count, variant), log, settings.ansible_timeout)


def bench_fleet(settings: Settings, count: int, variants: Sequence[str]) -> dict[str, VariantResult]:
    """Measure each variant on fresh hosts, then converged; return the measurements by variant."""
    results: dict[str, VariantResult] = {}
    for variant in variants:
        inventory = fresh_lab(settings, count)
        first = measure(settings, inventory, variant, "first")
        converged = measure(settings, inventory, variant, "converged")
        results[variant] = VariantResult(first, converged)
        print(f"  {variant}: first {_cell(first)} s, converged {_cell(converged)} s", flush=True)
    return results


def _cell(m: Measurement, value: Callable[[Measurement], float] = lambda m: m.wall_s) -> str:
    return "FAILED" if m.failure else f"{value(m):.1f}"


def _ratio(a: Measurement, b: Measurement, value: Callable[[Measurement], float]) -> str:
    if a.failure or b.failure:
        return "FAILED"
    return f"{value(a) / value(b):.2f}" if value(b) > 0 else "-"


def print_table(count: int, strategy: str, results: dict[str, VariantResult]) -> None:
    """Print one fleet's table: a row per variant, then the itpm ratios, then why runs failed."""
    columns: list[tuple[str, Callable[[VariantResult], Measurement], Callable[[Measurement], float]]] = [
        ("first wall s", lambda r: r.first, lambda m: m.wall_s),
        ("converged wall s", lambda r: r.converged, lambda m: m.wall_s),
        ("first CPU s", lambda r: r.first, lambda m: m.cpu_s),
        ("converged CPU s", lambda r: r.converged, lambda m: m.cpu_s),
    ]
    width = 14
    print(f"\n{count} hosts (itpm and tuned use the {strategy} strategy)")
    print(f"{'variant':<{width}}" + "".join(f"{title:>18}" for title, _, _ in columns))
    for variant, result in results.items():
        print(f"{variant:<{width}}" + "".join(f"{_cell(pick(result), value):>18}" for _, pick, value in columns))
    itpm = results.get("itpm")
    for other in ("defaults", "tuned"):
        if itpm is None or other not in results:
            continue
        cells = (_ratio(pick(itpm), pick(results[other]), value) for _, pick, value in columns)
        print(f"{'itpm/' + other:<{width}}" + "".join(f"{c:>18}" for c in cells))
    for variant, result in results.items():
        for phase, m in (("first", result.first), ("converged", result.converged)):
            if m.failure:
                print(f"  {variant} {phase} FAILED: {m.failure}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``--hosts 10,50`` and ``--only itpm,defaults,tuned`` into lists."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hosts", default="10,50", help="fleet sizes, comma-separated (default: 10,50)")
    parser.add_argument("--only", default=",".join(VARIANTS), help="variants to run (default: all three)")
    args = parser.parse_args(argv)
    args.hosts = fleet_sizes(parser, args.hosts)
    args.only = [v.strip() for v in args.only.split(",") if v.strip()]
    unknown = sorted(set(args.only) - set(VARIANTS))
    if unknown or not args.only:
        parser.error(f"--only {','.join(unknown)}: choose from {','.join(VARIANTS)}")
    # Always in the same order, so the ratios compare runs made under the same conditions each time.
    args.only = [v for v in VARIANTS if v in args.only]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 1 if any run failed, else 0."""
    args = parse_args(argv)
    # Its own state dir and lab: its record, keys, SSH sockets and run artifacts stay apart from others'.
    settings = prepare(STATE_DIR, INVENTORY)
    EMPTY_CONFIG.write_text("")
    tables: list[tuple[int, str, dict[str, VariantResult]]] = []
    try:
        for count in args.hosts:
            load = os.getloadavg()[0]
            print(f"{count} hosts: {', '.join(args.only)} (load average {load:.2f} on {os.cpu_count()} CPUs)")
            results = bench_fleet(settings, count, args.only)
            tables.append((count, tuning_for(settings, count).strategy, results))
            print_table(*tables[-1])
    finally:
        lab_down(settings, name=LAB)
    failed = any(m.failure for _, _, r in tables for v in r.values() for m in (v.first, v.converged))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
