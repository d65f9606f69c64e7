"""Core dump control (CORE-01): pam_limits gives every user a hard core file size limit of 0."""

from __future__ import annotations

from testinfra.host import Host


def test_core_dumps_disabled(host: Host) -> None:
    listing = host.run("cat /etc/security/limits.conf /etc/security/limits.d/*.conf 2>/dev/null").stdout
    # <domain> <type> <item> <value>; type "-" sets both the soft and the hard limit.
    core_hard = [
        words
        for words in (line.split("#")[0].split() for line in listing.splitlines())
        if len(words) == 4 and words[0] == "*" and words[1] in ("hard", "-") and words[2] == "core"
    ]
    values = [words[3] for words in core_hard]
    assert values and all(v == "0" for v in values), (
        "core dumps are not disabled for every user: the standard requires '* hard core 0' in "
        f"/etc/security/limits.d, the host has {('hard core limits ' + ', '.join(values)) if values else 'none'}"
    )
