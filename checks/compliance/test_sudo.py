"""sudo controls (SUDO-01, SUDO-02): every rule asks for a password; sudo uses a pty and logs to a file.

Expected log file: ``compliance_sudo_logfile`` in group_vars/all/compliance.yml.
"""

from __future__ import annotations

from typing import Any


def _defaults(sudoers_lines: list[tuple[str, str]]) -> list[str]:
    """Return the options of the global ``Defaults`` lines in sudo's order: ``['env_reset', 'use_pty', ...]``."""
    options = []
    for _, line in sudoers_lines:
        words = line.split(None, 1)
        if len(words) == 2 and words[0] == "Defaults":
            options += [option.strip() for option in words[1].split(",")]
    return options


def test_sudo_rules_require_password(sudoers_lines: list[tuple[str, str]]) -> None:
    nopasswd = [f"{path}: {line}" for path, line in sudoers_lines if "NOPASSWD" in line]
    assert not nopasswd, f"sudo rules skip the password (NOPASSWD), the standard allows none: {'; '.join(nopasswd)}"


def test_sudo_uses_pty(sudoers_lines: list[tuple[str, str]]) -> None:
    last = [option for option in _defaults(sudoers_lines) if option.lstrip("!") == "use_pty"][-1:]
    assert last == ["use_pty"], (
        f"sudo runs commands without a pseudo-terminal ({last[0] if last else 'use_pty not set'}), "
        "the standard requires 'Defaults use_pty'"
    )


def test_sudo_logs_to_file(host_vars: dict[str, Any], sudoers_lines: list[tuple[str, str]]) -> None:
    expected = host_vars["compliance_sudo_logfile"]
    logfiles = [
        option.split("=", 1)[1].strip().strip('"')
        for option in _defaults(sudoers_lines)
        if option.replace(" ", "").startswith("logfile=")
    ]
    assert logfiles[-1:] == [expected], (
        f"sudo logs to {logfiles[-1] if logfiles else 'no file'}, the standard requires logfile={expected}"
    )
