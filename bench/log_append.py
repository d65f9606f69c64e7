"""How fast the project log takes events, this checkout against another (before a change), side by side.

Run from the checkout, with the other itpm exported somewhere (``git archive`` of the commit to compare with)::

    git archive main | tar -x -C /tmp/itpm-before
    .venv/bin/python bench/log_append.py --before /tmp/itpm-before
    .venv/bin/python bench/log_append.py --before /tmp/itpm-before --postgres private  # a throwaway cluster
    .venv/bin/python bench/log_append.py --before /tmp/itpm-before --postgres postgresql+psycopg://u:p@host/postgres

Each variant (``before``, ``after``: this checkout) appends ``--count`` events of a realistic mix (the writer of
the log tests: a RunStarted, then applied hosts, costs and notes) to one run, in a child process whose
``PYTHONPATH`` is that checkout, on a fresh log of its own:

- ``sqlite shm``: SQLite in /dev/shm (memory: the cost of itpm's own work per event);
- ``sqlite disk``: SQLite in a temporary directory on disk (each commit synced: what a run pays);
- ``postgres``: a fresh database on the server of ``--postgres`` (a URL of a database to create others from,
  or ``private``: a cluster of the bench's own, as the tests start one, fsync off);
- ``... 4 writers``: the same count split over four threads appending to the one run at once, as a run's
  process, its notices thread and ``itpm note`` do.

Variants alternate (before, after, before, after, ...) ``--repeat`` times, so that a change of load hits both;
the median of each is printed with the ratio after/before (above 1: slower now). It asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_WRITERS = 4


def _child(url: str, count: int, writers: int) -> None:
    """Append ``count`` events to one run of the log at ``url`` with ``writers`` threads; print the seconds."""
    # Imported here: the parent imports no itpm (each child takes its own from PYTHONPATH).
    from itpm.log.store import ProjectLog  # noqa: PLC0415
    from tests.log_writer import run_started, sequence  # noqa: PLC0415

    with ProjectLog(url) as log:
        log.append(run_started("bench"))  # the log is opened and migrated before the clock starts
        share = count // writers

        def write(first: int) -> None:
            for index in range(first, first + share):
                log.append(sequence("bench", index))

        threads = [threading.Thread(target=write, args=(n * share,)) for n in range(writers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(f"{time.perf_counter() - started:.4f}")


def _measure(checkout: Path, url: str, count: int, writers: int) -> float:
    """Return the seconds a child with ``checkout``'s itpm takes to append ``count`` events to ``url``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout), str(REPO)])}
    done = subprocess.run(
        [sys.executable, __file__, "--child", url, str(count), str(writers)],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: the child failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def _sqlite(directory: Path | None, cleanup: contextlib.ExitStack) -> Callable[[], str]:
    def fresh() -> str:
        made = tempfile.mkdtemp(dir=directory, prefix="itpm-bench-log-")
        cleanup.callback(shutil.rmtree, made, ignore_errors=True)
        return f"sqlite:///{Path(made) / 'log.sqlite'}"

    return fresh


def _postgres(server: str, cleanup: contextlib.ExitStack) -> Callable[[], str]:
    import psycopg  # noqa: PLC0415 - only this backend needs it

    admin = server.replace("postgresql+psycopg://", "postgresql://")
    base = server.rsplit("/", 1)[0]

    def run(statement: str) -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(statement.encode())

    def fresh() -> str:
        name = f"itpm_bench_{uuid.uuid4().hex[:10]}"
        run(f"CREATE DATABASE {name}")
        cleanup.callback(run, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        return f"{base}/{name}"

    return fresh


def main() -> None:
    """Measure each backend's variants side by side; print a table of medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout (git archive) of the itpm to compare with")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="URL of a PostgreSQL database to create the bench's databases from")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        url, count, writers = arguments.child
        _child(url, int(count), int(writers))
        return
    if arguments.before is None:
        parser.error("--before is required")
    with contextlib.ExitStack() as cleanup:
        _compare(arguments.before.resolve(), arguments.count, arguments.repeat, _backends(arguments, cleanup))


def _backends(arguments: argparse.Namespace, cleanup: contextlib.ExitStack) -> dict[str, Callable[[], str]]:
    """Return each backend's maker of fresh log URLs (their files and databases go when ``cleanup`` closes)."""
    shm = Path("/dev/shm")  # noqa: S108 - a fresh directory of its own is made in it (mkdtemp)
    backends: dict[str, Callable[[], str]] = {}
    if shm.is_dir():
        backends["sqlite shm"] = _sqlite(shm, cleanup)
    backends["sqlite disk"] = _sqlite(None, cleanup)  # the temporary directory, on disk unless TMPDIR says else
    if arguments.postgres == "private":
        backends["postgres"] = _postgres(_private_cluster(cleanup), cleanup)
    elif arguments.postgres:
        backends["postgres"] = _postgres(arguments.postgres, cleanup)
    return backends


def _private_cluster(cleanup: contextlib.ExitStack) -> str:
    """Start a PostgreSQL cluster of the bench's own (the tests' kind); return its maintenance database's URL."""
    sys.path.insert(0, str(REPO))
    from tests.postgres import PostgresCluster, find_bindir  # noqa: PLC0415 - the tests' cluster, on demand

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL server programs (initdb, pg_ctl) are not installed")
    cluster = PostgresCluster(bindir, Path(tempfile.mkdtemp(prefix="itpm-bench-pg-")), secrets.token_hex(16))
    cleanup.callback(shutil.rmtree, cluster.directory, ignore_errors=True)
    cleanup.callback(cluster.stop)
    cluster.start()
    return cluster.url("postgres")


def _compare(before_checkout: Path, count: int, repeat: int, backends: dict[str, Callable[[], str]]) -> None:
    variants = {"before": before_checkout, "after": REPO}
    print(f"{count} appends to one run, median of {repeat}; seconds, ratio after/before")
    print(f"{'backend':<24} {'before':>8} {'after':>8} {'ratio':>6}  per event (after)")
    for backend, fresh in backends.items():
        for writers in (1, _WRITERS):
            times: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(repeat):
                for name, checkout in variants.items():
                    times[name].append(_measure(checkout, fresh(), count, writers))
            before, after = (statistics.median(times[name]) for name in variants)
            label = backend + (f", {writers} writers" if writers > 1 else "")
            per_event = 1000 * after / count
            print(f"{label:<24} {before:8.2f} {after:8.2f} {after / before:6.2f}  {per_event:.2f} ms", flush=True)


if __name__ == "__main__":
    main()
