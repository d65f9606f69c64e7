"""What ``itpm`` exits with (itpm/cli/exit_codes.py): 2 for bad input, 1 for a failure, 128 + signal when stopped."""

from __future__ import annotations

import io
import sys
from unittest import mock

import pytest
import typer
from rich.console import Console

from itpm import cli
from itpm.cli import consoles, project_files
from itpm.cli.exit_codes import error_exit_code
from itpm.errors import ExecutionError, InventoryError, ItpmError, LabError
from itpm.run_record import RunNotFound


class _Stopped(KeyboardInterrupt):
    """What itpm.interrupts.Interrupted is to the CLI: an interrupt that names the signal behind it."""

    def __init__(self, signal_name: str, message: str) -> None:
        super().__init__(message)
        self.signal_name = signal_name


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InventoryError("hosts.yml: 'db' matches no host"), 2),
        (LabError("no root here"), 2),
        (RunNotFound("no run r9"), 2),
        (ExecutionError("ansible-runner could not start"), 1),
        (ItpmError("anything else of itpm's"), 1),
        (KeyboardInterrupt(), 130),
        (_Stopped("SIGINT", "stopped by SIGINT"), 130),
        (_Stopped("SIGTERM", "stopped by SIGTERM"), 143),
        (typer.Abort(), 1),
    ],
)
def test_each_error_maps_to_its_exit_code(error: ItpmError | KeyboardInterrupt | typer.Abort, code: int) -> None:
    assert error_exit_code(error) == code


def run_main(*args: str) -> tuple[int | None, str]:
    """Run ``itpm ARGS`` in this process; return its exit code and everything it printed."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=10_000, color_system=None, soft_wrap=True)
    with (
        mock.patch.object(consoles, "out", console),
        mock.patch.object(consoles, "err", console),
        mock.patch.object(sys, "argv", ["itpm", *args]),
        mock.patch.object(sys, "excepthook", sys.excepthook),  # typer installs its own on every call
        pytest.raises(SystemExit) as done,
    ):
        cli.main()
    return (done.value.code if isinstance(done.value.code, int) else None), buffer.getvalue()


@pytest.mark.parametrize(
    ("interrupt", "code", "said"),
    [
        (KeyboardInterrupt(), 130, ""),  # a bare Ctrl-C: the terminal shows ^C, nothing to add
        (_Stopped("SIGINT", "run r1 stopped by SIGINT"), 130, "run r1 stopped by SIGINT\n"),
        (_Stopped("SIGTERM", "run r1 stopped by SIGTERM"), 143, "run r1 stopped by SIGTERM\n"),
    ],
)
def test_a_command_stopped_by_a_signal_exits_128_plus_the_signal(
    interrupt: KeyboardInterrupt, code: int, said: str
) -> None:
    # typer itself turns any interrupt inside a command into a bare 130: the SIGTERM must get past it.
    with mock.patch.object(project_files, "project_schema", side_effect=interrupt):
        assert run_main("schema") == (code, said)


def test_bad_input_and_usage_errors_exit_2_with_the_fix() -> None:
    code, said = run_main("validate", "projects/absent.yaml")
    assert code == 2
    assert said.startswith("error: ") and "absent.yaml" in said and "\n  fix: " in said
    assert run_main("validate", "--bogus")[0] == 2
