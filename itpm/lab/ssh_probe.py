"""Whether a lab host's sshd answers: an SSH banner read from port 22, for many hosts at once.

A banner, not a login: it tells a running sshd from a dead one without keys, and in a second at most.

>>> answering({"h1": "10.77.0.2", "h2": "10.77.0.3"})  # doctest: +SKIP
{'h1'}
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

__all__ = ["answering", "wait_for_ssh"]


def _banner(address: str, timeout: float) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def answering(addresses: dict[str, str]) -> set[str]:
    """Return the hosts of ``addresses`` (host name to address) whose sshd answers with a banner within a second."""
    if not addresses:
        return set()
    with ThreadPoolExecutor(max_workers=min(64, len(addresses))) as pool:
        answers = dict(zip(addresses, pool.map(lambda a: _banner(a, 1.0), addresses.values()), strict=True))
    return {host for host, ok in answers.items() if ok}


def wait_for_ssh(addresses: dict[str, str], timeout: float) -> list[str]:
    """Wait until every host answers with an SSH banner; return the ones that never did."""
    deadline = time.monotonic() + timeout
    pending = dict(addresses)
    while pending and time.monotonic() < deadline:
        for host in answering(pending):
            del pending[host]
        if pending:
            time.sleep(0.05)
    return sorted(pending, key=lambda h: int(h[1:]))
