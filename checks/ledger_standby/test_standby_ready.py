"""A warm standby: the ledger software and its data directory are in place, ready for a restore to start it."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def test_ledger_program_installed(host: Host) -> None:
    program = host.file("/usr/local/bin/ledger")
    assert program.is_file and program.mode & 0o111, (
        "the ledger program /usr/local/bin/ledger is missing or not executable"
    )


def test_ledger_init_script_installed(host: Host) -> None:
    assert host.file("/etc/init.d/ledger").is_file, "the ledger init script /etc/init.d/ledger is missing"


def test_ledger_data_dir_ready(host: Host, host_vars: dict[str, Any]) -> None:
    directory = host.file(host_vars["ledger_data_dir"])
    assert directory.is_directory, f"the data directory {host_vars['ledger_data_dir']} is missing"
    assert directory.user == "ledger", f"{host_vars['ledger_data_dir']} is owned by {directory.user}, expected ledger"
