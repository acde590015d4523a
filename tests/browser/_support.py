"""A private JupyterLab server and Debian's Chromium (driven by Playwright) for the real-browser tests."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright never downloads a browser here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_S = 60  # bound on every single wait (server start, kernel idle, execution, a locator)


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path  # the server's root dir: put notebooks here

    def lab_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"  # ?reset: no restored tabs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str, token: str) -> bool:
    request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def running_lab(workdir: Path) -> Iterator[Lab]:
    """JupyterLab from this venv on 127.0.0.1, offline and with its own config/data/runtime dirs (so only this
    venv's `python3` kernelspec is found), as its own process group; stopped (killpg) on exit."""
    root, home = workdir / "root", workdir / "jupyter-home"
    root.mkdir(parents=True)
    notification = home / "config/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))  # no news toast
    port, token = _free_port(), secrets.token_hex(16)
    # The browser plays the person: no headless approval policy (CI, KAIZEN_APPROVAL_POLICY) in the kernels.
    env = {k: v for k, v in os.environ.items() if k not in {"JUPYTER_PATH", "CI", "KAIZEN_APPROVAL_POLICY"}}
    env |= {
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        f"--IdentityProvider.token={token}",
        "--ServerApp.ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--KernelSpecManager.ensure_native_kernel=True",
    ]
    log_path = workdir / "jupyterlab.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + WAIT_S
            while not _answers(url, token):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.2)
            yield Lab(url, token, root)
        finally:
            _stop(server)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets the server shut its kernels down (they run in their own sessions); SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
            server.wait(timeout=15)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def chromium_page(profile_dir: Path) -> Iterator[Page]:
    """A page in headless Debian Chromium with a fresh profile."""
    expect.set_options(timeout=WAIT_S * 1000)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile_dir,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 1200},
        )
        try:
            context.set_default_timeout(WAIT_S * 1000)
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
