"""Headless Chromium for tests: a screenshot of a page, or its DOM once loaded (scripts run, layout done).

Debian's ``chromium`` package, which ``make setup`` installs (APT_PACKAGES in the Makefile); a test that needs it
fails, never skips, when it is missing. Each call starts a fresh browser with a throwaway profile, a fixed window
and a time limit; a browser past its limit is killed with its whole process group, so that no renderer outlives
the test. Chromium's stderr is noise on a machine without D-Bus or a GPU: it only explains a failure, which is
judged by the exit code and the output.

>>> screenshot(page.as_uri(), tmp_path / "page.png", size=(1280, 2000))  # doctest: +SKIP
PosixPath('/tmp/.../page.png')
>>> "<svg" in dump_dom(page.as_uri())  # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

__all__ = ["WINDOW", "BrowserError", "capture", "chromium", "dump_dom", "screenshot"]

WINDOW = (1280, 900)
TIMEOUT_S = 60.0

_FLAGS = (
    "--headless",
    "--disable-gpu",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",  # one CSS pixel per image pixel: the screenshot is the window's size
    "--run-all-compositor-stages-before-draw",  # the screenshot shows the page drawn, not half of it
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-sync",
    "--disable-background-networking",  # tests must not reach out (and this machine may not)
    "--disable-component-update",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB; renderers then crash on big pages
    "--mute-audio",
)


class BrowserError(AssertionError):
    """Chromium failed or hung; the message has its exit code and the last lines it printed."""


def chromium() -> str:
    """Return the path of the chromium program, or fail the test saying how to install it."""
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is not installed: `make setup` installs it (APT_PACKAGES in the Makefile)", pytrace=False)
    return found


def screenshot(
    url: str, path: Path, *, size: tuple[int, int] = WINDOW, timeout: float = TIMEOUT_S, wait_ms: int = 0
) -> Path:
    """Save a PNG of the top ``size`` (width, height) of the page at ``url`` to ``path``; return ``path``.

    ``wait_ms`` gives a page's scripts that much virtual time before the picture (a single-page app's data).
    """
    _run([f"--screenshot={_fresh(path)}"], url, size=size, timeout=timeout, wait_ms=wait_ms)
    return _picture(path, url)


def dump_dom(url: str, *, size: tuple[int, int] = WINDOW, timeout: float = TIMEOUT_S, wait_ms: int = 0) -> str:
    """Return the DOM of the page at ``url`` serialized as HTML, after loading (and ``wait_ms`` of its scripts)."""
    return _dom(_run(["--dump-dom"], url, size=size, timeout=timeout, wait_ms=wait_ms), url)


def capture(
    url: str, path: Path, *, size: tuple[int, int] = WINDOW, timeout: float = TIMEOUT_S, wait_ms: int = 0
) -> str:
    """Save a PNG of the page at ``url`` to ``path`` and return its DOM, both from one load of the page.

    One load, so that the picture shows what the DOM says (a single-page app may render other data on a reload),
    at the cost of one browser start instead of two.
    """
    out = _run([f"--screenshot={_fresh(path)}", "--dump-dom"], url, size=size, timeout=timeout, wait_ms=wait_ms)
    _picture(path, url)
    return _dom(out, url)


def _fresh(path: Path) -> Path:
    """Return ``path`` with its directory made and any old picture removed, so that it cannot pass for a new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


def _picture(path: Path, url: str) -> Path:
    if not path.is_file() or path.stat().st_size == 0:
        raise BrowserError(f"chromium exited 0 but wrote no screenshot of {url} to {path}")
    return path


def _dom(out: bytes, url: str) -> str:
    dom = out.decode("utf-8", "replace")
    if "<html" not in dom:
        raise BrowserError(f"chromium printed no DOM for {url}: {dom[:200]!r}")
    return dom


def _run(args: list[str], url: str, *, size: tuple[int, int], timeout: float, wait_ms: int) -> bytes:
    """Run chromium on ``url`` with ``args``; return its stdout, or raise BrowserError on a failure or a hang."""
    with tempfile.TemporaryDirectory(prefix="itpm-chromium-", ignore_cleanup_errors=True) as profile:
        argv = [chromium(), *_FLAGS, f"--window-size={size[0]},{size[1]}", f"--user-data-dir={profile}"]
        if os.geteuid() == 0:
            argv.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        if wait_ms:
            argv.append(f"--virtual-time-budget={wait_ms}")
        argv += [*args, url]
        # Its own session and process group: the renderer, GPU and zygote processes can be killed together.
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True) as proc:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                # The browser, the group's leader, is alive and unreaped: the group id is still ours to kill.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()  # reap it and close its pipes
                raise BrowserError(f"chromium did not finish {url} within {timeout:g} s; killed it") from None
    if proc.returncode != 0:
        tail = "\n".join(err.decode("utf-8", "replace").splitlines()[-15:])
        raise BrowserError(f"chromium exited {proc.returncode} on {url}:\n{tail}")
    return out
