"""Session-wide test settings: Prefect gets its own home and stays quiet and offline."""

from __future__ import annotations

import os
import tempfile

# Set before anything imports prefect: importing it creates $PREFECT_HOME, and every test session gets its own
# (../shared/PREFECT-NOTES.md). Telemetry would try the network, which this machine does not reach.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="itpm-test-prefect-"))
if "PYTEST_XDIST_WORKER" in os.environ:  # a worker inherits its controller's home: each gets one of its own
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix=f"itpm-test-prefect-{os.environ['PYTEST_XDIST_WORKER']}-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")

# A private PostgreSQL and the project log URL of each backend (postgres, postgres_url, log_url).
pytest_plugins = ["tests.postgres", "tests.reliability"]
