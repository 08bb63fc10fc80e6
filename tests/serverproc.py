"""A real `sigma serve` in a subprocess on a loopback port, for the agent and probe tests
(issue 5): started by the test, stopped by the test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ADMIN = ("admin@agent-tests.local", "agent-tests-pass-123")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    db_url: str
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    # more SIGMA_* settings for this server (SIGMA_REDIS_URL, SIGMA_API_KEY...), over the defaults
    extra_env: dict[str, str] = field(default_factory=dict)
    log_level: str = "warning"  # "info" writes uvicorn's access log to the server's log file

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.base + "/api"

    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SIGMA_", "AGENT_", "PROBE_"))
        }
        env.update(
            SIGMA_DATABASE_URL=self.db_url,
            SIGMA_DATA_DIR=str(self.workdir / "data"),
            SIGMA_CONFIG=str(self.workdir / "config.yaml"),
            SIGMA_JWT_SECRET="agent-tests-jwt-secret-0123456789abcdef",
            SIGMA_ADMIN_EMAIL=ADMIN[0],
            SIGMA_ADMIN_PASSWORD=ADMIN[1],
            SIGMA_RATE_LIMIT_REQUESTS="1000000",
            SIGMA_RATE_LIMIT_LOGIN="1000",
            SIGMA_JOBS_ENABLED="false",
        )
        env.update(self.extra_env)
        return env

    @property
    def log(self) -> Path:
        return self.workdir / f"serve-{self.port}.log"

    def start(self, timeout: float = 30) -> Server:
        with open(self.log, "ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sigma",
                    "serve",
                    "--port",
                    str(self.port),
                    "--log-level",
                    self.log_level,
                ],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sigma serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("sigma serve did not start in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    # ------------------------------------------------------------ admin helpers

    def admin(self):
        import httpx

        r = httpx.post(
            self.base + "/api/auth/login",
            json={"email": ADMIN[0], "password": ADMIN[1]},
            timeout=10,
        )
        r.raise_for_status()
        return httpx.Client(
            base_url=self.base, timeout=10, headers={"Authorization": f"Bearer {r.json()['token']}"}
        )

    def api_key(self, role: str = "agent") -> str:
        import uuid

        with self.admin() as c:
            email = f"{role}-{uuid.uuid4().hex[:6]}@agent-tests.local"
            c.post(
                "/api/users", json={"email": email, "password": "password-123", "role": role}
            ).raise_for_status()
            r = c.post("/api/auth/api-keys", params={"user": email}, json={"name": f"{role}-key"})
            r.raise_for_status()
            return r.json()["key"]


def start_server(tmp: Path, db_url: str | None = None) -> Server:
    tmp.mkdir(parents=True, exist_ok=True)
    return Server(db_url or f"sqlite:///{tmp / 'sigma.db'}", tmp).start()
