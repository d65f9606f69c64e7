"""The typer app and what its command modules share: the options they have in common, who runs them, Prefect.

Each command family (``itpm/cli/<family>.py``) registers its commands on ``app`` (or ``lab_app``,
``server_app``) when ``itpm.cli`` imports it.
"""

from __future__ import annotations

import getpass
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from itpm.prefect_server import client_environment, ensure_server
from itpm.settings import Settings

__all__ = [
    "DEFAULT_INVENTORY",
    "DefaultCommandGroup",
    "IdentityOption",
    "InterruptedCommand",
    "InventoryOption",
    "LabNameOption",
    "LimitOption",
    "SigningKeyOption",
    "app",
    "identity_of",
    "lab_app",
    "server_app",
    "use_prefect",
]


class InterruptedCommand(Exception):
    """A command stopped by a ``KeyboardInterrupt`` (Ctrl-C, or a SIGTERM turned into one), carried to ``main``.

    typer turns an interrupt into a bare exit 130 before ``main`` sees it, whichever signal it was; carried
    past typer, the interrupt keeps its ``signal_name`` and exit_codes.py maps SIGTERM to 143.
    """

    def __init__(self, interrupt: KeyboardInterrupt) -> None:
        super().__init__(str(interrupt))
        self.interrupt = interrupt


class _Commands(TyperGroup):
    """The ``itpm`` command group: runs a command, and carries an interrupt out of it past typer."""

    def invoke(self, ctx: Any) -> Any:  # noqa: ANN401 - typer's context class is its vendored click's, private
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as interrupt:
            raise InterruptedCommand(interrupt) from interrupt


class DefaultCommandGroup(TyperGroup):
    """A command group whose arguments, when they name none of its commands, go to ``default_command``.

    ``itpm log RUN`` is ``itpm log show RUN``; ``itpm evidence RUN`` is ``itpm evidence build RUN``.
    """

    default_command = ""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # noqa: ANN401 - typer's vendored click context
        """Return the arguments parsed, ``default_command`` put first when they name none of the group's commands."""
        # `itpm log --help` lists the group's commands; `itpm log` alone still asks the default command for a run.
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_Commands, no_args_is_help=True, add_completion=False, help="Run IT projects as tracked rollouts."
)
lab_app = typer.Typer(no_args_is_help=True, help="The lab fleet: isolated SSH hosts on this machine.")
app.add_typer(lab_app, name="lab")
server_app = typer.Typer(no_args_is_help=True, help="The local Prefect server (UI on 127.0.0.1:4200).")
app.add_typer(server_app, name="server")

InventoryOption = Annotated[Path, typer.Option("--inventory", "-i", help="Ansible inventory (file or directory)")]
LimitOption = Annotated[str, typer.Option("--limit", "-l", help="Ansible host pattern, e.g. 'web:!h3'")]
LabNameOption = Annotated[str, typer.Option("--name", help="lab name (1-8 lowercase letters and digits)")]
IdentityOption = Annotated[
    str | None, typer.Option("--as", help="who you are (a team member's name, login or e-mail); default $ITPM_USER")
]
SigningKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key", envvar="ITPM_SIGNING_KEY", help="your SSH signing key (or its .pub with the key in ssh-agent)"
    ),
]
DEFAULT_INVENTORY = Path("inventory/lab/hosts.yml")


def identity_of(given: str | None) -> str:
    """Return who runs the command: ``--as``, else ``$ITPM_USER``, else the login name (``'dana'``)."""
    return given or os.environ.get("ITPM_USER") or getpass.getuser()


def use_prefect(settings: Settings) -> str:
    """Point this process's Prefect client at a healthy API (starting the local server); return its URL.

    ``use_prefect(settings) == 'http://127.0.0.1:4200/api'``. Call it before importing ``flows``: Prefect reads
    the API's address from the environment when it is first imported.
    """
    url = ensure_server(settings)
    os.environ.update(client_environment(settings))
    # Prefect's API log worker writes "--- Error logging to API ---" to the terminal for every batch of log
    # lines it cannot send while the API is away, unless logging errors are switched off, as in production.
    # Those lines are lost to the UI either way; a run that stops because the API is gone says so, once.
    logging.raiseExceptions = False
    return url
