"""How fast ``itpm verify`` is with each number of pytest-xdist workers, and against a hand-run pytest.

Run from the checkout, as root (the lab fleet needs namespaces), when the machine is otherwise quiet::

    .venv/bin/python bench/verify.py                 # fleets of 10 and 50 hosts
    .venv/bin/python bench/verify.py --hosts 3

For each fleet size it brings up fresh hosts, converges them once with ``playbooks/baseline.yml`` and runs
``checks/baseline`` once untimed (a warm-up, so that the first measured variant does not pay for a cold disk
cache), then verifies every host with each variant in turn, on the same converged hosts:

- ``itpm -n N``: ``itpm.verification.runner.verify`` in this process with N = 0 (no xdist), 2, 4 and 8
  workers, and with ``worker_count(hosts)`` when that is another number; the row marked ``(default)`` is what
  ``itpm verify`` picks, and the others are compared with it. This is what ``_MAX_WORKERS`` is chosen from.
- ``pytest ansible://all``: what one would type by hand, testinfra's own ``ansible`` backend, sequential::

      pytest checks/baseline --hosts=ansible://all --ansible-inventory=<inventory>

  and the same with ``-n 2``. checks/pytest.ini loads itpm's plugin, as it does by hand, for the ``host_vars``
  fixture; the connection is testinfra's own. testinfra's ``ssh`` and ``paramiko`` backends cannot serve
  ``host.ansible.get_variables()``, so the ``ansible`` backend is the hand-run equivalent: it runs
  ``ansible-inventory --list`` once per pytest process, then turns each host's ``ansible_*`` variables (user,
  key file, ``ansible_ssh_common_args`` with the lab's known_hosts and ``StrictHostKeyChecking=yes``) into an
  OpenSSH command per command a check runs, reusing connections through the ``control_path`` the checkout's
  ansible.cfg names (without it, every command opened a new SSH connection: ~12 s per host).

It prints per fleet: wall time and controller CPU time of each variant (pytest and everything it started:
xdist workers, ``ansible-inventory``, ``ssh``; not the lab hosts' sshd, which share the same CPUs), the checks
run and passed, and the ratio of wall times to the itpm default (below 1: faster than the default). A variant
counts only if every host ran every check function of checks/baseline (counted from the modules: 11 today)
and all of them passed; otherwise its times print as FAILED and the reason follows the table.

The bench uses its own lab (``benchv``) and state dir (``/tmp/itpm-benchv-state``) so it can run beside the
labs of tests, demos and bench/apply.py; it brings its lab down at the end, also when interrupted. It asserts
nothing about time.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_lab import fleet_sizes, hand_checks_command, prepare
from timed_command import own_and_children_cpu_s, run_timed

from itpm.errors import ItpmError
from itpm.executables import path_with_bin_dir
from itpm.execution.runner import run_playbook
from itpm.inventory import Inventory, load_inventory
from itpm.lab.fleet import lab_down, lab_up
from itpm.models.results import CheckOutcome, VerificationResult
from itpm.settings import Settings
from itpm.verification.runner import verify, worker_count

REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = REPO / "playbooks" / "baseline.yml"
CHECKS = REPO / "checks" / "baseline"
LAB = "benchv"  # never "lab", "ltest", "lidem", "lfifty" or "bench": other work runs on those at the same time
STATE_DIR = Path("/tmp/itpm-benchv-state").resolve()  # noqa: S108 - a scratch dir of this benchmark, root only
INVENTORY = STATE_DIR / "inventory" / "hosts.yml"
LOGS = STATE_DIR / "logs"
ITPM_WORKERS = (0, 2, 4, 8)
HAND_WORKERS = (0, 2)
_PYTEST_EXIT_TESTS_FAILED = 1
# A junit test case name ends with testinfra's host id: "test_sshd_running[ansible://h3]".
_HOST_ID = re.compile(r"\[(?:[a-z-]+://)?(?P<host>[^\]]+)\]$")


@dataclass(frozen=True)
class Variant:
    """One way of running the checks: itpm's ``verify`` or pytest by hand, with ``workers`` xdist workers."""

    kind: str  # "itpm" or "pytest"
    workers: int
    default: bool = False  # the worker count itpm picks for this fleet by itself

    @property
    def name(self) -> str:
        """Return the row title: ``'itpm -n 4 (default)'``, ``'pytest ansible://all'``."""
        base = f"itpm -n {self.workers}" if self.kind == "itpm" else "pytest ansible://all"
        if self.kind == "pytest" and self.workers:
            base += f" -n {self.workers}"
        return base + (" (default)" if self.default else "")


@dataclass(frozen=True)
class Tally:
    """What one host's checks came to: distinct checks run, how many passed, what went wrong."""

    run: int
    passed: int
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Measurement:
    """One verification run: wall and controller CPU seconds, checks run and passed, why it failed if it did."""

    wall_s: float
    cpu_s: float
    run: int
    passed: int
    failure: str | None = None  # None when every host ran every check and all passed


