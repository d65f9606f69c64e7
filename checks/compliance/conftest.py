"""Fixtures of the compliance checks: host configuration parsed once per host (``sshd_effective`` is in checks/)."""

from __future__ import annotations

import json
import shlex

import pytest
from testinfra.host import Host

# What `sysctl --system` applies at boot: *.conf files by name across these directories (the first directory
# holding a name wins), then /etc/sysctl.conf; a later assignment of a key overrides an earlier one.
_SYSCTL_AT_BOOT = """
import glob, json, os
files = {}
for d in ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"):
    for path in glob.glob(d + "/*.conf"):
        files.setdefault(os.path.basename(path), path)
paths = [files[name] for name in sorted(files)] + ["/etc/sysctl.conf"]
values = {}
for path in paths:
    if not os.path.isfile(path):
        continue
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            key, sep, value = line.partition("=")
            if sep and line[0] not in "#;":
                values[key.strip().lstrip("-").replace("/", ".")] = [value.strip(), path]
print(json.dumps(values))
"""


@pytest.fixture(scope="module")
def sysctl_at_boot(host: Host) -> dict[str, tuple[str, str]]:
    """Return the sysctl values the host's config applies at boot, and the file each comes from.

    ``{'net.ipv4.tcp_syncookies': ('1', '/etc/sysctl.d/60-itpm-syncookies.conf'), ...}``; keys set nowhere
    are absent (they boot with the kernel's default).
    """
    output = host.check_output("python3 -c " + shlex.quote(_SYSCTL_AT_BOOT))
    return {key: (value, path) for key, (value, path) in json.loads(output).items()}


@pytest.fixture(scope="module")
def login_defs(host: Host) -> dict[str, str]:
    """Return the settings of /etc/login.defs: ``{'PASS_MAX_DAYS': '99999', 'UMASK': '022', ...}``."""
    settings: dict[str, str] = {}
    for line in host.file("/etc/login.defs").content_string.splitlines():
        words = line.split()
        if len(words) >= 2 and not words[0].startswith("#"):
            settings[words[0]] = words[1]
    return settings


@pytest.fixture(scope="module")
def shadow_entries(host: Host) -> dict[str, list[str]]:
    """Return each account's shadow fields after its name: ``{'root': ['*', '20779', '0', '99999', '7', ...]}``."""
    entries: dict[str, list[str]] = {}
    for line in host.check_output("getent shadow").splitlines():
        name, *fields = line.split(":")
        entries[name] = fields
    return entries


@pytest.fixture(scope="module")
def sudoers_lines(host: Host) -> list[tuple[str, str]]:
    """Return the rule and Defaults lines of every file sudo reads, in sudo's order, with their file.

    ``[('/etc/sudoers', 'Defaults use_pty'), ('/etc/sudoers.d/deploy', 'deploy ALL=(ALL) NOPASSWD:ALL')]``
    """
    names = host.check_output("find /etc/sudoers.d -maxdepth 1 -type f -printf '%f\\n'").split()
    # sudo's @includedir skips names with a dot or ending in '~'.
    paths = ["/etc/sudoers"] + [f"/etc/sudoers.d/{n}" for n in sorted(names) if "." not in n and not n.endswith("~")]
    lines = []
    for path in paths:
        for line in host.file(path).content_string.splitlines():
            text = line.strip()
            if text and (not text.startswith("#") or text.startswith(("#include", "#includedir"))):
                lines.append((path, text))
    return lines
