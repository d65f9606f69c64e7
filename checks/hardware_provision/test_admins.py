"""Each admin of ``hw_admins`` exists with its uid, can log in with its key, and has sudo exactly if declared."""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def test_admins_exist_with_their_uid(host: Host, host_vars: dict[str, Any]) -> None:
    problems = []
    for admin in host_vars["hw_admins"]:
        user = host.user(admin["name"])
        if not user.exists:
            problems.append(f"admin {admin['name']} does not exist")
        elif user.uid != admin["uid"]:
            problems.append(f"admin {admin['name']} has uid {user.uid}, expected {admin['uid']}")
    assert not problems, "; ".join(problems)


def test_admin_keys_authorized(host: Host, host_vars: dict[str, Any]) -> None:
    problems = []
    for admin in host_vars["hw_admins"]:
        name = admin["name"]
        keys = host.file(f"/home/{name}/.ssh/authorized_keys")
        if not keys.exists:
            problems.append(f"/home/{name}/.ssh/authorized_keys is missing")
        elif admin["key"].strip() not in keys.content_string.splitlines():
            problems.append(f"the key of {name} from hw_admins is not in /home/{name}/.ssh/authorized_keys")
        # sshd ignores a key file others may write to (StrictModes): the key would be there but not work.
        elif keys.user != name or keys.mode & 0o022:
            problems.append(
                f"/home/{name}/.ssh/authorized_keys is owned by {keys.user} with mode {keys.mode:o}, "
                f"so sshd ignores it (expected owner {name}, not writable by others)"
            )
    assert not problems, "; ".join(problems)


def test_admin_sudo_rights_as_declared(host: Host, host_vars: dict[str, Any]) -> None:
    problems = []
    for admin in host_vars["hw_admins"]:
        name = admin["name"]
        # As root, `sudo -l -U` lists another user's rights without asking anyone for a password.
        listing = host.run("sudo -n -l -U %s", name)
        if listing.rc != 0:
            problems.append(f"sudo cannot list the rights of {name}: {listing.stderr.strip()}")
            continue
        has_sudo = f"User {name} may run the following commands" in listing.stdout
        if admin["sudo"] and not has_sudo:
            problems.append(f"admin {name} should have sudo rights but has none")
        elif not admin["sudo"] and has_sudo:
            problems.append(f"admin {name} should have no sudo rights but may run commands with sudo")
    assert not problems, "; ".join(problems)
