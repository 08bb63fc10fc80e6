"""Browser tests: Debian's chromium driven by playwright against a real `sigma serve`
subprocess on a free loopback port with a fresh SQLite database.

Each test gets a fresh browser context (optionally with a saved session) whose console
errors, page errors and failed requests make the test fail. Screenshots go to
test-artifacts/ (gitignored)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from serverproc import free_port

CHROMIUM = os.environ.get("SIGMA_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need(condition: bool, reason: str) -> None:
    if not condition:
        if IN_CI:
            pytest.fail(f"required for the browser tests under CI=true: {reason}")
        pytest.skip(reason)


@dataclass
class Server:
    url: str
    admin_email: str
    one_time_password: str
    proc: subprocess.Popen
    log: list[str] = field(default_factory=list)
    # shared between the journeys of the module (they run in file order)
    state: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("e2e-server")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGMA_")}
    env.update(
        SIGMA_DATA_DIR=str(tmp / "data"),
        SIGMA_CONFIG=str(tmp / "config.yaml"),
        SIGMA_DATABASE_URL=f"sqlite:///{tmp / 'sigma.db'}",
        SIGMA_JOBS_ENABLED="false",
        SIGMA_RATE_LIMIT_LOGIN="1000",
        SIGMA_RATE_LIMIT_REQUESTS="100000",
        PYTHONUNBUFFERED="1",
        NO_COLOR="1",
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sigma",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    log: list[str] = []
    threading.Thread(target=lambda: [log.append(line) for line in proc.stderr], daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail("sigma serve exited:\n" + "".join(log))
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("sigma serve did not start in 60 s:\n" + "".join(log))
        time.sleep(0.2)
    text = "".join(log)
    email = re.search(r"Created the first admin: (\S+)", text)
    password = re.search(r"One-time password[^:]*: (\S+)", text)
    assert email and password, text
    srv = Server(
        url=url, admin_email=email.group(1), one_time_password=password.group(1), proc=proc, log=log
    )
    yield srv
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def browser():
    _need(
        Path(CHROMIUM).exists() or bool(shutil.which("chromium")),
        f"chromium not installed at {CHROMIUM}",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "python package playwright not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watched:
    """A browser context + page whose console errors and failed requests are collected."""

    def __init__(
        self,
        browser,
        base_url: str,
        name: str,
        *,
        storage_state=None,
        javascript: bool = True,
        viewport: dict | None = None,
        color_scheme: str | None = None,
    ):
        self.name = name
        self.problems: list[str] = []
        self.context = browser.new_context(
            base_url=base_url,
            storage_state=storage_state,
            java_script_enabled=javascript,
            viewport=viewport or {"width": 1366, "height": 900},
            color_scheme=color_scheme,
        )
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("dialog", self._dialog)
        self.accept_dialogs = 0
        self.dialogs: list[str] = []

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.problems.append(f"console error: {msg.text} at {msg.location}")

    def _failed(self, request) -> None:
        if request.failure == "net::ERR_ABORTED" and request.resource_type not in (
            "document",
            "xhr",
            "fetch",
        ):
            return  # a sub-resource cancelled because the page navigated on: not a failure
        if request.failure == "net::ERR_ABORTED" and "/vps/options?" in request.url:
            return  # the VPS picker's suggestions, dropped when the form is submitted
        self.problems.append(f"failed request: {request.method} {request.url} {request.failure}")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        if self.accept_dialogs > 0:
            self.accept_dialogs -= 1
            dialog.accept()
        else:
            dialog.dismiss()

    def screenshot(self, suffix: str = "") -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"e2e-{self.name}{('-' + suffix) if suffix else ''}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_browser(browser, server, request):
    """open_browser(name, state=..., javascript=..., viewport=..., color_scheme=...) ->
    Watched; checked at teardown."""
    opened: list[Watched] = []

    def _open(name: str | None = None, **kw) -> Watched:
        w = Watched(browser, server.url, name or request.node.name.removeprefix("test_"), **kw)
        opened.append(w)
        return w

    yield _open
    problems = [p for w in opened for p in w.problems]
    for w in opened:
        w.close()
    assert not problems, (
        "browser problems:\n" + "\n".join(problems) + "\nserver log:\n" + "".join(server.log[-40:])
    )
