"""A whole compliance project through itpm vs the same work typed by hand, on freshly made lab hosts.

Run from the checkout, as root (the lab fleet needs namespaces), when the machine is otherwise quiet::

    .venv/bin/python bench/compliance.py                  # 50 hosts, both variants
    .venv/bin/python bench/compliance.py --hosts 5        # a quick estimate
    .venv/bin/python bench/compliance.py --hosts 10,50 --naive-up-to 10   # the hand-run at 50 estimated

The hand-run is slow (about 75 s per host measured at 5 hosts on a busy machine): ``--naive-up-to N`` makes it
only on fleets up to N hosts and prints, for larger ones, an estimate scaled from the largest one made (pytest's
time grows with the hosts, ansible-playbook's with the rounds of 5 forks), marked as such.

The project is projects/compliance-audit.yaml (standards/lab-baseline.yaml: 25 controls, 44 checks per host)
copied for the bench's inventory, without its approval gate (the hand-run has none either; a person's wait is
no machine's time). Each variant starts from freshly made hosts (the lab is brought down and up before it,
untimed) and does the same five things:

- ``itpm``: the project's Prefect flow (``flows.kinds.flow_for(kind)``, what ``itpm run`` calls) in this
  process against a Prefect server of the bench's own, started untimed before (a user's server is already
  up). The flow, not bare ``ProjectRun`` calls, because the flow is what a user runs: the ratio then includes
  Prefect's share, the project log, the stakeholder notices, the artifacts and the report. Its phases are
  timed by wrapping the ``ProjectRun`` methods the flow calls: audit (before), plan (check mode + diff),
  apply (the canary and the 50% batches, each applied then verified), re-audit (after); "rest" is what the
  flow does around them (start, Prefect task runs and artifacts, the closing report).
- ``naive``: what a user types by hand, one after the other, from the checkout::

      pytest checks/compliance --hosts=ansible://all --ansible-inventory=<inventory>        # audit
      ansible-playbook -i <inventory> playbooks/compliance.yml -e @controls.yml --check --diff  # plan
      ansible-playbook -i <inventory> playbooks/compliance.yml -e @controls.yml               # apply
      pytest checks/compliance --hosts=ansible://all --ansible-inventory=<inventory>        # re-audit

  ansible-playbook with Ansible's defaults as installed (an empty ANSIBLE_CONFIG: 5 forks, the linear
  strategy, no pipelining; only the roles path is given), as bench/apply.py's ``defaults``. pytest with
  testinfra's own ansible backend, sequential, as bench/verify.py's hand-run: checks/pytest.ini and the
  checkout's ansible.cfg apply as they do when typed there (the latter gives testinfra's ssh a ControlPath,
  the hand-run's best case). controls.yml holds what itpm passes the playbook: the standard's controls and
  the waived ones per host (written before, untimed).

Both variants are checked, not only timed: itpm's flow must complete with every host passing every check
but the waived control's; the hand-run's apply must exit 0 and its re-audit must fail nothing but the waived
control's checks. A variant that does not is printed as FAILED with the reason. It asserts nothing about time.

The bench uses its own lab (``benchc``) and state dir (``/tmp/itpm-benchc-state``) and brings its lab and
Prefect server down at the end, also when interrupted.
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from bench_lab import (
    fleet_sizes,
    free_port,
    hand_checks_command,
    prefect_server,
    prepare,
    save_project,
    shipped_project,
)
from call_timing import CallTimer
from timed_command import run_timed

from itpm.compliance import remediation_vars, waivers_by_host
from itpm.executables import executable, path_with_bin_dir
from itpm.execution.connection import control_path_dir
from itpm.inventory import load_inventory
from itpm.lab.fleet import lab_down, lab_up
from itpm.log.events import StepAudited, now
from itpm.log.store import ProjectLog
from itpm.project_file import load_project
from itpm.project_run import ProjectRun
from itpm.settings import Settings
from itpm.standard_file import load_standard

REPO = Path(__file__).resolve().parents[1]
SHIPPED_PROJECT = "projects/compliance-audit.yaml"
PLAYBOOK = REPO / "playbooks" / "compliance.yml"
CHECKS = REPO / "checks" / "compliance"
LAB = "benchc"  # its own lab: tests, demos and the other benchmarks use other names
STATE_DIR = Path("/tmp/itpm-benchc-state").resolve()  # noqa: S108 - a scratch dir of this benchmark, root only
INVENTORY = STATE_DIR / "inventory" / "hosts.yml"
CONTROLS = STATE_DIR / "controls.yml"
EMPTY_CONFIG = STATE_DIR / "empty-ansible.cfg"  # ANSIBLE_CONFIG of the hand-run: Ansible's own defaults
LOGS = STATE_DIR / "logs"
VARIANTS = ("itpm", "naive")
PHASES = ("audit", "plan", "apply", "re-audit", "rest")
_PYTEST_EXIT_TESTS_FAILED = 1
_DEFAULT_FORKS = 5  # Ansible's default


@dataclass
class VariantRun:
    """One variant on fresh hosts: wall seconds per phase, in all, and why it does not count (None: it does)."""

    phases: dict[str, float] = field(default_factory=dict)
    total_s: float = 0.0
    failure: str | None = None
    estimated_from: int = 0  # a hand-run not made but scaled from the one on this many hosts (0: measured)


def write_project() -> Path:
    """Write the shipped compliance project pointed at the bench's inventory, without its approval gate."""
    return save_project(shipped_project(SHIPPED_PROJECT, INVENTORY), STATE_DIR, "bench-compliance.yaml")


