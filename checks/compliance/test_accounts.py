"""Account controls (ACCT-01..04, UMASK-01): password ageing, empty passwords and the session umask.

Expected values: ``compliance_pass_*`` and ``compliance_umask`` in group_vars/all/compliance.yml.
"""

from __future__ import annotations

from typing import Any

from testinfra.host import Host

# shadow fields after the name: hash, last change, min days, max days, warn days, ...
_HASH, _MIN, _MAX = 0, 2, 3


def _has_password(fields: list[str]) -> bool:
    return fields[_HASH].startswith("$")


def test_password_max_age_for_new_passwords(host_vars: dict[str, Any], login_defs: dict[str, str]) -> None:
    limit = int(host_vars["compliance_pass_max_days"])
    seen = login_defs.get("PASS_MAX_DAYS", "")
    assert seen.isdigit() and int(seen) <= limit, (
        f"/etc/login.defs PASS_MAX_DAYS is {seen or 'not set'}, the standard requires at most {limit} days"
    )


def test_password_max_age_of_accounts(host_vars: dict[str, Any], shadow_entries: dict[str, list[str]]) -> None:
    limit = int(host_vars["compliance_pass_max_days"])
    wrong = {
        name: fields[_MAX] or "none"
        for name, fields in shadow_entries.items()
        if _has_password(fields) and not (fields[_MAX].isdigit() and int(fields[_MAX]) <= limit)
    }
    assert not wrong, f"accounts with a password that expires later than {limit} days (max days): " + ", ".join(
        f"{name}={days}" for name, days in sorted(wrong.items())
    )


def test_password_min_age_for_new_passwords(host_vars: dict[str, Any], login_defs: dict[str, str]) -> None:
    least = int(host_vars["compliance_pass_min_days"])
    seen = login_defs.get("PASS_MIN_DAYS", "")
    assert seen.isdigit() and int(seen) >= least, (
        f"/etc/login.defs PASS_MIN_DAYS is {seen or 'not set'}, the standard requires at least {least} day(s)"
    )


def test_password_min_age_of_accounts(host_vars: dict[str, Any], shadow_entries: dict[str, list[str]]) -> None:
    least = int(host_vars["compliance_pass_min_days"])
    wrong = {
        name: fields[_MIN] or "none"
        for name, fields in shadow_entries.items()
        if _has_password(fields) and not (fields[_MIN].isdigit() and int(fields[_MIN]) >= least)
    }
    assert not wrong, f"accounts with a password whose minimum age is under {least} day(s): " + ", ".join(
        f"{name}={days}" for name, days in sorted(wrong.items())
    )


def test_password_expiry_warning(host_vars: dict[str, Any], login_defs: dict[str, str]) -> None:
    least = int(host_vars["compliance_pass_warn_age"])
    seen = login_defs.get("PASS_WARN_AGE", "")
    assert seen.isdigit() and int(seen) >= least, (
        f"/etc/login.defs PASS_WARN_AGE is {seen or 'not set'}, the standard requires at least {least} day(s)"
    )


def test_no_account_has_empty_password(shadow_entries: dict[str, list[str]]) -> None:
    empty = sorted(name for name, fields in shadow_entries.items() if fields[_HASH] == "")
    assert not empty, f"accounts with an empty password (anyone can log in as them): {', '.join(empty)}"


def test_login_defs_umask(host_vars: dict[str, Any], login_defs: dict[str, str]) -> None:
    expected = str(host_vars["compliance_umask"])
    seen = login_defs.get("UMASK")
    assert seen is not None and int(seen, 8) == int(expected, 8), (
        f"/etc/login.defs UMASK is {seen or 'not set'}, the standard requires {expected}"
    )


def test_pam_umask_enabled(host: Host) -> None:
    session = host.file("/etc/pam.d/common-session").content_string
    modules = [
        word
        for line in session.splitlines()
        if line.split()[:1] == ["session"]
        for word in line.split()
        if word.endswith(".so")
    ]
    assert "pam_umask.so" in modules, (
        "pam_umask is not in /etc/pam.d/common-session, so login sessions do not get the UMASK of /etc/login.defs "
        f"(session modules: {', '.join(modules)})"
    )