def checks_per_host(directory: Path) -> int:
    """Return how many check functions the modules under ``directory`` define: pytest runs each once per host."""
    count = 0
    for module in sorted(directory.rglob("test_*.py")):
        tree = ast.parse(module.read_text(), str(module))
        count += sum(isinstance(node, ast.FunctionDef) and node.name.startswith("test") for node in tree.body)
    return count


def judge(tallies: Mapping[str, Tally], hosts: Sequence[str], expected: int) -> tuple[int, int, str | None]:
    """Return checks run, checks passed, and why the run does not count (None when it does)."""
    run = sum(t.run for t in tallies.values())
    passed = sum(t.passed for t in tallies.values())
    short = [h for h in hosts if tallies.get(h, Tally(0, 0)).passed != expected]
    extra = sorted(set(tallies) - set(hosts))
    if not short and not extra:
        return run, passed, None
    reasons = []
    for host in short[:3]:
        tally = tallies.get(host, Tally(0, 0))
        problem = f": {tally.problems[0]}" if tally.problems else ""
        reasons.append(f"{host} ran {tally.run}, passed {tally.passed} of {expected}{problem}")
    if len(short) > 3:
        reasons.append(f"and {len(short) - 3} more hosts")
    if extra:
        reasons.append(f"results for hosts outside the inventory: {', '.join(extra[:5])}")
    return run, passed, "; ".join(reasons)


def tally_itpm(result: VerificationResult) -> dict[str, Tally]:
    """Return each host's tally from ``verify``'s result."""
    tallies = {}
    for host, checks in result.hosts.items():
        passed = {c.check for c in checks.checks if c.outcome is CheckOutcome.PASSED}
        problems = tuple(f"{c.check} {c.outcome.value}: {c.message[:200]}" for c in checks.failures)
        tallies[host] = Tally(len({c.check for c in checks.checks}), len(passed), problems)
    return tallies


