"""Network controls (NET-01..06): per-host net.* sysctls, live now and set in the files applied at boot.

Expected values: ``compliance_sysctls`` in group_vars/all/compliance.yml, one mapping per control.
"""

from __future__ import annotations

from typing import Any

from testinfra.host import Host


def _live_problems(host: Host, host_vars: dict[str, Any], group: str) -> list[str]:
    """Return one sentence per sysctl of ``group`` whose live value differs from the standard's."""
    problems = []
    for key, expected in sorted(host_vars["compliance_sysctls"][group].items()):
        seen = host.run(f"sysctl -n {key}")
        actual = seen.stdout.strip() if seen.rc == 0 else f"unreadable ({seen.stderr.strip()})"
        if actual != str(expected):
            problems.append(f"{key} is {actual}, the standard requires {expected}")
    return problems


def _boot_problems(host_vars: dict[str, Any], at_boot: dict[str, tuple[str, str]], group: str) -> list[str]:
    """Return one sentence per sysctl of ``group`` that the boot-time config leaves unset or sets otherwise."""
    problems = []
    for key, expected in sorted(host_vars["compliance_sysctls"][group].items()):
        if key not in at_boot:
            problems.append(f"{key} is set in no sysctl.d file, so it boots with the kernel default, not {expected}")
        elif at_boot[key][0] != str(expected):
            value, path = at_boot[key]
            problems.append(f"{key} boots as {value} (from {path}), the standard requires {expected}")
    return problems


def test_icmp_redirects_not_accepted(host: Host, host_vars: dict[str, Any]) -> None:
    problems = _live_problems(host, host_vars, "icmp_redirects_in")
    assert not problems, "; ".join(problems)


def test_icmp_redirects_not_accepted_at_boot(
    host_vars: dict[str, Any], sysctl_at_boot: dict[str, tuple[str, str]]
) -> None:
    problems = _boot_problems(host_vars, sysctl_at_boot, "icmp_redirects_in")
    assert not problems, "; ".join(problems)


def test_icmp_redirects_not_sent(host: Host, host_vars: dict[str, Any]) -> None:
    problems = _live_problems(host, host_vars, "icmp_redirects_out")
    assert not problems, "; ".join(problems)


def test_icmp_redirects_not_sent_at_boot(host_vars: dict[str, Any], sysctl_at_boot: dict[str, tuple[str, str]]) -> None:
    problems = _boot_problems(host_vars, sysctl_at_boot, "icmp_redirects_out")
    assert not problems, "; ".join(problems)


def test_source_routing_refused(host: Host, host_vars: dict[str, Any]) -> None:
    problems = _live_problems(host, host_vars, "source_route")
    assert not problems, "; ".join(problems)


def test_source_routing_refused_at_boot(host_vars: dict[str, Any], sysctl_at_boot: dict[str, tuple[str, str]]) -> None:
    problems = _boot_problems(host_vars, sysctl_at_boot, "source_route")
    assert not problems, "; ".join(problems)


def test_reverse_path_filter_strict(host: Host, host_vars: dict[str, Any]) -> None:
    problems = _live_problems(host, host_vars, "rp_filter")
    assert not problems, "; ".join(problems)


def test_reverse_path_filter_strict_at_boot(
    host_vars: dict[str, Any], sysctl_at_boot: dict[str, tuple[str, str]]
) -> None:
    problems = _boot_problems(host_vars, sysctl_at_boot, "rp_filter")
    assert not problems, "; ".join(problems)


def test_tcp_syncookies_on(host: Host, host_vars: dict[str, Any]) -> None:
    problems = _live_problems(host, host_vars, "syncookies")
    assert not problems, "; ".join(problems)


def test_tcp_syncookies_on_at_boot(host_vars: dict[str, Any], sysctl_at_boot: dict[str, tuple[str, str]]) -> None:
    problems = _boot_problems(host_vars, sysctl_at_boot, "syncookies")
    assert not problems, "; ".join(problems)


def test_broadcast_pings_ignored(host: Host, host_vars: dict[str, Any]) -> None:
    problems = _live_problems(host, host_vars, "broadcast_echo")
    assert not problems, "; ".join(problems)


def test_broadcast_pings_ignored_at_boot(host_vars: dict[str, Any], sysctl_at_boot: dict[str, tuple[str, str]]) -> None:
    problems = _boot_problems(host_vars, sysctl_at_boot, "broadcast_echo")
    assert not problems, "; ".join(problems)
