"""``main``, the ``itpm`` script: run the command, say what stopped it, exit with the code exit_codes.py gives."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from itpm.cli import consoles
from itpm.cli.exit_codes import EXIT_OK, error_exit_code
from itpm.cli.typer_app import InterruptedCommand, app
from itpm.errors import ItpmError

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``itpm`` script: run the app and exit with the code its outcome maps to."""
    try:
        code = app(standalone_mode=False)
    except InterruptedCommand as carried:
        sys.exit(_interrupted(carried.interrupt))
    except KeyboardInterrupt as interrupt:  # before a command started (typer returns 130 for these itself)
        sys.exit(_interrupted(interrupt))
    except typer.Abort as error:  # Ctrl-C at a prompt
        consoles.err.print("aborted")
        sys.exit(error_exit_code(error))
    except typer.TyperException as error:  # usage errors: unknown option, missing argument (typer's own click)
        show = getattr(error, "show", None)
        if show is not None:
            show()
        else:
            consoles.err.print(f"[bold red]error:[/] {error}")
        sys.exit(error_exit_code(error))
    except ItpmError as error:
        # escape(): messages quote file names and values people wrote; `[/x]` in one is text, not console markup.
        consoles.err.print(f"[bold red]error:[/] {escape(consoles.printable(error.message))}", highlight=False)
        if error.fix:
            consoles.err.print(f"  [bold]fix:[/] {escape(consoles.printable(error.fix))}", highlight=False)
        sys.exit(error_exit_code(error))
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _interrupted(interrupt: KeyboardInterrupt) -> int:
    """Say what stopped the command, if the interrupt says (a bare Ctrl-C does not); return the exit code."""
    if str(interrupt):
        consoles.err.print(escape(consoles.printable(str(interrupt))), highlight=False)
    return error_exit_code(interrupt)
