"""``itpm apply``, ``plan`` and ``verify``: a playbook or checks on the hosts of an inventory, outside any project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from itpm import console as render
from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_BAD_INPUT, playbook_exit_code, verification_exit_code
from itpm.cli.typer_app import DEFAULT_INVENTORY, InventoryOption, LimitOption, app
from itpm.execution.runner import plan_playbook, run_playbook
from itpm.inventory import load_inventory
from itpm.models.results import PlaybookResult, VerificationResult
from itpm.settings import load_settings
from itpm.verification.runner import verify

__all__ = ["apply_command", "plan_command", "verify_command"]


@app.command("apply")
def apply_command(
    playbook: Annotated[Path, typer.Argument(help="playbook to apply")],
    inventory: InventoryOption = DEFAULT_INVENTORY,
    limit: LimitOption = "all",
    verify_with: Annotated[
        list[Path] | None, typer.Option("--verify", help="check modules or directories to run after applying")
    ] = None,
) -> int:
    """Apply a playbook to the hosts of an inventory, then (with --verify) prove the result with checks."""
    settings = load_settings()
    hosts = load_inventory(inventory)
    result = run_playbook(playbook, hosts, settings, limit=limit, on_event=render.LiveEvents(consoles.err))
    consoles.out.print(render.playbook_table(result))
    verification = None
    if verify_with:
        reached = ",".join(result.ok) or None
        if reached is not None:
            verification = verify(verify_with, hosts, settings, limit=reached)
            consoles.out.print(render.verification_table(verification))
    return _finished(result, verification)


@app.command("plan")
def plan_command(
    playbook: Annotated[Path, typer.Argument(help="playbook to plan")],
    inventory: InventoryOption = DEFAULT_INVENTORY,
    limit: LimitOption = "all",
) -> int:
    """Show what a playbook would change on each host (check mode with diffs); changes nothing."""
    result = plan_playbook(playbook, load_inventory(inventory), load_settings(), limit=limit)
    consoles.out.print(render.playbook_table(result))
    consoles.out.print(render.plan_text(result), highlight=False)
    return _finished(result, None)


@app.command("verify")
def verify_command(
    checks: Annotated[list[Path], typer.Argument(help="check modules or directories, e.g. checks/baseline")],
    inventory: InventoryOption = DEFAULT_INVENTORY,
    limit: LimitOption = "all",
) -> int:
    """Run testinfra checks on the hosts of an inventory; changes nothing."""
    result = verify(checks, load_inventory(inventory), load_settings(), limit=limit)
    consoles.out.print(render.verification_table(result))
    return verification_exit_code(result)


def _finished(result: PlaybookResult, verification: VerificationResult | None) -> int:
    """Return the command's exit code, first saying what to do about unreachable hosts when they decide it."""
    code = playbook_exit_code(result, verification)
    if code == EXIT_BAD_INPUT:
        consoles.err.print(
            f"[bold magenta]unreachable:[/] {', '.join(result.unreachable)}. "
            "fix: check the host is up (itpm lab status) and its address and key in the inventory"
        )
    return code
