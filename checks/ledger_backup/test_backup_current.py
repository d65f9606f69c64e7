"""The primary's newest backup holds every write the live database has (so a restore loses nothing yet)."""

from __future__ import annotations

import json
from typing import Any

from testinfra.host import Host

LOCAL_BACKUPS = "/var/backups/ledger"  # where roles/ledger_backup snapshots before copying to the backup host


def test_newest_backup_holds_every_write(host: Host, host_vars: dict[str, Any]) -> None:
    listing = host.run("ls -1 %s", LOCAL_BACKUPS)
    manifests = sorted(name for name in listing.stdout.split() if name.endswith(".json"))
    assert manifests, f"no backup manifest in {LOCAL_BACKUPS}: no backup was taken"
    newest = json.loads(host.file(f"{LOCAL_BACKUPS}/{manifests[-1]}").content_string)
    answer = host.run("curl -fsS --max-time 5 http://127.0.0.1:%s/health", str(host_vars["ledger_port"]))
    assert answer.rc == 0, f"the ledger does not answer on port {host_vars['ledger_port']}: {answer.stderr.strip()}"
    live = json.loads(answer.stdout)
    assert (newest.get("records"), newest.get("last_write")) == (live.get("records"), live.get("last_write")), (
        f"the newest backup ({manifests[-1]}: {newest.get('records')} records, last write {newest.get('last_write')}) "
        f"is behind the database ({live.get('records')} records, last write {live.get('last_write')})"
    )
