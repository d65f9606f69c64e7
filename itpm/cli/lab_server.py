"""``itpm lab up|down|status`` and ``itpm server start|stop|status``: the lab fleet and the local Prefect server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from itpm import console as render
from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_FAILED, EXIT_OK
from itpm.cli.typer_app import LabNameOption, lab_app, server_app
from itpm.lab.fleet import lab_down, lab_status, lab_up
from itpm.prefect_server import check_access, client_environment, ensure_server, healthy, stop_server
from itpm.settings import load_settings

__all__ = [
    "lab_down_command",
    "lab_status_command",
    "lab_up_command",
    "server_start_command",
    "server_status_command",
    "server_stop_command",
]


@lab_app.command("up")
def lab_up_command(
    hosts: Annotated[int, typer.Option("--hosts", "-n", help="number of hosts h1..hN")] = 5,
    name: LabNameOption = "lab",
    inventory: Annotated[Path | None, typer.Option(help="where to write the inventory")] = None,
) -> int:
    """Bring up hosts h1..hN (keeping running ones) and write the inventory and known_hosts."""
    status = lab_up(load_settings(), name=name, count=hosts, inventory=inventory)
    consoles.out.print(render.lab_table(status))
    return EXIT_OK


@lab_app.command("down")
def lab_down_command(name: LabNameOption = "lab") -> int:
    """Stop every host of the lab and remove its namespaces, links, bridge and generated files."""
    removed = lab_down(load_settings(), name=name)
    consoles.out.print(f"lab '{name}': removed {len(removed)} host(s)" + (f": {', '.join(removed)}" if removed else ""))
    return EXIT_OK


@lab_app.command("status")
def lab_status_command(name: LabNameOption = "lab") -> int:
    """Show each lab host's address, group and whether it answers SSH."""
    status = lab_status(load_settings(), name=name)
    if not status.hosts:
        consoles.out.print(f"lab '{name}' is not up (itpm lab up --name {name})")
        return EXIT_OK
    consoles.out.print(render.lab_table(status))
    return EXIT_OK if len(status.up) == len(status.hosts) else EXIT_FAILED


@server_app.command("start")
def server_start_command() -> int:
    """Start the local Prefect server (SQLite in the state directory) if it is not running."""
    url = ensure_server(load_settings())
    consoles.out.print(f"Prefect API {url}, UI {url.removesuffix('/api')}")
    return EXIT_OK


@server_app.command("stop")
def server_stop_command() -> int:
    """Stop the local Prefect server itpm started, and its worker."""
    stopped = stop_server(load_settings())
    consoles.out.print("stopped" if stopped else "no local server was running")
    return EXIT_OK


@server_app.command("status")
def server_status_command() -> int:
    """Say whether the Prefect API answers."""
    settings = load_settings()
    url = client_environment(settings)["PREFECT_API_URL"]
    up = healthy(url)
    consoles.out.print(f"Prefect API {url}: {'up' if up else 'down'}")
    if up:
        check_access(url)  # up for its health check, which needs no password, yet refusing every other call
    return EXIT_OK if up else EXIT_FAILED
