"""The Prefect API itpm reports to: ``$PREFECT_API_URL`` if set, else a local server it starts and keeps.

An approval is answered from another process (``itpm approve``, the UI), so a run needs a server that outlives
the process that started it: Prefect's temporary per-process server would not do (../shared/PREFECT-NOTES.md).
The default is the embedded one, Prefect's own server on SQLite in ``<state>/prefect``, bound to 127.0.0.1.
Runs started from a deployment need a process worker: ``ensure_worker`` keeps one beside the local server. This
module starts both as commands and never imports Prefect.

A server may run with basic auth (``PREFECT_SERVER_API_AUTH_STRING``; docs/scale-out.md): then every client sends
``PREFECT_API_AUTH_STRING``. Prefect's own client does; this module's probes send it the same way, and
``ensure_server`` turns a server that refuses this machine into ``PrefectAccessRefused``, which says what to set,
instead of the traceback Prefect's client ends in at its first call.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from itpm.errors import ExecutionError, ItpmError
from itpm.executables import executable
from itpm.settings import Settings

__all__ = [
    "PrefectAccessRefused",
    "api_url",
    "auth_headers",
    "check_access",
    "client_environment",
    "ensure_server",
    "ensure_worker",
    "healthy",
    "stop_server",
]

_STARTUP_SECONDS = 120.0
_AUTH_VARIABLE = "PREFECT_API_AUTH_STRING"
_UNAUTHORIZED = 401


class PrefectAccessRefused(ItpmError):
    """The Prefect API refused this machine: basic auth on, ``PREFECT_API_AUTH_STRING`` missing or wrong (exit 2)."""

    exit_code = 2


def api_url(settings: Settings) -> str:
    """Return the API URL runs report to: ``$PREFECT_API_URL`` or the local server's."""
    return os.environ.get("PREFECT_API_URL") or f"http://127.0.0.1:{settings.prefect_port}/api"


def client_environment(settings: Settings) -> dict[str, str]:
    """Return the variables a Prefect client of itpm needs: where the API is, quiet and offline."""
    return {
        "PREFECT_API_URL": api_url(settings),
        "PREFECT_HOME": os.environ.get("PREFECT_HOME", str(settings.prefect_home)),
        # No telemetry: this machine reaches no analytics endpoint, and a failed call only adds noise.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        # The terminal shows itpm's own event stream and errors; every log line, tracebacks included, still
        # reaches the Prefect UI through its API handler. A halted rollout is a message with next steps, not a
        # traceback. (Prefect 3.8 has one console handler for all loggers; there is no per-flow-run level.)
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": os.environ.get("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL"),
        # Prefect's background services (events, logs) report each call they could not make on a handler of
        # their own: while the API is away they would print a line per event. A run that stops says why, once.
        "PREFECT_LOGGING_HANDLERS_DEBUG_LEVEL": os.environ.get("PREFECT_LOGGING_HANDLERS_DEBUG_LEVEL", "CRITICAL"),
        # A failed call to the API is tried again 5 times, 2, 4, 8, 16 and 32 s apart (about a minute): a run
        # carries on through a restart of the server (5-15 s here), and stops a few minutes after it went away
        # for good (measured in tests/lab/test_contention.py).
        "PREFECT_CLIENT_MAX_RETRIES": os.environ.get("PREFECT_CLIENT_MAX_RETRIES", "5"),
        # Fail loudly instead of silently running on a throwaway server when the real one is not there.
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
    }


def auth_headers(auth_string: str | None = None) -> dict[str, str]:
    """Return the header Prefect's own client sends for a basic-auth string (default: ``$PREFECT_API_AUTH_STRING``).

    ``auth_headers("admin:s3cret") == {"Authorization": "Basic YWRtaW46czNjcmV0"}``; ``{}`` when there is no string.
    """
    given = os.environ.get(_AUTH_VARIABLE) if auth_string is None else auth_string
    if not given:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(given.encode()).decode()}


def healthy(url: str, timeout: float = 2.0, *, auth_string: str | None = None) -> bool:
    """Return whether the Prefect API at ``url`` answers its health check.

    Prefect 3.8 answers ``GET /health`` without credentials even with basic auth on (measured in
    tests/lab/test_scale_out.py); the header goes along for servers, or proxies in front of them, that do not.
    """
    request = urllib.request.Request(f"{url.rstrip('/')}/health", headers=auth_headers(auth_string))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - our own URL
            return bool(answer.status == 200)  # noqa: PLR2004 - HTTP OK
    except (urllib.error.URLError, OSError, ValueError):
        return False


