"""/metrics of the agent, via prometheus_client: the contract's port families (in its order,
with its HELP texts) and the agent's own health, plus the process_* metrics."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily

from sigma.agent.ports import ALWAYS_REPORTED, PortScan

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Health:
    registered: bool = False
    last_heartbeat: float = 0.0  # unix time of the last accepted heartbeat, 0 = never
    consecutive_failures: int = 0
    heartbeats_ok: int = 0
    heartbeats_failed: int = 0


class AgentCollector:
    def __init__(self, hostname: str, scan: PortScan | None = None, health: Health | None = None):
        self.hostname = hostname
        self.scan = scan or PortScan()
        self.health = health or Health()

    def collect(self):
        h, s = self.hostname, self.scan
        total = GaugeMetricFamily(
            "sigma_ports_total", "Total number of ports in scan range", labels=["hostname"]
        )
        total.add_metric([h], s.total_ports)
        yield total
        avail = GaugeMetricFamily(
            "sigma_ports_available", "Number of available (free) ports", labels=["hostname"]
        )
        avail.add_metric([h], s.available)
        yield avail
        used = GaugeMetricFamily(
            "sigma_ports_used",
            "Number of used ports by source process",
            labels=["hostname", "source"],
        )
        for source in ALWAYS_REPORTED:
            used.add_metric([h, source], s.used_by_source.get(source, 0))
        for source in sorted(set(s.used_by_source) - set(ALWAYS_REPORTED)):
            used.add_metric([h, source], s.used_by_source[source])
        yield used
        dur = GaugeMetricFamily(
            "sigma_port_scan_duration_seconds",
            "Time taken for the last port scan",
            labels=["hostname"],
        )
        dur.add_metric([h], round(s.scan_duration, 3))
        yield dur
        hl = self.health
        for name, help_text, value in (
            (
                "sigma_agent_registered",
                "1 when the agent is registered with the server",
                int(hl.registered),
            ),
            (
                "sigma_agent_last_heartbeat_timestamp_seconds",
                "Unix time of the last heartbeat the server accepted (0: never)",
                hl.last_heartbeat,
            ),
            (
                "sigma_agent_consecutive_failures",
                "Failed registrations or heartbeats since the last success",
                hl.consecutive_failures,
            ),
        ):
            g = GaugeMetricFamily(name, help_text, labels=["hostname"])
            g.add_metric([h], value)
            yield g
        from prometheus_client.core import CounterMetricFamily

        c = CounterMetricFamily(
            "sigma_agent_heartbeats", "Heartbeats sent, by result", labels=["hostname", "result"]
        )
        c.add_metric([h, "ok"], hl.heartbeats_ok)
        c.add_metric([h, "failed"], hl.heartbeats_failed)
        yield c


def make_registry(collector: AgentCollector, process: bool = True) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    if process:
        ProcessCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:  # no access log on stderr
        pass


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def serve(registry: CollectorRegistry, addr: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """GET /metrics on addr:port in a daemon thread; server.shutdown() stops it."""

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") not in (
            "GET",
            "HEAD",
        ):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found: GET /metrics\n"]
        body = render(registry)
        start_response(
            "200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))]
        )
        return [body]

    cls = _Server6 if ":" in addr else _Server
    server = make_server(addr, port, app, server_class=cls, handler_class=_Quiet)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name="sigma-agent-metrics",
        daemon=True,
    )
    thread.start()
    return server, thread
