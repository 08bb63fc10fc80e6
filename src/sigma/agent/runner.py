"""The agent's lifecycle.

1. Resolve the hostname; start the metrics server (unless metrics_port is 0) and, when
   enabled, the port-scan loop (first scan at once, then every port_scan_interval).
2. Register (`POST {api}/agent/register`), retried with exponential backoff and jitter until
   it succeeds. A VPS the server reports retired (409) is not revived: the refusal is logged
   and registration is retried slowly (max(backoff_max, 10 x interval)).
3. Every `interval`: heartbeat (`POST {api}/agent/heartbeat`) with system_info and the
   addresses it sees (the server records a changed set in the VPS's timeline). A 404 (the
   VPS was deleted or renamed) or 409 makes the agent register again; other failures are
   logged and counted, and the next heartbeat comes at the next interval.
SIGTERM / SIGINT stop everything within a second. No state grows with time.
"""

from __future__ import annotations

import logging
import random
import signal
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from sigma.agent import ports, system
from sigma.agent.config import AgentConfig
from sigma.agent.metrics import AgentCollector, Health, make_registry, serve

log = logging.getLogger("sigma.agent")
USER_AGENT = "sigma-agent"
# seconds between two asks of the what-is-my-IP services when no interface has a public address
PUBLIC_IP_REFRESH = 3600.0


def ssl_context(url: str) -> ssl.SSLContext:
    """Plain http needs no CA bundle in memory; https uses the system store, whose hashed
    directory OpenSSL reads one certificate at a time (certifi as a fallback)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not url.startswith("https://"):
        return ctx
    capath = Path("/etc/ssl/certs")
    if capath.is_dir() and any(capath.glob("*.0")):
        ctx.load_verify_locations(capath=str(capath))
    else:
        import certifi

        ctx.load_verify_locations(cafile=certifi.where())
    return ctx


def make_client(cfg: AgentConfig) -> httpx.Client:
    headers = {"User-Agent": USER_AGENT}
    if cfg.api_key:
        headers["X-Api-Key"] = cfg.api_key
    return httpx.Client(
        base_url=cfg.api_url,
        headers=headers,
        timeout=cfg.timeout,
        verify=ssl_context(cfg.api_url),
        limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
    )


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"API error ({status}): {message}")
        self.status = status


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: uniform in [d/2, d], d = min(cap, base * 2^attempt)."""
    d = min(cap, base * (2 ** min(attempt, 30)))
    return random.uniform(d / 2, d)


