"""A host that answers after a while, then sends a report of about 400 KB, then answers at once."""

from __future__ import annotations

from testinfra.host import Host


def test_answers_after_a_while(host: Host) -> None:
    assert host.run("sleep 6; echo awake").stdout.strip() == "awake"


def test_sends_its_report(host: Host) -> None:
    assert len(host.run("head -c 300000 /dev/urandom | base64 -w0").stdout) == 400000


def test_answers_at_once(host: Host) -> None:
    assert host.run("true").rc == 0
