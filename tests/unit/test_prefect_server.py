"""A Prefect API behind basic auth (itpm/prefect_server.py): the header itpm's probes send, and the door that says
what to set when it stays shut.

The server here is a stand-in on loopback that answers as Prefect 3.8's middleware does (measured against the real
one in tests/lab/test_scale_out.py): ``GET /health`` open, everything else 401 without the right
``Authorization: Basic`` header. ``strict`` makes the health check ask for it too, as a proxy in front may.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from itpm.cli.exit_codes import error_exit_code
from itpm.cli.runs import _run_stopped_by
from itpm.errors import ExecutionError
from itpm.prefect_server import PrefectAccessRefused, auth_headers, check_access, ensure_server, healthy
from itpm.settings import Settings

SECRET = "admin:s3cret"
NOWHERE = "http://127.0.0.1:1/api"  # nothing listens on port 1


@dataclass
class _Door:
    url: str
    strict: bool = False
    broken: bool = False  # answers 500 to whoever has the password


@pytest.fixture
def door() -> Iterator[_Door]:
    """Yield a stand-in Prefect API on loopback that wants ``SECRET`` for every call but its health check."""
    expected = "Basic " + base64.b64encode(SECRET.encode()).decode()
    state = _Door("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            open_probe = self.path == "/api/health" and not state.strict
            if not open_probe and self.headers.get("Authorization") != expected:
                self._answer(401, b'{"exception_message": "Unauthorized"}')
            elif state.broken and not open_probe:
                self._answer(500, b"{}")
            else:
                self._answer(200, b'"3.8.8"' if self.path.endswith("/version") else b"true")

        def _answer(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Say nothing: the test reads the answers, not a request log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def _no_string_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts on a machine without PREFECT_API_AUTH_STRING, whatever the session has."""
    monkeypatch.delenv("PREFECT_API_AUTH_STRING", raising=False)


def test_the_header_is_prefects_basic_auth_of_the_string(monkeypatch: pytest.MonkeyPatch) -> None:
    assert auth_headers(SECRET) == {"Authorization": "Basic YWRtaW46czNjcmV0"}
    assert auth_headers() == {}
    assert auth_headers("") == {}
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", SECRET)
    assert auth_headers() == {"Authorization": "Basic YWRtaW46czNjcmV0"}
    assert auth_headers("") == {}  # an explicit empty string sends nothing, whatever the environment holds


def test_the_health_check_carries_the_string_for_a_proxy_that_wants_it(
    door: _Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert healthy(door.url)  # Prefect's own health check is open
    door.strict = True
    assert not healthy(door.url)
    assert healthy(door.url, auth_string=SECRET)
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", SECRET)
    assert healthy(door.url)


def test_a_missing_string_is_refused_saying_what_to_set(door: _Door) -> None:
    with pytest.raises(PrefectAccessRefused) as refused:
        check_access(door.url)
    assert str(refused.value) == (
        f"the Prefect API at {door.url} asks for a password (its server runs with PREFECT_SERVER_API_AUTH_STRING) "
        "and PREFECT_API_AUTH_STRING is not set here\n"
        "  fix: export PREFECT_API_AUTH_STRING='user:password' (the server's PREFECT_SERVER_API_AUTH_STRING), kept "
        "in a file only you can read (docs/scale-out.md, 'Basic auth')"
    )
    assert error_exit_code(refused.value) == 2


def test_a_wrong_string_is_refused_as_wrong(door: _Door) -> None:
    with pytest.raises(PrefectAccessRefused, match=r"refused this machine's PREFECT_API_AUTH_STRING \(401"):
        check_access(door.url, auth_string="admin:guess")


def test_the_right_string_or_another_failure_passes_the_door(door: _Door) -> None:
    check_access(door.url, auth_string=SECRET)
    door.broken = True
    check_access(door.url, auth_string=SECRET)  # a 500 is for Prefect's client to report at its call
    check_access(NOWHERE, auth_string=SECRET)  # an API that does not answer is healthy()'s to say


def test_every_command_using_prefect_is_stopped_at_the_door(
    door: _Door, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ensure_server (under use_prefect: itpm run, resume, approve, demo, recover) asks before Prefect's client."""
    monkeypatch.setenv("PREFECT_API_URL", door.url)
    settings = Settings(state_dir=tmp_path)
    with pytest.raises(PrefectAccessRefused, match="asks for a password"):
        ensure_server(settings)
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", SECRET)
    assert ensure_server(settings) == door.url


def test_a_run_turned_away_midway_says_so_and_how_to_resume(door: _Door, tmp_path: Path) -> None:
    """A server restarted with another password: Prefect's client lost a call to a 401, not to silence."""
    request = httpx.Request("POST", f"{door.url}/flow_runs/x/set_state")
    try:
        raise httpx.HTTPStatusError("401 Unauthorized", request=request, response=httpx.Response(401))
    except httpx.HTTPStatusError as lost:
        try:
            raise RuntimeError("the flow run crashed") from lost
        except RuntimeError as stopped:
            said = _run_stopped_by(stopped, Settings(state_dir=tmp_path), door.url, "r1")
    assert isinstance(said, PrefectAccessRefused), said
    assert said.message.startswith(f"run r1 stopped: the Prefect API at {door.url} asks for a password"), said
    assert said.fix.endswith("then itpm resume r1: the project log holds every event up to the stop"), said


def test_a_run_stopped_by_an_api_gone_away_is_still_told_so(tmp_path: Path) -> None:
    said = _run_stopped_by(RuntimeError("crashed"), Settings(state_dir=tmp_path), NOWHERE, "r1")
    assert isinstance(said, ExecutionError) and "stopped answering" in said.message, said