class Agent:
    def __init__(
        self,
        cfg: AgentConfig,
        stop: threading.Event | None = None,
        client: httpx.Client | None = None,
    ):
        self.cfg = cfg
        self.stop = stop or threading.Event()
        self.hostname = cfg.hostname or system.detect_hostname()
        self.health = Health()
        self.collector = AgentCollector(self.hostname, health=self.health)
        self.registry = make_registry(self.collector)
        self.client = client or make_client(cfg)
        self.vps_id: str | None = None
        self._public: tuple[str | None, float] | None = None  # (address, when asked)
        self._attempt = 0
        self._metrics: Any = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ one step each

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            r = self.client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"{type(exc).__name__}: {exc}") from None
        if r.status_code >= 400:
            try:
                detail = r.json().get("error") or r.text
            except (ValueError, AttributeError):
                detail = r.text
            raise ApiError(r.status_code, str(detail).strip()[:300])
        try:
            data = r.json()
        except ValueError:
            raise ApiError(r.status_code, "the answer is not JSON") from None
        return data if isinstance(data, dict) else {}

    def register_once(self) -> str:
        """'ok', 'retired' or 'error'."""
        body: dict[str, Any] = {
            "hostname": self.hostname,
            "ip_addresses": system.discover_ips(self.client, self.cfg.public_ip_urls),
            "ssh_port": self.cfg.ssh_port,
            "system_info": system.system_info(),
        }
        if self.cfg.alias:
            body["alias"] = self.cfg.alias
        try:
            vps = self._post("/agent/register", body)
        except ApiError as exc:
            self._failed()
            if exc.status == 409:
                log.error("registration refused: %s", exc)
                return "retired"
            log.warning("registration failed: %s", exc)
            return "error"
        self.vps_id = str(vps.get("id") or "") or None
        self.health.registered = True
        self.health.consecutive_failures = 0
        self._attempt = 0
        log.info("registered as %s (VPS %s)", self.hostname, self.vps_id)
        return "ok"

    def current_ips(self) -> list[dict[str, str]] | None:
        """The addresses a heartbeat reports: the interfaces' now, and, when none of them is
        public, the address the what-is-my-IP services gave (asked again at most every
        PUBLIC_IP_REFRESH seconds, the last answer kept when they fail). None when unknown
        (the server then keeps what it has)."""
        try:
            ips = system.local_ips()
        except Exception as exc:  # noqa: BLE001 - unreadable interfaces: report nothing
            log.debug("interfaces unreadable: %s", type(exc).__name__)
            return None
        if any(e["label"] != "internal" for e in ips) or not self.cfg.public_ip_urls:
            return ips
        now = time.monotonic()
        if self._public is None or now - self._public[1] >= PUBLIC_IP_REFRESH:
            found = system.public_ip(self.client, self.cfg.public_ip_urls)
            known = self._public[0] if self._public else None
            self._public = (found or known, now)
        public = self._public[0]
        if public is None:
            return None
        if public not in {e["ip"] for e in ips}:
            ips = sorted([*ips, {"ip": public, "label": ""}], key=lambda e: e["ip"])
        return ips

    def heartbeat_once(self) -> str:
        """'ok', 'gone' (404: register again), 'retired' (409) or 'error'."""
        body: dict[str, Any] = {"hostname": self.hostname, "system_info": system.system_info()}
        ips = self.current_ips()
        if ips is not None:
            body["ip_addresses"] = ips
        counters = system.traffic_counters()
        if counters is not None:  # the interface byte counters: traffic per billing period
            body["traffic"] = counters
        try:
            self._post("/agent/heartbeat", body)
        except ApiError as exc:
            self._failed()
            self.health.heartbeats_failed += 1
            if exc.status in (404, 409):
                log.warning("heartbeat: %s; registering again", exc)
                self.health.registered = False
                return "gone" if exc.status == 404 else "retired"
            log.warning("heartbeat failed (%d in a row): %s", self.health.consecutive_failures, exc)
            return "error"
        self.health.heartbeats_ok += 1
        self.health.consecutive_failures = 0
        self.health.last_heartbeat = time.time()
        return "ok"

    def scan_once(self) -> ports.PortScan:
        start, end = self.cfg.port_scan_range
        try:
            result = ports.scan(start, end)
        except Exception as exc:  # noqa: BLE001 - a failed scan keeps the previous result
            log.warning("port scan failed: %s: %s", type(exc).__name__, exc)
            return self.collector.scan
        self.collector.scan = result
        log.debug(
            "port scan %d-%d: %d used, %d free, %.3fs",
            start,
            end,
            result.total_ports - result.available,
            result.available,
            result.scan_duration,
        )
        return result

    def _failed(self) -> None:
        self.health.consecutive_failures += 1

    # ------------------------------------------------------------ loops

    def main_loop(self) -> None:
        """Register (with backoff), then heartbeat every interval, until stopped."""
        cfg = self.cfg
        while not self.stop.is_set():
            if not self.health.registered:
                outcome = self.register_once()
                if outcome == "ok":
                    continue
                if outcome == "retired":
                    delay = max(cfg.backoff_max, 10 * cfg.interval) * random.uniform(0.9, 1.1)
                else:
                    delay = backoff_delay(self._attempt, min(1.0, cfg.interval), cfg.backoff_max)
                    self._attempt += 1
                log.info("next registration attempt in %.1fs", delay)
                self.stop.wait(delay)
                continue
            if self.stop.wait(cfg.interval):
                break
            self.heartbeat_once()

    def scan_loop(self) -> None:
        while not self.stop.is_set():
            self.scan_once()
            self.stop.wait(self.cfg.port_scan_interval)

    def start(self) -> None:
        """Start the metrics server and the loops in daemon threads."""
        if self.cfg.metrics_port:
            self._metrics = serve(self.registry, self.cfg.metrics_addr, self.cfg.metrics_port)
            log.info(
                "metrics on http://%s:%d/metrics", self.cfg.metrics_addr, self.cfg.metrics_port
            )
        loops = [self.main_loop] + ([self.scan_loop] if self.cfg.port_scan else [])
        for fn in loops:
            t = threading.Thread(
                target=self._guarded, args=(fn,), name=f"sigma-agent-{fn.__name__}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def _guarded(self, fn) -> None:
        """A bug in one loop must not kill the agent: log it and go on after a pause."""
        while not self.stop.is_set():
            try:
                fn()
                return
            except Exception:  # noqa: BLE001
                log.exception("%s crashed; restarting it in 5s", fn.__name__)
                self.stop.wait(5)

    def shutdown(self, grace: float = 0.5) -> None:
        self.stop.set()
        if self._metrics is not None:
            server, _thread = self._metrics
            server.shutdown()
            server.server_close()
        deadline = time.monotonic() + grace
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.client.close()


def run(cfg: AgentConfig) -> int:
    """Run until SIGTERM or SIGINT; returns the exit code."""
    logging.basicConfig(
        level=cfg.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per request
    stop = threading.Event()
    agent = Agent(cfg, stop=stop)

    def on_signal(signum, _frame):
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("sigma agent for %s -> %s every %gs", agent.hostname, cfg.api_url, cfg.interval)
    try:
        agent.start()
    except OSError as exc:
        log.error("cannot start: %s", exc)
        agent.shutdown()
        return 1
    while not stop.wait(1.0):
        pass
    agent.shutdown()
    log.info("stopped")
    return 0
