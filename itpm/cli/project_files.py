"""``itpm validate`` and ``itpm schema``: a project file checked without running anything, and its JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_OK
from itpm.cli.typer_app import app
from itpm.inventory import load_inventory
from itpm.models.change_control import classify
from itpm.project_file import load_project, project_schema
from itpm.project_run import step_hosts
from itpm.rollout import plan_batches

__all__ = ["schema_command", "validate_command"]


@app.command("validate")
def validate_command(project_file: Annotated[Path, typer.Argument(help="projects/<name>.yaml")]) -> int:
    """Check a project file (and its scope in the inventory) without running anything."""
    project = load_project(project_file)
    # A title or path is the user's text: `[/]` in it is not console markup, an escape code not a terminal command.
    consoles.out.print(
        f"[green]valid[/]: {escape(consoles.printable(f'{project_file} - {project.title}'))} "
        f"({project.kind.value}, {len(project.steps)} steps)"
    )
    for step in project.steps:  # the change class decides the gate: say which, and which risks made it so
        consoles.out.print(
            escape(consoles.printable(f"  {step.name}: {classify(project, step).summary}")), highlight=False
        )
    if project.scope.inventory.exists():
        inventory = load_inventory(project.scope.inventory)
        for step in project.steps:
            hosts = step_hosts(inventory, project, step)
            batches = plan_batches(step.name, hosts, step.strategy)
            gate = f", approval by {' or '.join(step.strategy.approval.roles)}" if step.strategy.approval else ""
            consoles.out.print(
                escape(
                    f"  step {step.name}: {len(hosts)} hosts in {len(batches)} batches"
                    + gate
                    + ": "
                    + "; ".join(f"{b.name} {','.join(b.hosts)}" for b in batches)
                ),
                highlight=False,
            )
    else:
        consoles.out.print(
            escape(f"  inventory {project.scope.inventory} does not exist yet (itpm lab up makes the lab's)"),
            highlight=False,
        )
    return EXIT_OK


@app.command("schema")
def schema_command() -> int:
    """Print the JSON Schema of project files (for editors)."""
    consoles.out.print_json(json.dumps(project_schema()))
    return EXIT_OK
