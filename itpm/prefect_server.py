"""The Prefect API itpm reports to: ``$PREFECT_API_URL`` if set, else a local server it starts and keeps.

An approval is answered from another process (``itpm approve``, the UI), so a run needs a server that outlives
the process that started it: Prefect's temporary per-process server would not do (../shared/PREFECT-NOTES.md).
The default is the embedded one, Prefect's own server on SQLite in ``<state>/prefect``, bound to 127.0.0.1.
Runs started from a deployment need a process worker: ``ensure_worker`` keeps one beside the local server. This
module starts both as commands and never imports Prefect.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from itpm.errors import ExecutionError
from itpm.executables import executable
from itpm.settings import Settings

__all__ = ["api_url", "client_environment", "ensure_server", "ensure_worker", "healthy", "stop_server"]

_STARTUP_SECONDS = 120.0


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


def healthy(url: str, timeout: float = 2.0) -> bool:
    """Return whether the Prefect API at ``url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout) as answer:  # noqa: S310 - our own URL
            return bool(answer.status == 200)  # noqa: PLR2004 - HTTP OK
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ensure_server(settings: Settings) -> str:
    """Return a healthy API URL, starting the local server if no other API is configured.

    Raises ExecutionError when a configured ``$PREFECT_API_URL`` does not answer or the local server cannot start.
    """
    url = api_url(settings)
    if healthy(url):
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