def tally_junit(path: Path) -> dict[str, Tally]:
    """Return each host's tally from the junit XML of a hand-run pytest (test ids end with the host)."""
    run: dict[str, set[str]] = {}
    passed: dict[str, set[str]] = {}
    problems: dict[str, list[str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):  # noqa: S314 - our own pytest's output
        name = case.get("name", "")
        match = _HOST_ID.search(name)
        host = match["host"] if match else "?"
        check = f"{case.get('classname', '')}::{name.split('[')[0]}"
        run.setdefault(host, set()).add(check)
        bad = [child for child in case if child.tag in ("failure", "error", "skipped")]
        if bad:
            message = (bad[0].get("message") or bad[0].text or "").strip().splitlines()
            problems.setdefault(host, []).append(f"{check} {bad[0].tag}: {(message or [''])[0][:200]}")
        else:
            passed.setdefault(host, set()).add(check)
    return {host: Tally(len(run[host]), len(passed.get(host, ())), tuple(problems.get(host, ()))) for host in run}


def measure_itpm(variant: Variant, inventory: Inventory, settings: Settings, expected: int) -> Measurement:
    """Verify every host with ``verify``, as ``itpm verify`` does, with the variant's worker count."""
    hosts = inventory.select("all")
    cpu_before = own_and_children_cpu_s()
    started = time.monotonic()
    try:
        result = verify([CHECKS], inventory, settings, workers=None if variant.default else variant.workers)
    except ItpmError as error:  # pytest could not run the checks at all: a failed run, not a reason to stop
        return Measurement(time.monotonic() - started, own_and_children_cpu_s() - cpu_before, 0, 0, str(error))
    wall = time.monotonic() - started
    cpu = own_and_children_cpu_s() - cpu_before
    return Measurement(wall, cpu, *judge(tally_itpm(result), hosts, expected))


def hand_command(workers: int, junit: Path) -> list[str]:
    """Return the hand-run pytest command line over the baseline checks, with ``workers`` xdist workers (0: none)."""
    return hand_checks_command(CHECKS, INVENTORY, junit) + (["-n", str(workers)] if workers else [])


def measure_hand(variant: Variant, hosts: Sequence[str], expected: int, timeout_s: float) -> Measurement:
    """Run the checks as one would by hand from the checkout; its output goes to a log beside the junit XML."""
    stem = LOGS / f"{len(hosts)}-pytest-n{variant.workers}"
    junit, log = stem.with_suffix(".xml"), stem.with_suffix(".log")
    junit.unlink(missing_ok=True)
    # Ansible settings of the caller's shell would change how testinfra connects behind the benchmark's back;
    # PATH gets the venv's bin first, as in an activated venv, for the ansible-inventory testinfra runs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"PATH": path_with_bin_dir(), "PYTHONDONTWRITEBYTECODE": "1"})
    run = run_timed(hand_command(variant.workers, junit), cwd=REPO, env=env, log=log, timeout_s=timeout_s)
    wall, cpu = run.wall_s, run.cpu_s
    if run.rc not in (0, _PYTEST_EXIT_TESTS_FAILED) or not junit.exists():
        return Measurement(wall, cpu, 0, 0, run.failure("pytest"))
    return Measurement(wall, cpu, *judge(tally_junit(junit), hosts, expected))


def variants_for(count: int) -> list[Variant]:
    """Return the variants of a fleet of ``count`` hosts, itpm's default worker count marked."""
    default = worker_count(count)
    itpm = [Variant("itpm", w, default=w == default) for w in sorted({*ITPM_WORKERS, default})]
    return [*itpm, *(Variant("pytest", w) for w in HAND_WORKERS)]


def converge(settings: Settings, count: int) -> tuple[Inventory, str | None]:
    """Remake the lab with ``count`` hosts and apply the baseline once (untimed); return why if it failed."""
    lab_down(settings, name=LAB)
    lab_up(settings, name=LAB, count=count, inventory=INVENTORY)
    inventory = load_inventory(INVENTORY)
    try:
        result = run_playbook(PLAYBOOK, inventory, settings)
    except ItpmError as error:
        return inventory, f"converge: {error}"
    if result.succeeded:
        return inventory, None
    hosts = "; ".join(
        f"{host}: {r.status.value}" + (f" at {r.failure.task!r}: {r.failure.message[:200]}" if r.failure else "")
        for host, r in list(result.failed.items())[:3]
    )
    return inventory, f"converge: runner {result.runner_status}, rc {result.rc}; {hosts}"


def bench_fleet(settings: Settings, count: int, expected: int) -> dict[Variant, Measurement]:
    """Converge a fleet of ``count`` hosts, then measure each variant on it; return the measurements."""
    inventory, failure = converge(settings, count)
    variants = variants_for(count)
    if failure:
        return {v: Measurement(0.0, 0.0, 0, 0, failure) for v in variants}
    started = time.monotonic()
    try:
        verify([CHECKS], inventory, settings)
        print(f"  warm-up (untimed): {time.monotonic() - started:.1f} s", flush=True)
    except ItpmError as error:  # each variant then says for itself what went wrong
        print(f"  warm-up failed: {error}", flush=True)
    hosts = inventory.select("all")
    # By hand, sequential, every command opens a new SSH connection: ~12 s per host measured on 3 hosts.
    # The timeout only keeps a hung run from hanging the bench, so it leaves several times that.
    timeout_s = 120.0 + 60.0 * count
    results = {}
    for variant in variants:
        if variant.kind == "itpm":
            measurement = measure_itpm(variant, inventory, settings, expected)
        else:
            measurement = measure_hand(variant, hosts, expected, timeout_s)
        results[variant] = measurement
        print(f"  {variant.name}: {_cell(measurement, lambda m: m.wall_s)} s", flush=True)
    return results


def _cell(m: Measurement, value: Callable[[Measurement], float]) -> str:
    return "FAILED" if m.failure else f"{value(m):.1f}"


def print_table(count: int, expected: int, results: dict[Variant, Measurement]) -> None:
    """Print one fleet's table: a row per variant with its ratio to the itpm default, then why runs failed."""
    default = next((m for v, m in results.items() if v.default), None)
    width = 30
    print(f"\n{count} hosts, {expected} checks per host ({expected * count} in all)")
    titles = ("wall s", "CPU s", "checks run", "checks passed", "wall / default")
    print(f"{'variant':<{width}}" + "".join(f"{t:>15}" for t in titles))
    for variant, m in results.items():
        if m.failure or default is None or default.failure:
            ratio = "FAILED"
        else:
            ratio = f"{m.wall_s / default.wall_s:.2f}" if default.wall_s > 0 else "-"
        cells = (_cell(m, lambda m: m.wall_s), _cell(m, lambda m: m.cpu_s), str(m.run), str(m.passed), ratio)
        print(f"{variant.name:<{width}}" + "".join(f"{c:>15}" for c in cells))
    for variant, m in results.items():
        if m.failure:
            print(f"  {variant.name} FAILED: {m.failure}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``--hosts 10,50`` into a list of fleet sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hosts", default="10,50", help="fleet sizes, comma-separated (default: 10,50)")
    args = parser.parse_args(argv)
    args.hosts = fleet_sizes(parser, args.hosts)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 1 if any variant failed, else 0."""
    args = parse_args(argv)
    # Its own state dir and lab: its record, keys, SSH sockets and run artifacts stay apart from others'.
    settings = prepare(STATE_DIR, INVENTORY)
    expected = checks_per_host(CHECKS)
    failed = False
    try:
        for count in args.hosts:
            load = os.getloadavg()[0]
            print(f"{count} hosts (load average {load:.2f} on {os.cpu_count()} CPUs)", flush=True)
            results = bench_fleet(settings, count, expected)
            print_table(count, expected, results)
            failed = failed or any(m.failure for m in results.values())
    finally:
        lab_down(settings, name=LAB)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