def write_controls(project_file: Path) -> set[str]:
    """Write controls.yml for the hand-run (what itpm passes the playbook); return the waived checks' names."""
    project = load_project(project_file)
    assert project.compliance is not None
    standard = load_standard(project.compliance.standard)
    active, _ = waivers_by_host(project.compliance.waivers, load_inventory(INVENTORY), now().date())
    CONTROLS.write_text(yaml.safe_dump(remediation_vars(standard, active)))
    waived_controls = {control for controls in active.values() for control in controls}
    return {name for control in waived_controls for name in standard.control(control).checks}


def fresh_lab(settings: Settings, count: int) -> None:
    """Remake the bench lab with ``count`` new hosts (untimed)."""
    lab_down(settings, name=LAB)
    lab_up(settings, name=LAB, count=count, inventory=INVENTORY)


# -- itpm --------------------------------------------------------------------------------------------------------


def run_itpm(project_file: Path, count: int, waived: set[str]) -> VariantRun:
    """Run the project through its flow; return the phases' wall times and whether every host ended compliant."""
    from flows.kinds import flow_for  # noqa: PLC0415 - Prefect reads its settings from the environment set in main

    project_flow = flow_for(load_project(project_file).kind)
    run_id = f"bench-compliance-{time.time_ns()}"
    timer = CallTimer()
    for method in ("audit", "plan", "run_batch"):
        timer.wrap(ProjectRun, method, "itpm")
    result = VariantRun()
    started = time.monotonic()
    with timer:
        try:
            outcome = project_flow(project_file=str(project_file), run_id=run_id, requester="bench")
        except Exception as error:  # a halted or broken run is a result to print, not a crash
            outcome = f"{type(error).__name__}: {error}"
    result.total_s = time.monotonic() - started
    audits = sorted(timer.named("ProjectRun.audit"), key=lambda c: c.started)
    result.phases = {
        "audit": sum(c.wall_s for c in audits[:1]),
        "plan": sum(c.wall_s for c in timer.named("ProjectRun.plan")),
        "apply": sum(c.wall_s for c in timer.named("ProjectRun.run_batch")),
        "re-audit": sum(c.wall_s for c in audits[1:]),
    }
    result.phases["rest"] = result.total_s - sum(result.phases.values())
    if outcome != "completed":
        result.failure = f"flow ended {outcome}"[:600]
    else:
        result.failure = _itpm_findings(run_id, count, waived)
    return result


def _itpm_findings(run_id: str, count: int, waived: set[str]) -> str | None:
    """Return what the run's re-audit found besides the waived checks (None: every host compliant)."""
    log = ProjectLog.for_settings(Settings(state_dir=STATE_DIR))
    after = [e for e in log.events(run_id, kinds=["step_audited"]) if isinstance(e, StepAudited) and e.stage == "after"]
    if not after:
        return "no re-audit in the project log"
    audited = after[-1]
    problems = {host: [f for f in findings if f.check not in waived] for host, findings in audited.failed.items()}
    problems = {host: findings for host, findings in problems.items() if findings}
    hosts = len(audited.passed) + len(audited.failed)
    if hosts != count:
        return f"the re-audit covered {hosts} of {count} hosts"
    if problems:
        host, findings = next(iter(sorted(problems.items())))
        return f"{len(problems)} hosts not compliant after the run, e.g. {host}: {findings[0].summary[:200]}"
    return None


