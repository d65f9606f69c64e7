#!/usr/bin/python3
"""ledger-snapshot: read the ledger's state, or take a consistent online snapshot of it with a manifest.

    ledger-snapshot stats --db /var/lib/ledger/ledger.db
        {"exists": true, "records": 12, "last_write": "2026-...+00:00"}
    ledger-snapshot take --db /var/lib/ledger/ledger.db --dest /var/backups/ledger
        {"taken_at": "2026-...+00:00", "host": "h3", "records": 12, "last_write": "2026-...+00:00",
         "sha256": "9f86...", "file": "ledger-20261122T101500Z.db"}   (the manifest, also written beside the copy)

Run as root it first becomes --user (default ledger): the database's WAL and shared-memory files must stay owned
by the service's user, or the service could not open its own database after a snapshot created them.
"""

import argparse
import hashlib
import json
import os
import pwd
import socket
import sqlite3
import sys
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

STATS = "SELECT COUNT(*), MAX(created_at) FROM records"


def become(user: str) -> None:
    if os.getuid() != 0:
        return
    account = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    os.umask(0o027)


def stats(database: Path) -> dict[str, object]:
    if not database.is_file():
        return {"exists": False, "records": 0, "last_write": None}
    with closing(sqlite3.connect(database, timeout=10)) as connection:
        records, last_write = connection.execute(STATS).fetchone()
    return {"exists": True, "records": records, "last_write": last_write}


def take(database: Path, dest: Path) -> dict[str, object]:
    if not database.is_file():
        sys.exit(f"ledger-snapshot: no ledger database at {database}: nothing to back up")
    # The name holds the time to the second: wait out a snapshot taken in the same second.
    while True:
        now = datetime.now(UTC)
        name = f"ledger-{now:%Y%m%dT%H%M%SZ}"
        if not (dest / f"{name}.db").exists():
            break
        time.sleep(0.2)
    partial = dest / f".{name}.db.partial"
    partial.unlink(missing_ok=True)
    with closing(sqlite3.connect(database, timeout=10)) as source, closing(sqlite3.connect(partial)) as copy:
        # sqlite3's online backup copies one consistent state of the database while the service keeps writing.
        source.backup(copy)
        # A single self-contained file: no WAL beside it to copy or lose (the service sets WAL again on start).
        copy.execute("PRAGMA journal_mode=DELETE")
        records, last_write = copy.execute(STATS).fetchone()
    digest = hashlib.sha256(partial.read_bytes()).hexdigest()
    partial.rename(dest / f"{name}.db")
    manifest = {
        "taken_at": now.isoformat(),
        "host": socket.gethostname(),
        "records": records,
        "last_write": last_write,
        "sha256": digest,
        "file": f"{name}.db",
    }
    # Written last and renamed into place: a manifest always describes a complete copy.
    partial_manifest = dest / f".{name}.json.partial"
    partial_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    partial_manifest.rename(dest / f"{name}.json")
    return manifest


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="ledger state and snapshots")
    parser.add_argument("action", choices=["stats", "take"])
    parser.add_argument("--db", type=Path, default=Path("/var/lib/ledger/ledger.db"))
    parser.add_argument("--dest", type=Path, default=Path("/var/backups/ledger"))
    parser.add_argument("--user", default="ledger")
    options = parser.parse_args()
    if options.action == "stats" and not options.db.is_file():
        # Nothing to open, so no need to become the service's user (on a new host it may not exist yet).
        print(json.dumps(stats(options.db)))
        sys.exit(0)
    become(options.user)
    result = stats(options.db) if options.action == "stats" else take(options.db, options.dest)
    print(json.dumps(result))