def check_access(url: str, *, auth_string: str | None = None, timeout: float = 10.0) -> None:
    """Return quietly when the Prefect API at ``url`` lets this machine in; raise PrefectAccessRefused on a 401.

    Asks ``GET /admin/version``, which needs the credentials when the server has them (the health check does not,
    so a healthy server may still refuse every other call). Any other failure is left to the caller's next call
    to report: an API that does not answer is ``healthy``'s to say.
    """
    sent = bool(auth_headers(auth_string))
    request = urllib.request.Request(f"{url.rstrip('/')}/admin/version", headers=auth_headers(auth_string))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 - our own URL
            return
    except urllib.error.HTTPError as answer:
        answer.close()
        if answer.code != _UNAUTHORIZED:
            return
    except (urllib.error.URLError, OSError, ValueError):
        return
    if sent:
        raise PrefectAccessRefused(
            f"the Prefect API at {url} refused this machine's {_AUTH_VARIABLE} (401 Unauthorized)",
            fix=f"set {_AUTH_VARIABLE} to the 'user:password' the server runs with (its "
            "PREFECT_SERVER_API_AUTH_STRING)",
        )
    raise PrefectAccessRefused(
        f"the Prefect API at {url} asks for a password (its server runs with PREFECT_SERVER_API_AUTH_STRING) and "
        f"{_AUTH_VARIABLE} is not set here",
        fix=f"export {_AUTH_VARIABLE}='user:password' (the server's PREFECT_SERVER_API_AUTH_STRING), kept in a file "
        "only you can read (docs/scale-out.md, 'Basic auth')",
    )


def ensure_server(settings: Settings) -> str:
    """Return a healthy API URL, starting the local server if no other API is configured.

    Raises ExecutionError when a configured ``$PREFECT_API_URL`` does not answer or the local server cannot start,
    PrefectAccessRefused when the API answers but refuses this machine's ``PREFECT_API_AUTH_STRING`` (or its lack).
    """
    url = api_url(settings)
    if healthy(url):
        check_access(url)
        return url
    if os.environ.get("PREFECT_API_URL"):
        raise ExecutionError(
            f"the Prefect API at {url} does not answer",
            fix="start that server, or unset PREFECT_API_URL to let itpm run its own local one",
        )
    home = settings.prefect_home
    # The server's database holds the key that encrypts Secret blocks, beside the blocks: for its owner only.
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home.chmod(0o700)
    env = {**os.environ, **client_environment(settings), "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)  # the server itself must not try to reach an API
    # The UI in the browser calls the API at this address; left alone it is always port 4200, whatever --port says.
    env["PREFECT_SERVER_UI_API_URL"] = url
    pid_file = home / "server.pid"
    command = ["server", "start", "--host", "127.0.0.1", "--port", str(settings.prefect_port)]
    _start_detached(command, pid_file, home / "server.log", env)
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if healthy(url):
            check_access(url)  # PREFECT_SERVER_API_AUTH_STRING here, and no PREFECT_API_AUTH_STRING to match
            return url
        if pid_file.exists() and not _alive(pid_file):
            break
        time.sleep(0.5)
    tail = "\n  ".join((home / "server.log").read_text(errors="replace").splitlines()[-10:])
    raise ExecutionError(
        f"the local Prefect server did not become healthy at {url}:\n  {tail}",
        fix=f"read {home / 'server.log'}; is port {settings.prefect_port} taken? (ITPM_PREFECT_PORT changes it)",
    )


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().strip() or 0), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


def stop_server(settings: Settings) -> bool:
    """Stop the local worker and server itpm started; return whether the server was running."""
    # A Prefect worker takes its first SIGTERM as "finish what runs" and needs a second one to stop polling.
    _stop_detached(settings.prefect_home / "worker.pid", terms=2)
    return _stop_detached(settings.prefect_home / "server.pid")


def ensure_worker(settings: Settings, pool: str) -> Path:
    """Start a process worker of ``pool`` against the API runs report to, unless one itpm started runs; return its log.

    Runs started from a deployment (the UI, ``prefect deployment run``, ``itpm demo``) need a worker; this one
    stays up beside the local server, with this process's environment (``ITPM_*`` settings reach the flows it runs),
    until ``itpm server stop``. It asks for work every 2 s instead of Prefect's 10: a local server is cheap to ask.
    """
    home = settings.prefect_home
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    pid_file, log = home / "worker.pid", home / "worker.log"
    if pid_file.exists() and _alive(pid_file):
        return log
    env = {**os.environ, **client_environment(settings), "PREFECT_WORKER_QUERY_SECONDS": "2"}
    _start_detached(["worker", "start", "--pool", pool, "--name", f"itpm-local-{pool}"], pid_file, log, env)
    return log


def _start_detached(prefect_args: list[str], pid_file: Path, log_path: Path, env: dict[str, str]) -> None:
    """Start ``prefect <prefect_args>`` in a session of its own that outlives this process, its pid in ``pid_file``.

    The shell writes its own pid, then becomes the program (exec), which leads its own session for
    ``_stop_detached``. umask 077: the files it makes (the server's database holds the Secret blocks' key) are
    its owner's alone.
    """
    prefect_command = [executable("prefect"), *prefect_args]
    pid_file.unlink(missing_ok=True)
    with log_path.open("ab") as log:
        subprocess.run(
            ["setsid", "--fork", "sh", "-c", 'umask 077; echo $$ > "$0"; exec "$@"', str(pid_file), *prefect_command],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )


def _stop_detached(pid_file: Path, terms: int = 1) -> bool:
    """End the session a detached program leads (``terms`` SIGTERMs, then SIGKILL); return whether it was running."""
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink()
    try:
        for _ in range(terms):
            os.killpg(pid, signal.SIGTERM)
            time.sleep(0.2)
    except ProcessLookupError:
        return False
    for _ in range(100):  # uvicorn drains in a few seconds; then make sure
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.killpg(pid, signal.SIGKILL)
    return True
