"""SSH controls (SSH-01..05): sshd's effective settings (``sshd -T``) meet the standard.

Required values come from ``compliance_sshd_required``, limits from ``compliance_sshd_max``
(group_vars/all/compliance.yml); the baseline's own ``baseline_sshd`` must agree with both.
"""

from __future__ import annotations

from typing import Any

# sshd -T prints some values by an older name than the one configs use today.
_SYNONYMS = {"prohibit-password": "without-password"}


def _canonical(value: object) -> str:
    text = str(value).lower()
    return _SYNONYMS.get(text, text)


def _required_problem(key: str, host_vars: dict[str, Any], sshd_effective: dict[str, str]) -> str | None:
    """Return what is wrong with a setting the standard requires as is, or None."""
    expected = host_vars["compliance_sshd_required"][key]
    actual = sshd_effective.get(key.lower())
    if _canonical(actual) == _canonical(expected):
        return None
    return f"sshd {key} is {actual!r}, the standard requires {str(expected).lower()!r}"


def _limit_problem(key: str, host_vars: dict[str, Any], sshd_effective: dict[str, str]) -> str | None:
    """Return what is wrong with a setting the standard caps (1..limit; sshd reads 0 as 'no limit'), or None."""
    limit = int(host_vars["compliance_sshd_max"][key])
    actual = sshd_effective.get(key.lower(), "")
    if actual.isdigit() and 0 < int(actual) <= limit:
        return None
    return f"sshd {key} is {actual!r}, the standard requires 1 to {limit}"


def test_ssh_root_login_keys_only(host_vars: dict[str, Any], sshd_effective: dict[str, str]) -> None:
    problem = _required_problem("PermitRootLogin", host_vars, sshd_effective)
    assert problem is None, problem


def test_ssh_password_logins_off(host_vars: dict[str, Any], sshd_effective: dict[str, str]) -> None:
    problems = [
        p
        for key in ("PasswordAuthentication", "KbdInteractiveAuthentication")
        if (p := _required_problem(key, host_vars, sshd_effective))
    ]
    assert not problems, "; ".join(problems)


def test_ssh_empty_passwords_refused(host_vars: dict[str, Any], sshd_effective: dict[str, str]) -> None:
    problem = _required_problem("PermitEmptyPasswords", host_vars, sshd_effective)
    assert problem is None, problem


def test_ssh_auth_tries_limited(host_vars: dict[str, Any], sshd_effective: dict[str, str]) -> None:
    problem = _limit_problem("MaxAuthTries", host_vars, sshd_effective)
    assert problem is None, problem


def test_ssh_x11_forwarding_off(host_vars: dict[str, Any], sshd_effective: dict[str, str]) -> None:
    problem = _required_problem("X11Forwarding", host_vars, sshd_effective)
    assert problem is None, problem


def test_ssh_agent_forwarding_off(host_vars: dict[str, Any], sshd_effective: dict[str, str]) -> None:
    problem = _required_problem("AllowAgentForwarding", host_vars, sshd_effective)
    assert problem is None, problem


def test_ssh_login_grace_time_limited(host_vars: dict[str, Any], sshd_effective: dict[str, str]) -> None:
    problem = _limit_problem("LoginGraceTime", host_vars, sshd_effective)
    assert problem is None, problem


def test_ssh_idle_sessions_closed(host_vars: dict[str, Any], sshd_effective: dict[str, str]) -> None:
    problems = [
        p
        for key in ("ClientAliveInterval", "ClientAliveCountMax")
        if (p := _limit_problem(key, host_vars, sshd_effective))
    ]
    assert not problems, "; ".join(problems)
