"""What pytest's traceback formatting costs a verification with many failing checks, ``--tb=auto`` beside ``line``.

The first audit of fresh hosts fails most checks (every control of a standard not yet applied). itpm takes each
check's outcome and message from its plugin (``itpm.verification.pytest_plugin``: the assertion's own text), not
from pytest's report, so the long traceback pytest builds for every failure by default is work nobody reads. This
runs the same synthetic checks (``--failures`` failing tests, the assertion a few calls deep with a message, as a
check helper asserts) with both styles, alternating ``--repeat`` times so that a change of load hits both, and
prints the median wall time of each and the ratio line/auto (below 1: the style itpm now uses is faster). Nothing
is started on any host; it asserts nothing::

    .venv/bin/python bench/failure_formatting.py
    .venv/bin/python bench/failure_formatting.py --failures 1500 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHECKS = """
import pytest

def _read(host, path):
    return {"path": path, "mode": "0644", "owner": host}

def _expect(host, path, mode):
    found = _read(host, path)
    assert found["mode"] == mode, f"{path} on {host} has mode {found['mode']}, the standard wants {mode}"

def _control(host, control):
    _expect(host, f"/etc/{control}.conf", "0600")

@pytest.mark.parametrize("host", [f"h{i}" for i in range(HOSTS)])
@pytest.mark.parametrize("control", [f"C-{i:02d}" for i in range(CONTROLS)])
def test_control(host, control):
    _control(host, control)
"""


def _run(directory: Path, style: str) -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", f"--tb={style}", "."],
        cwd=directory,
        capture_output=True,
        check=False,
    )
    return time.monotonic() - started


def main() -> None:
    """Print the median time of each style and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=600, help="failing checks (hosts x controls)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    hosts = max(1, args.failures // 30)
    with tempfile.TemporaryDirectory(prefix="itpm-bench-tb-") as tmp:
        directory = Path(tmp)
        checks = _CHECKS.replace("HOSTS", str(hosts)).replace("CONTROLS", "30")
        (directory / "test_controls.py").write_text(checks)
        times: dict[str, list[float]] = {"auto": [], "line": []}
        for _ in range(args.repeat):
            for style, taken in times.items():
                taken.append(_run(directory, style))
    auto, line = (statistics.median(times[style]) for style in ("auto", "line"))
    print(f"{hosts * 30} failing checks, median of {args.repeat}:")
    print(f"  --tb=auto (pytest's default)  {auto:6.2f} s")
    print(f"  --tb=line (itpm verify)       {line:6.2f} s")
    print(f"  ratio line/auto               {line / auto:6.2f}")


if __name__ == "__main__":
    main()
