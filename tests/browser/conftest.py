"""A private JupyterLab server and headless Chromium for the real-browser tests.

- ``jupyterlab``: JupyterLab on 127.0.0.1 (a free port, a random token) serving a temporary copy
  of ``notebooks/``. Its config, settings, workspaces and runtime directories are temporary too,
  so the learner's own Jupyter settings are neither used nor changed; the announcements
  extension is disabled there (no news dialog over the notebook) and notebooks render every cell
  (``windowingMode: none``), so off-screen cells stay in the page. The server inherits this test
  session's environment (the root conftest's private embedded backend), so its kernels reach
  the same servers.
- ``chromium``: Debian's Chromium driven by Playwright. It resolves no host name and uses no
  proxy; every request the pages make is recorded, and a test fails if one leaves 127.0.0.1.
- ``lesson``: opens a notebook of that copy on a fresh backend; afterwards it closes the page
  and shuts the notebook's kernel down.

Missing Chromium or Playwright skips these tests with the command that installs them; under
CI (``CI`` set) it fails instead, as CI installs both.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Only 127.0.0.1: no proxy, and no host name resolves.
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1600, "height": 1000}
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCREENSHOTS = HERE / "screenshots"
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
DISABLED_EXTENSIONS = {
    "@jupyterlab/apputils-extension:announcements": True,
    "@jupyterlab/extensionmanager-extension": True,
}
SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 15.0
PAGE_TIMEOUT_MS = 30_000
LOCAL = "127.0.0.1"
# Talk to the local server directly, whatever proxy the environment names.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"needs Chromium at {CHROMIUM}: apt-get install -y chromium"
    if importlib.util.find_spec("playwright") is None:
        return "needs Playwright for Python: pip install playwright (never `playwright install`)"
    return None


@pytest.fixture(scope="session")
def browser_tools() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"browser tests must run under CI but this machine {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return s.getsockname()[1]


class JupyterLab:
    """A running JupyterLab server: its address, token, notebook folder and REST API."""

    def __init__(self, root: Path, workdir: Path) -> None:
        self.root = root
        self.workdir = workdir
        self.token = secrets.token_hex(24)
        self.port = _free_port()
        self.url = f"http://{LOCAL}:{self.port}"
        self.log = workdir / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    def api(self, method: str, path: str, timeout: float = 10.0):
        request = urllib.request.Request(
            f"{self.url}/api/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with _opener.open(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self) -> None:
        config = self.workdir / "config"
        (config / "labconfig").mkdir(parents=True)
        (config / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": DISABLED_EXTENSIONS}))
        settings = self.workdir / "lab-settings" / "@jupyterlab" / "notebook-extension"
        settings.mkdir(parents=True)
        (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTERLAB_SETTINGS_DIR": str(self.workdir / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.workdir / "lab-workspaces"),
            "JUPYTER_RUNTIME_DIR": str(self.workdir / "runtime"),
            "NO_PROXY": LOCAL,
            "no_proxy": LOCAL,
        }
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--ip={LOCAL}",
            f"--port={self.port}",
            f"--ServerApp.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.port_retries=0",
            "--LabApp.expose_app_in_browser=True",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                self.api("GET", "status", timeout=2)
                return
            time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def shutdown_kernels(self) -> None:
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            for kernel in self.api("GET", "kernels"):
                with contextlib.suppress(OSError, urllib.error.URLError):
                    self.api("DELETE", f"kernels/{kernel['id']}", timeout=15)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.shutdown_kernels()
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


@pytest.fixture(scope="session")
def jupyterlab(browser_tools, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("jupyterlab")
    root = workdir / "notebooks"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    lab = JupyterLab(root, workdir)
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()


def _chromium_pids() -> set[int]:
    """Chromium processes under this test process (the ones Playwright started for us)."""
    import psutil

    pids = set()
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "chrom" in child.name():
                pids.add(child.pid)
    return pids


def _kill_leftovers(pids: set[int], timeout: float = 10.0) -> None:
    import psutil

    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(pid))
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)


class Chromium:
    """A headless Chromium context; ``offsite`` lists every request that left 127.0.0.1."""

    def __init__(self, context) -> None:
        self.context = context
        self.offsite: list[str] = []
        context.on("request", self._record)

    def _record(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != LOCAL:
            self.offsite.append(request.url)


@pytest.fixture(scope="session")
def chromium(browser_tools, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    pids: set[int] = set()
    try:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            timeout=60_000,
        )
        pids = _chromium_pids()
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        browser = Chromium(context)
        yield browser
        context.close()
    finally:
        playwright.stop()
        _kill_leftovers(pids)


class Lesson:
    """One notebook of the server's copy, open in JupyterLab."""

    def __init__(self, page, lab: JupyterLab, name: str) -> None:
        self.page = page
        self.lab = lab
        self.name = name
        self.rest_from: int | None = None

    def open(self) -> None:
        from playwright.sync_api import expect

        self.page.goto(f"{self.lab.url}/lab/tree/{self.name}?token={self.lab.token}&reset", timeout=60_000)
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=60_000)
        self.page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); }")
        expect(self.page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible(timeout=60_000)
        # The kernel status in the status bar, as a learner sees it.
        expect(self.page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=60_000)
        expect(self.page.locator(".jp-Dialog")).to_have_count(0)

    def run_all(self) -> None:
        """Run → Run All Cells (returns at once; the cells run in the kernel)."""
        self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    def run_through(self, source: str) -> None:
        """Run every cell above the first cell containing ``source``, then that cell (Run → Run All Above)."""
        index = self.page.evaluate(
            """text => {
                const notebook = window.jupyterapp.shell.currentWidget.content;
                const cells = notebook.model.cells;
                for (let i = 0; i < cells.length; i++) {
                    if (cells.get(i).sharedModel.getSource().includes(text)) {
                        notebook.activeCellIndex = i;
                        window.jupyterapp.commands.execute('notebook:run-all-above');
                        window.jupyterapp.commands.execute('notebook:run-cell');
                        return i;
                    }
                }
                return -1;
            }""",
            source,
        )
        assert index >= 0, f"no cell of {self.name} contains {source!r}"
        self.rest_from = index + 1

    def run_rest(self) -> None:
        """Run the cells after those ``run_through`` ran (Run → Run Selected Cell and All Below)."""
        assert self.rest_from is not None, "run_through first"
        self.page.evaluate(
            """index => {
                window.jupyterapp.shell.currentWidget.content.activeCellIndex = index;
                window.jupyterapp.commands.execute('notebook:run-all-below');
            }""",
            self.rest_from,
        )

    def wait_until_done(self, timeout_s: float) -> None:
        """Wait until every code cell has run and the kernel is idle, or a cell has failed."""
        self.page.wait_for_function(
            """() => {
                const panel = window.jupyterapp.shell.currentWidget;
                const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
                let done = true;
                const cells = panel.content.model.cells;
                for (let i = 0; i < cells.length; i++) {
                    const cell = cells.get(i);
                    if (cell.type !== 'code') continue;
                    if (cell.outputs.toJSON().some(out => out.output_type === 'error')) return true;
                    if (cell.executionCount === null) done = false;
                }
                return done && kernel && kernel.status === 'idle';
            }""",
            timeout=timeout_s * 1000,
            polling=500,
        )

    def output_of(self, source: str):
        """The output area of the code cell whose source contains ``source``."""
        cell = self.page.locator(".jp-CodeCell").filter(has=self.page.locator(".jp-InputArea", has_text=source))
        return cell.locator(".jp-OutputArea")

    def errors(self) -> list[str]:
        """Error outputs in the notebook so far, as 'Name: value' lines."""
        return self.page.evaluate(
            """() => {
                const found = [];
                const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
                for (let i = 0; i < cells.length; i++) {
                    const cell = cells.get(i);
                    if (cell.type !== 'code') continue;
                    for (const out of cell.outputs.toJSON()) {
                        if (out.output_type === 'error') found.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
                    }
                }
                return found;
            }"""
        )

    def diagnose(self) -> str:
        """What to print when a wait failed: errors in cells, and the server log's tail."""
        try:
            errors = self.errors()
        except Exception as err:
            errors = [f"(could not read the notebook: {err})"]
        return f"errors in cells: {errors or 'none'}\nJupyterLab log:\n{self.lab.log_tail(15)}"

    def screenshot(self, widget, stem: str, docs_name: str) -> Path:
        """The page with the widget in view (tests/browser/screenshots/<stem>.png) and the widget alone.

        The widget alone goes to tests/browser/screenshots/<stem>-widget.png, and also to
        docs/screenshots/<docs_name> when LABKIT_UPDATE_DOCS_SCREENSHOTS=1 (those are committed).
        """
        SCREENSHOTS.mkdir(exist_ok=True)
        widget.scroll_into_view_if_needed()
        page_png = SCREENSHOTS / f"{stem}.png"
        self.page.screenshot(path=page_png)
        crop = SCREENSHOTS / f"{stem}-widget.png"
        widget.screenshot(path=crop)
        if os.environ.get("LABKIT_UPDATE_DOCS_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(crop, DOCS_SCREENSHOTS / docs_name)
        return page_png


@pytest.fixture
def lesson(jupyterlab, chromium):
    """``lesson(name)`` opens notebooks/<name> (the server's copy) on a wiped backend."""
    pages = []

    def open_lesson(name: str) -> Lesson:
        if os.environ.get("LABKIT_BACKEND", "embedded") in ("", "embedded"):
            from labkit.backends import embedded

            _, started = embedded.ensure_running()
            if not started:
                embedded.reset()
        page = chromium.context.new_page()
        pages.append(page)
        opened = Lesson(page, jupyterlab, name)
        opened.open()
        return opened

    yield open_lesson
    for page in pages:
        with contextlib.suppress(Exception):
            page.close()
    jupyterlab.shutdown_kernels()
    assert not chromium.offsite, f"the browser requested addresses other than {LOCAL}: {chromium.offsite[:5]}"
