"""The ``itpm`` command: parse arguments, call a service, render the result.

This is the only place that turns errors into exit codes:

- 0: everything ran and every host is fine;
- 1: a host failed a task or a check (a failed rollout);
- 2: bad input (a missing file, a malformed inventory, a pattern matching no host) or hosts that could not be
  reached or whose host key was refused: nothing the tool can fix, something the user must.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from itpm import console as render
from itpm.errors import ItpmError
from itpm.execution.runner import plan_playbook, run_playbook
from itpm.inventory import load_inventory
from itpm.lab.fleet import lab_down, lab_status, lab_up
from itpm.models.results import PlaybookResult, VerificationResult
from itpm.settings import load_settings
from itpm.verification.runner import verify

__all__ = ["app", "main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Run IT projects as tracked rollouts.")
lab_app = typer.Typer(no_args_is_help=True, help="The lab fleet: isolated SSH hosts on this machine.")
app.add_typer(lab_app, name="lab")

out = Console()
err = Console(stderr=True)

InventoryOption = Annotated[Path, typer.Option("--inventory", "-i", help="Ansible inventory (file or directory)")]
LimitOption = Annotated[str, typer.Option("--limit", "-l", help="Ansible host pattern, e.g. 'web:!h3'")]
LabNameOption = Annotated[str, typer.Option("--name", help="lab name (1-8 lowercase letters and digits)")]
_DEFAULT_INVENTORY = Path("inventory/lab/hosts.yml")


@lab_app.command("up")
def lab_up_command(
    hosts: Annotated[int, typer.Option("--hosts", "-n", help="number of hosts h1..hN")] = 5,
    name: LabNameOption = "lab",
    inventory: Annotated[Path | None, typer.Option(help="where to write the inventory")] = None,
) -> int:
    """Bring up hosts h1..hN (keeping running ones) and write the inventory and known_hosts."""
    status = lab_up(load_settings(), name=name, count=hosts, inventory=inventory)
    out.print(render.lab_table(status))
    return EXIT_OK


@lab_app.command("down")
def lab_down_command(name: LabNameOption = "lab") -> int:
    """Stop every host of the lab and remove its namespaces, links, bridge and generated files."""
    removed = lab_down(load_settings(), name=name)
    out.print(f"lab '{name}': removed {len(removed)} host(s)" + (f": {', '.join(removed)}" if removed else ""))
    return EXIT_OK


@lab_app.command("status")
def lab_status_command(name: LabNameOption = "lab") -> int:
    """Show each lab host's address, group and whether it answers SSH."""
    status = lab_status(load_settings(), name=name)
    if not status.hosts:
        out.print(f"lab '{name}' is not up (itpm lab up --name {name})")
        return EXIT_OK
    out.print(render.lab_table(status))
    return EXIT_OK if len(status.up) == len(status.hosts) else EXIT_FAILED


@app.command("apply")
def apply_command(
    playbook: Annotated[Path, typer.Argument(help="playbook to apply")],
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    limit: LimitOption = "all",
    verify_with: Annotated[
        list[Path] | None, typer.Option("--verify", help="check modules or directories to run after applying")
    ] = None,
) -> int:
    """Apply a playbook to the hosts of an inventory, then (with --verify) prove the result with checks."""
    settings = load_settings()
    hosts = load_inventory(inventory)
    result = run_playbook(playbook, hosts, settings, limit=limit, on_event=render.LiveEvents(err))
    out.print(render.playbook_table(result))
    verification = None
    if verify_with:
        reached = ",".join(result.ok) or None
        if reached is not None:
            verification = verify(verify_with, hosts, settings, limit=reached)
            out.print(render.verification_table(verification))
    return _exit_code(result, verification)


@app.command("plan")
def plan_command(
    playbook: Annotated[Path, typer.Argument(help="playbook to plan")],
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    limit: LimitOption = "all",
) -> int:
    """Show what a playbook would change on each host (check mode with diffs); changes nothing."""
    result = plan_playbook(playbook, load_inventory(inventory), load_settings(), limit=limit)
    out.print(render.playbook_table(result))
    out.print(render.plan_text(result), highlight=False)
    return _exit_code(result, None)


@app.command("verify")
def verify_command(
    checks: Annotated[list[Path], typer.Argument(help="check modules or directories, e.g. checks/baseline")],
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    limit: LimitOption = "all",
) -> int:
    """Run testinfra checks on the hosts of an inventory; changes nothing."""
    result = verify(checks, load_inventory(inventory), load_settings(), limit=limit)
    out.print(render.verification_table(result))
    if result.succeeded:
        return EXIT_OK
    return EXIT_BAD_INPUT if all(c.unreachable for c in result.failed.values()) else EXIT_FAILED


def _exit_code(result: PlaybookResult, verification: VerificationResult | None) -> int:
    task_failures = len(result.failed) - len(result.unreachable)
    check_failures = 0 if verification is None else sum(1 for c in verification.failed.values() if not c.unreachable)
    if task_failures or check_failures or result.runner_status in ("timeout", "canceled"):
        return EXIT_FAILED
    if result.unreachable:
        err.print(
            f"[bold magenta]unreachable:[/] {', '.join(result.unreachable)}. "
            "fix: check the host is up (itpm lab status) and its address and key in the inventory"
        )
        return EXIT_BAD_INPUT
    return EXIT_OK


def main() -> None:
    """Entry point of the ``itpm`` script: run the app and exit with the code its outcome maps to."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:  # Ctrl-C at a prompt
        err.print("aborted")
        sys.exit(EXIT_FAILED)
    except typer.TyperException as error:  # usage errors: unknown option, missing argument (typer's own click)
        show = getattr(error, "show", None)
        if show is not None:
            show()
        else:
            err.print(f"[bold red]error:[/] {error}")
        sys.exit(EXIT_BAD_INPUT)
    except ItpmError as error:
        err.print(f"[bold red]error:[/] {error.message}", highlight=False)
        if error.fix:
            err.print(f"  [bold]fix:[/] {error.fix}", highlight=False)
        sys.exit(error.exit_code)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