# -- naive -------------------------------------------------------------------------------------------------------


def _hand_env(ansible_defaults: bool) -> dict[str, str]:
    """Return the environment of a command typed by hand (no ANSIBLE_* of the caller's shell)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PREFECT_"))}
    env.update({"PATH": path_with_bin_dir(), "PYTHONDONTWRITEBYTECODE": "1"})
    if ansible_defaults:
        env.update(
            {
                "ANSIBLE_CONFIG": str(EMPTY_CONFIG),
                "ANSIBLE_ROLES_PATH": str(REPO / "playbooks" / "roles"),
                # Not for speed: in the bench's state dir, so that lab_down closes the SSH masters (a master left
                # to a re-made host would skip the check of its new host key); Ansible's default is ~/.ansible/cp.
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_path_dir(Settings(state_dir=STATE_DIR))),
            }
        )
    return env


def _audit_by_hand(name: str, count: int, expected: int, waived: set[str], after: bool) -> tuple[float, str | None]:
    """Run the checks as typed by hand; return wall seconds and why the run does not count (None: it does)."""
    junit, log = LOGS / f"{count}-{name}.xml", LOGS / f"{count}-{name}.log"
    junit.unlink(missing_ok=True)
    command = hand_checks_command(CHECKS, INVENTORY, junit)
    # By hand, every command a check runs is an ssh command: about 0.3 s each; the timeout only ends a hung run.
    run = run_timed(command, cwd=REPO, env=_hand_env(False), log=log, timeout_s=300.0 + 120.0 * count)
    if run.rc not in (0, _PYTEST_EXIT_TESTS_FAILED) or not junit.exists():
        return run.wall_s, run.failure("pytest")
    cases = list(ET.parse(junit).getroot().iter("testcase"))  # noqa: S314 - our own pytest's output
    if len(cases) != expected * count:
        return run.wall_s, f"{name}: {len(cases)} checks ran, {expected * count} expected"
    if after:
        bad = [
            c.get("name", "")
            for c in cases
            if any(child.tag in ("failure", "error") for child in c) and c.get("name", "").split("[")[0] not in waived
        ]
        if bad:
            return run.wall_s, f"{name}: {len(bad)} checks failed after the remediation, e.g. {bad[0]}"
    return run.wall_s, None


def _playbook_by_hand(name: str, count: int, extra: Sequence[str]) -> tuple[float, str | None]:
    """Run ansible-playbook with Ansible's defaults; return wall seconds and why it does not count."""
    command = [executable("ansible-playbook"), "-i", str(INVENTORY), str(PLAYBOOK), "-e", f"@{CONTROLS}", *extra]
    log = LOGS / f"{count}-{name}.log"
    run = run_timed(command, cwd=REPO, env=_hand_env(True), log=log, timeout_s=600.0 + 60.0 * count)
    return run.wall_s, None if run.rc == 0 else run.failure(f"ansible-playbook ({name})")


def run_naive(count: int, expected: int, waived: set[str]) -> VariantRun:
    """Type the four commands by hand, one after the other; return each one's wall time."""
    result = VariantRun()
    failures: list[str] = []
    steps: tuple[tuple[str, Callable[[], tuple[float, str | None]]], ...] = (
        ("audit", lambda: _audit_by_hand("audit", count, expected, waived, after=False)),
        ("plan", lambda: _playbook_by_hand("plan", count, ["--check", "--diff"])),
        ("apply", lambda: _playbook_by_hand("apply", count, [])),
        ("re-audit", lambda: _audit_by_hand("re-audit", count, expected, waived, after=True)),
    )
    for phase, command in steps:
        wall, failure = command()
        result.phases[phase] = wall
        print(f"    naive {phase}: {wall:.1f} s" + (f" FAILED: {failure}" if failure else ""), flush=True)
        if failure:
            failures.append(failure)
    result.phases["rest"] = 0.0
    result.total_s = sum(result.phases.values())
    result.failure = "; ".join(failures) or None
    return result


