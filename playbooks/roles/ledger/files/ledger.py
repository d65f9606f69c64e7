#!/usr/bin/python3
"""ledger: a small record store over HTTP, kept in SQLite (WAL) so that writes survive a crash.

    POST /records {"id": "r1", "value": "..."}  -> 201 {"id": "r1", "value": "...", "created_at": "2026-...+00:00"}
                                                   409 if the id exists (records are never overwritten)
    GET  /records/r1                            -> 200 the record, or 404
    GET  /health                                -> 200 {"host": "h3", "records": 12, "last_write": "2026-...+00:00"}

Usage: ledger --port 5480 --data-dir /var/lib/ledger   (the database is <data-dir>/ledger.db)
"""

import argparse
import json
import re
import socket
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RECORD_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_BODY = 1 << 20
SCHEMA = "CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, value TEXT NOT NULL, created_at TEXT NOT NULL)"


def connect(database: Path) -> sqlite3.Connection:
    # One connection per request: sqlite3 connections are not shared between the server's threads, and with
    # no connection held between requests a stop leaves no open WAL behind. synchronous=FULL: a write that
    # was answered 201 is on disk, also through a power loss.
    connection = sqlite3.connect(database, timeout=10)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def prepare(database: Path) -> None:
    with closing(connect(database)) as connection:
        # WAL lets readers (and sqlite3's online backup) run while a write is in progress.
        connection.execute("PRAGMA journal_mode=WAL")
        with connection:
            connection.execute(SCHEMA)


class Ledger(BaseHTTPRequestHandler):
    database: Path

    def do_GET(self) -> None:
        if self.path == "/health":
            with closing(connect(self.database)) as connection:
                count, last_write = connection.execute("SELECT COUNT(*), MAX(created_at) FROM records").fetchone()
            self.answer(200, {"host": socket.gethostname(), "records": count, "last_write": last_write})
            return
        record_id = self.path.removeprefix("/records/")
        if record_id == self.path or not RECORD_ID.fullmatch(record_id):
            self.answer(404, {"error": f"no such resource: {self.path}"})
            return
        with closing(connect(self.database)) as connection:
            row = connection.execute("SELECT id, value, created_at FROM records WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            self.answer(404, {"error": f"no record {record_id}"})
        else:
            self.answer(200, dict(row))

    def do_POST(self) -> None:
        if self.path != "/records":
            self.answer(404, {"error": f"no such resource: {self.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self.answer(400, {"error": f"the body must be 1 to {MAX_BODY} bytes of JSON"})
            return
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            self.answer(400, {"error": 'the body is not JSON: send {"id": "...", "value": "..."}'})
            return
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            self.answer(400, {"error": 'send {"id": "...", "value": "..."} with string values'})
            return
        record_id = body.get("id")
        if not isinstance(record_id, str) or not RECORD_ID.fullmatch(record_id):
            self.answer(400, {"error": "id must be 1-128 characters of letters, digits and . _ : -"})
            return
        record = {"id": record_id, "value": body["value"], "created_at": datetime.now(UTC).isoformat()}
        with closing(connect(self.database)) as connection:
            try:
                with connection:
                    connection.execute("INSERT INTO records VALUES (:id, :value, :created_at)", record)
            except sqlite3.IntegrityError:
                row = connection.execute("SELECT id, value, created_at FROM records WHERE id = ?", (record_id,))
                self.answer(409, {"error": f"record {record_id} exists", "record": dict(row.fetchone())})
                return
        self.answer(201, record)

    def answer(self, status: int, document: object) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet: no log file to rotate
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="ledger record service")
    parser.add_argument("--port", type=int, default=5480)
    parser.add_argument("--data-dir", type=Path, default=Path("/var/lib/ledger"))
    options = parser.parse_args()
    Ledger.database = options.data_dir / "ledger.db"
    prepare(Ledger.database)
    server = ThreadingHTTPServer(("0.0.0.0", options.port), Ledger)
    server.daemon_threads = True
    server.serve_forever()
