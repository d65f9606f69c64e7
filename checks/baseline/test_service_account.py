"""The service account exists with its fixed uid and exactly the authorized key from the inventory."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def test_service_account_exists(host: Host, host_vars: dict[str, Any]) -> None:
    name = host_vars["baseline_service_account"]
    user = host.user(name)
    assert user.exists, f"service account {name} does not exist"
    assert user.uid == host_vars["baseline_service_account_uid"], (
        f"service account {name} has uid {user.uid}, expected {host_vars['baseline_service_account_uid']}"
    )
    assert user.home == f"/home/{name}", f"service account {name} has home {user.home}"


def test_service_account_authorized_key(host: Host, host_vars: dict[str, Any]) -> None:
    name = host_vars["baseline_service_account"]
    ssh_dir = host.file(f"/home/{name}/.ssh")
    keys = host.file(f"/home/{name}/.ssh/authorized_keys")
    assert ssh_dir.is_directory and ssh_dir.mode == 0o700 and ssh_dir.user == name, (
        f"/home/{name}/.ssh must be a directory owned by {name} with mode 700"
    )
    assert keys.exists, f"/home/{name}/.ssh/authorized_keys is missing"
    assert (keys.user, keys.mode) == (name, 0o600), (
        f"authorized_keys is owned by {keys.user} with mode {keys.mode:o}, expected {name} and 600"
    )
    assert keys.content_string.split("\n") == [host_vars["baseline_service_account_key"], ""], (
        "authorized_keys does not hold exactly baseline_service_account_key from the inventory"
    )