def estimate_naive(measured: VariantRun, measured_hosts: int, count: int) -> VariantRun:
    """Return the hand-run on ``count`` hosts scaled from the one measured on ``measured_hosts``.

    The hand-run's pytest goes host after host: its time grows with the hosts. ansible-playbook's linear
    strategy with 5 forks runs every task on 5 hosts at a time: its time grows with the rounds of 5 hosts.
    """
    rounds = math.ceil(count / _DEFAULT_FORKS) / math.ceil(measured_hosts / _DEFAULT_FORKS)
    scale = {"audit": count / measured_hosts, "re-audit": count / measured_hosts, "plan": rounds, "apply": rounds}
    phases = {phase: seconds * scale.get(phase, 1.0) for phase, seconds in measured.phases.items()}
    return VariantRun(phases, sum(phases.values()), measured.failure, estimated_from=measured_hosts)


# -- the table ---------------------------------------------------------------------------------------------------


def checks_per_host() -> int:
    """Return how many check functions checks/compliance defines (each runs once per host)."""
    count = 0
    for module in sorted(CHECKS.rglob("test_*.py")):
        tree = ast.parse(module.read_text(), str(module))
        count += sum(isinstance(n, ast.FunctionDef) and n.name.startswith("test") for n in tree.body)
    return count


def print_table(count: int, results: dict[str, VariantRun]) -> None:
    """Print the phases' wall times per variant, per host, and the ratio itpm / naive."""
    print(f"\n{count} hosts: wall seconds per phase (fresh hosts for each variant)")
    titles = [f"{v} (est.)" if r.estimated_from else v for v, r in results.items()]
    print(f"{'phase':<10}" + "".join(f"{t:>14}" for t in titles) + f"{'itpm/naive':>12}")
    for phase in (*PHASES, "total"):
        cells = [r.total_s if phase == "total" else r.phases.get(phase, 0.0) for r in results.values()]
        line = f"{phase:<10}" + "".join(f"{c:>14.1f}" for c in cells)
        itpm, naive = results.get("itpm"), results.get("naive")
        if itpm and naive:
            a = itpm.total_s if phase == "total" else itpm.phases.get(phase, 0.0)
            b = naive.total_s if phase == "total" else naive.phases.get(phase, 0.0)
            line += f"{a / b:>12.2f}" if b > 0 else f"{'-':>12}"
        print(line)
    print(f"{'per host':<10}" + "".join(f"{r.total_s / count:>14.2f}" for r in results.values()))
    for variant, result in results.items():
        if result.estimated_from:
            print(f"  {variant} NOT RUN on {count} hosts: estimated from its run on {result.estimated_from} hosts")
        if result.failure:
            print(f"  {variant} FAILED: {result.failure}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 1 if a variant failed, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hosts", default="50", help="fleet sizes, comma-separated (default: 50)")
    parser.add_argument("--only", default=",".join(VARIANTS), help="variants to run (default: itpm,naive)")
    parser.add_argument(
        "--naive-up-to",
        type=int,
        default=250,
        help="run the hand-run only on fleets up to this size; larger ones get an estimate from the largest run",
    )
    args = parser.parse_args(argv)
    sizes = sorted(fleet_sizes(parser, args.hosts))
    variants = [v for v in VARIANTS if v in {o.strip() for o in args.only.split(",")}]
    if not variants:
        parser.error(f"--only: choose from {','.join(VARIANTS)}")
    settings = prepare(STATE_DIR, INVENTORY, prefect_port=free_port())
    EMPTY_CONFIG.write_text("")
    LOGS.mkdir(parents=True, exist_ok=True)
    expected = checks_per_host()
    failed = False
    naive_run: tuple[int, VariantRun] | None = None  # the largest hand-run made, for the estimates
    try:
        with prefect_server(settings):
            for count in sizes:
                print(f"{count} hosts (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)", flush=True)
                results: dict[str, VariantRun] = {}
                for variant in variants:
                    if variant == "naive" and count > args.naive_up_to:
                        if naive_run is not None:
                            results[variant] = estimate_naive(naive_run[1], naive_run[0], count)
                        continue
                    fresh_lab(settings, count)
                    project_file = write_project()
                    waived = write_controls(project_file)
                    load = os.getloadavg()[0]
                    if variant == "itpm":
                        results[variant] = run_itpm(project_file, count, waived)
                    else:
                        results[variant] = run_naive(count, expected, waived)
                        naive_run = (count, results[variant])
                    print(f"  {variant}: {results[variant].total_s:.1f} s (load before {load:.2f})", flush=True)
                print_table(count, results)
                failed = failed or any(r.failure for r in results.values())
    finally:
        lab_down(settings, name=LAB)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
