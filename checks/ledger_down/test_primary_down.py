"""Nothing answers on the failed primary's ledger port: clients cannot write to the old ledger (no split brain).

``ledger_primary_address`` (the failed primary's address) describes one recovery: the runbook passes it.
"""

from __future__ import annotations

from typing import Any

from testinfra.host import Host

# Run on the client: prints how a 3 s TCP connect to argv[1]:argv[2] ended.
_PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
    print("ANSWERED")
except ConnectionRefusedError:
    print("refused")
except TimeoutError:
    print("timed out")
except OSError as error:
    print(f"unreachable ({error.strerror or error})")
"""


def test_failed_primary_does_not_answer(host: Host, host_vars: dict[str, Any]) -> None:
    address = host_vars.get("ledger_primary_address")
    assert address, "ledger_primary_address is not set: the runbook passes it as a var (nothing was checked)"
    port = host_vars["ledger_port"]
    probe = host.run("python3 -c %s %s %s", _PROBE, str(address), str(port))
    outcome = probe.stdout.strip()
    assert probe.rc == 0 and outcome, f"could not probe {address}:{port}: {probe.stderr.strip()}"
    assert outcome != "ANSWERED", (
        f"the failed primary {address}:{port} ANSWERED within 3 s (expected refused or timed out): "
        "its ledger is up and clients could still write to it"
    )
