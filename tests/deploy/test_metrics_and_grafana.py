"""Issue 17, observability: `sigma serve`'s /metrics (a bearer token on the API port, or a
separate listener; never by default), its figures on a small fleet on both databases, label
escaping checked by the real `promtool check metrics`, and the Grafana dashboards of
deploy/grafana: their structure, every PromQL expression parsed by `promtool check rules`,
and every metric name they use scraped for real from serve and from an agent."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from tests.service_fixtures import fast_password_hashing  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = ("fleet-overview.json", "reachability.json", "agents.json")
TOKEN = "metrics-token-0123456789abcdef"
HOSTILE = 'a"b\n{}'  # a provider's name from before names were checked
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SERVE_FAMILIES = {
    "sigma_vps",
    "sigma_vps_expiring",
    "sigma_vps_overdue",
    "sigma_agents",
    "sigma_reachability",
    "sigma_probe_up",
    "sigma_attention_items",
    "sigma_metrics_scrape_duration_seconds",
    "sigma_http_request_duration_seconds",
}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if IN_CI:
            pytest.fail("promtool is required under CI=true (Debian package prometheus)")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return path


def check_metrics(text: str) -> None:
    """`promtool check metrics` on the exposition, fed through stdin: parses and lints."""
    r = subprocess.run(
        [promtool(), "check", "metrics"], input=text.encode(), capture_output=True, timeout=60
    )
    assert r.returncode == 0 and not r.stdout.strip(), (r.stdout + r.stderr).decode()


def families(text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text)}


def values(text: str, name: str, *labels: str) -> dict:
    """{label values: value} of the samples of `name`."""
    out = {}
    for family in families(text).values():
        for s in family.samples:
            if s.name == name:
                key = tuple(s.labels[k] for k in labels)
                out[key if len(key) != 1 else key[0]] = s.value
    return out


def sample_names(text: str) -> set[str]:
    return {s.name for f in families(text).values() for s in f.samples}


@pytest.fixture
def api_settings(db_url):
    """The `api` fixture's app (tests/conftest.py), with /metrics behind the token."""
    from sigma.settings import Settings

    return Settings(
        database_url=db_url,
        jwt_secret="test-jwt-secret-0123456789",
        rate_limit_requests=100_000,
        rate_limit_login=100_000,
        jobs_enabled=False,
        metrics_token=TOKEN,
    )


def scrape(api, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return api.client.get("/metrics", headers=headers)


# ------------------------------------------------------------------ a small fleet


def _vps(api, **fields) -> dict:
    r = api.client.post("/api/vps", headers=api.headers(), json=fields)
    assert r.status_code == 200, r.text
    return r.json()


def _check(vps: dict, source: str, check_type: str, at: datetime, **fields) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "vps_id": vps["id"],
        "ip": vps["ip_addresses"][0]["ip"],
        "check_type": check_type,
        "source": source,
        "checked_at": at.isoformat(),
        **fields,
    }


def build_fleet(api) -> None:
    """Providers (one with a hostile name, written as old data would be), VPS of every
    status with expiry dates and agents in each state, one in the trash, probes with
    carriers (one stale) and reachability verdicts that name a carrier."""
    from sigma.db.engine import unit_of_work
    from sigma.db.models.core import Provider, Vps
    from sigma.db.models.monitoring import Probe
    from sigma.services.agents import stamp

    r = api.client.post("/api/providers", headers=api.headers(), json={"name": "Hetzner"})
    assert r.status_code == 200, r.text
    hetzner = r.json()["id"]
    with unit_of_work(api.app.state.sessions) as session:
        hostile = Provider(name=HOSTILE)
        session.add(hostile)
        session.flush()
        hostile_id = str(hostile.id)
    today = date.today()

    def day(n: int) -> str:
        return (today + timedelta(days=n)).isoformat()

    a = _vps(
        api,
        hostname="a-hk",
        status="active",
        country="HK",
        provider_id=hetzner,
        expire_date=day(3),
        ip_addresses=[{"ip": "103.1.2.3"}],
    )
    b = _vps(
        api,
        hostname="b-hk",
        status="active",
        country="HK",
        provider_id=hetzner,
        expire_date=day(20),
        ip_addresses=[{"ip": "103.1.2.4"}],
    )
    _vps(
        api,
        hostname="c-jp",
        status="active",
        country="JP",
        provider_id=hostile_id,
        expire_date=day(-2),
    )
    h = _vps(
        api,
        hostname="h-none",
        status="active",
        provider_id=hetzner,
        ip_addresses=[{"ip": "103.1.2.5"}],
    )
    _vps(api, hostname="d-us", status="provisioning", country="US", expire_date=day(5))
    _vps(
        api,
        hostname="e-old",
        status="retired",
        country="HK",
        provider_id=hetzner,
        expire_date=day(-100),
    )
    _vps(
        api,
        hostname="f-de",
        status="suspended",
        country="DE",
        provider_id=hostile_id,
        expire_date=day(1),
    )
    g = _vps(
        api,
        hostname="g-trash",
        status="active",
        country="HK",
        provider_id=hetzner,
        expire_date=day(2),
        ip_addresses=[{"ip": "103.1.2.6"}],
    )
    now = datetime.now(UTC)
    with unit_of_work(api.app.state.sessions) as session:
        for vps, beat in ((a, now), (b, now - timedelta(days=1)), (g, now)):
            row = session.get(Vps, uuid.UUID(vps["id"]))
            row.extra = {**(row.extra or {}), "last_heartbeat": stamp(beat)}
    # an operator reports for every probe (a probe's own key speaks for one source)
    probe = {"X-Api-Key": api.api_key("operator")}
    for source, carrier, control in (("ct-gd", "ct", False), ("hk-ctl", "other", True)):
        r = api.client.post(
            "/api/probes/report",
            headers=probe,
            json={"source": source, "carrier": carrier, "region": "r1", "control": control},
        )
        assert r.status_code == 200, r.text
    r = api.client.post(
        "/api/probes/report",
        headers=probe,
        json={"source": "cu-old", "carrier": "cu", "region": "beijing"},
    )
    assert r.status_code == 200, r.text
    t0 = now - timedelta(minutes=15)
    for n in range(4):
        at = t0 + timedelta(minutes=n)
        checks = []
        for vps, china in ((a, ("timeout", "ok")), (b, ("timeout", "timeout")), (h, None)):
            tcp, icmp = china or ("ok", "ok")
            checks += [
                _check(vps, "ct-gd", "tcp", at, outcome=tcp, port=22),
                _check(vps, "ct-gd", "icmp", at, outcome="unreachable" if icmp != "ok" else "ok"),
                _check(vps, "hk-ctl", "tcp", at, outcome="ok", port=22),
                _check(vps, "hk-ctl", "icmp", at, outcome="ok"),
            ]
        checks += [
            _check(g, "ct-gd", "tcp", at, outcome="timeout", port=22),
            _check(g, "ct-gd", "icmp", at, outcome="unreachable"),
            _check(g, "hk-ctl", "tcp", at, outcome="ok", port=22),
            _check(g, "hk-ctl", "icmp", at, outcome="ok"),
        ]
        r = api.client.post("/api/ip-checks/batch", headers=probe, json={"checks": checks})
        assert r.status_code == 200, r.text
    with unit_of_work(api.app.state.sessions) as session:
        session.get(Probe, "cu-old").last_seen = now - timedelta(hours=2)
    r = api.client.delete(f"/api/vps/{g['id']}", headers=api.headers())  # to the trash
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------ /metrics


def test_the_token_is_required_and_compared(api):
    r = scrape(api, token=None)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in r.text
    assert scrape(api, token=TOKEN[:-1] + "X").status_code == 401
    assert scrape(api, token=TOKEN + "X").status_code == 401
    basic = api.client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    # a user's session is not the metrics token
    assert api.client.get("/metrics", headers=api.headers()).status_code == 401
    r = scrape(api)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert SERVE_FAMILIES - {"sigma_http_request_duration_seconds"} <= set(families(r.text))
    # OpenMetrics when the scraper asks for it, as Prometheus does
    om = api.client.get(
        "/metrics",
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        },
    )
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.rstrip().endswith("# EOF")


def test_not_exposed_without_a_token_or_a_listener(sqlite_url):
    from fastapi.testclient import TestClient

    from sigma.server.app import create_app
    from sigma.settings import Settings

    base = dict(
        database_url=sqlite_url, jwt_secret="test-jwt-secret-0123456789", jobs_enabled=False
    )
    for settings in (
        Settings(**base),
        # the listener serves it: the API port does not, with or without the token
        Settings(**base, metrics_listen="127.0.0.1:9"),
        Settings(**base, metrics_listen="127.0.0.1:9", metrics_token=TOKEN),
    ):
        with TestClient(create_app(settings)) as client:
            for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
                r = client.get("/metrics", headers=headers)
                assert r.status_code == 404, (settings.metrics_listen, r.text)
                assert "sigma_" not in r.text


def test_settings_are_checked_and_the_token_is_a_secret(tmp_path):
    from sigma.settings import Settings

    for bad in ("short", "change-me", " " + TOKEN):
        with pytest.raises(ValueError, match="16 random characters"):
            Settings(metrics_token=bad)
    for bad in ("9464", "host:", "host:99999", ":9464"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            Settings(metrics_listen=bad)
    assert Settings(metrics_listen=" [::1]:9464 ").metrics_listen == "[::1]:9464"
    assert Settings(metrics_token="", metrics_listen="").metrics_token is None
    assert Settings(metrics_token=TOKEN).redacted()["metrics_token"] == "********"
    env = {**os.environ, "SIGMA_METRICS_TOKEN": TOKEN, "SIGMA_METRICS_LISTEN": "127.0.0.1:9464"}
    r = subprocess.run(
        [sys.executable, "-m", "sigma", "config", "show", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["metrics_token"] == "********" and TOKEN not in r.stdout + r.stderr
    assert shown["metrics_listen"] == "127.0.0.1:9464"
    for name in ("metrics_token", "metrics_listen"):
        assert "metrics" in (Settings.model_fields[name].description or "")


def test_serve_refuses_the_api_port_for_the_listener():
    env = {**os.environ, "SIGMA_METRICS_LISTEN": "127.0.0.1:39871"}
    r = subprocess.run(
        [sys.executable, "-m", "sigma", "serve", "--port", "39871"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "metrics_listen" in r.stderr and "API's port" in r.stderr


def test_figures_of_a_small_fleet(api):
    build_fleet(api)
    api.client.get("/api/vps", headers=api.headers())
    api.client.get(f"/api/vps/{uuid.uuid4()}", headers=api.headers())  # a 404 by template
    api.client.get("/no/such/page")
    r = scrape(api)
    assert r.status_code == 200, r.text
    text = r.text
    assert values(text, "sigma_vps", "status", "country", "provider") == {
        ("active", "HK", "Hetzner"): 2,
        ("active", "JP", HOSTILE): 1,
        ("active", "(none)", "Hetzner"): 1,
        ("provisioning", "US", "(none)"): 1,
        ("retired", "HK", "Hetzner"): 1,
        ("suspended", "DE", HOSTILE): 1,
    }
    # active and provisioning only (not the suspended f-de, not g in the trash)
    assert values(text, "sigma_vps_expiring", "window") == {"7d": 2, "30d": 3}
    assert values(text, "sigma_vps_overdue") == {(): 1}
    assert values(text, "sigma_agents", "state") == {"online": 1, "offline": 1, "none": 2}
    # the open attention items (issue 18): the same overdue VPS and problem verdicts
    items = values(text, "sigma_attention_items", "kind", "severity")
    assert items[("overdue", "critical")] == 1
    assert items[("blocked", "critical")] == items[("port-blocked", "critical")] == 1
    assert items[("agent-offline", "warning")] == 1 and items[("down", "critical")] == 0
    assert values(text, "sigma_reachability", "verdict", "carrier") == {
        ("ok", ""): 1,
        ("port-blocked", ""): 1,
        ("port-blocked", "ct"): 1,
        ("blocked", ""): 1,
        ("blocked", "ct"): 1,
        ("degraded", ""): 0,
        ("down", ""): 0,
        ("tls-blocked", ""): 0,
        ("unknown", ""): 0,
    }
    assert values(text, "sigma_probe_up", "source", "carrier", "region", "health") == {
        ("ct-gd", "ct", "r1", "unknown"): 1,
        ("cu-old", "cu", "beijing", "unknown"): 0,
        ("hk-ctl", "other", "r1", "unknown"): 1,
    }
    # the hostile name escaped by the client library, and read back as it was
    assert 'provider="a\\"b\\n{}"' in text and HOSTILE not in text
    # route templates, never raw paths
    routes = set(values(text, "sigma_http_request_duration_seconds_count", "route"))
    assert {"/api/vps", "/api/vps/{ref}", "/api/probes/report", "(unmatched)"} <= routes
    assert not any(re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", route) for route in routes)
    counts = values(text, "sigma_http_request_duration_seconds_count", "method", "route", "status")
    assert counts[("GET", "/api/vps/{ref}", "4xx")] == 1
    assert counts[("POST", "/api/ip-checks/batch", "2xx")] == 4
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert len(line.split(" ", 3)[3]) > 10, line
    check_metrics(text)  # the whole output, through the real promtool
    # a second scrape: the carriers as the first found them (the rows are unchanged), and
    # the first scrape timed like any request
    again = scrape(api).text
    assert values(again, "sigma_reachability", "verdict", "carrier") == values(
        text, "sigma_reachability", "verdict", "carrier"
    )
    assert ("GET", "/metrics", "2xx") in values(
        again, "sigma_http_request_duration_seconds_count", "method", "route", "status"
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_the_listener_serves_it_and_the_api_port_does_not(db_url, tmp_path, workers, monkeypatch):
    import serverproc

    port = serverproc.free_port()
    server = serverproc.Server(
        db_url,
        tmp_path,
        extra_env={"SIGMA_METRICS_LISTEN": f"127.0.0.1:{port}", "SIGMA_METRICS_TOKEN": TOKEN},
    )
    popen = subprocess.Popen

    def with_workers(args, **kwargs):
        if "serve" in args:
            args = [*args, "--workers", str(workers)]
        return popen(args, **kwargs)

    monkeypatch.setattr(serverproc.subprocess, "Popen", with_workers)
    server.start()
    try:
        listener = f"http://127.0.0.1:{port}/metrics"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for headers in ({}, auth):
            assert httpx.get(server.base + "/metrics", headers=headers).status_code == 404
        assert httpx.get(listener).status_code == 401
        assert httpx.get(listener, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/other", headers=auth).status_code == 404

        def healthz() -> float:
            text = httpx.get(listener, headers=auth).text
            counts = values(text, "sigma_http_request_duration_seconds_count", "route", "status")
            return counts.get(("/healthz", "2xx"), 0)

        before = healthz()
        with httpx.Client(base_url=server.base) as client:  # new connections: every worker
            for _ in range(20):
                assert client.get("/healthz", headers={"Connection": "close"}).status_code == 200
        assert healthz() == before + 20  # every worker's requests, summed
        with server.admin() as admin:
            assert admin.get("/api/vps").status_code == 200
        r = httpx.get(listener, headers=auth)
        assert r.status_code == 200
        assert set(families(r.text)) >= SERVE_FAMILIES
        assert ("/api/vps", "2xx") in values(
            r.text, "sigma_http_request_duration_seconds_count", "route", "status"
        )
        assert "Multiprocess metric" not in r.text  # the histogram keeps its HELP text
        check_metrics(r.text)  # a real scrape of the full output
    finally:
        server.stop()
    assert "metrics on http://127.0.0.1:" in server.log.read_text()


# ------------------------------------------------------------------ Grafana


def dashboards() -> dict[str, dict]:
    return {name: json.loads((GRAFANA / name).read_text()) for name in DASHBOARDS}


def targets(board: dict) -> list[tuple[dict, dict]]:
    return [(p, t) for p in board["panels"] for t in p.get("targets", [])]


DASHBOARD_SCHEMA = {
    "type": "object",
    "required": ["__inputs", "title", "uid", "panels", "templating", "schemaVersion", "time"],
    "properties": {
        "__inputs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "type", "pluginId"],
                "properties": {
                    "type": {"const": "datasource"},
                    "pluginId": {"const": "prometheus"},
                },
            },
        },
        "uid": {"type": "string", "pattern": "^sigma-[a-z-]+$"},
        "schemaVersion": {"type": "integer", "minimum": 30},
        "panels": {
            "type": "array",
            "minItems": 4,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
                "properties": {
                    "type": {"enum": ["stat", "timeseries", "bargauge", "table", "piechart"]},
                    "title": {"type": "string", "minLength": 3},
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {
                            "w": {"type": "integer", "minimum": 1, "maximum": 24},
                            "x": {"type": "integer", "minimum": 0, "maximum": 23},
                        },
                    },
                    "datasource": {"$ref": "#/$defs/datasource"},
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr", "datasource"],
                            "properties": {
                                "expr": {"type": "string", "minLength": 3},
                                "datasource": {"$ref": "#/$defs/datasource"},
                            },
                        },
                    },
                },
            },
        },
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {"list": {"type": "array", "minItems": 1}},
        },
    },
    "$defs": {
        "datasource": {
            "type": "object",
            "required": ["type", "uid"],
            "properties": {"type": {"const": "prometheus"}, "uid": {"const": "${datasource}"}},
        }
    },
}


def test_dashboards_are_grafana_json_with_a_datasource_input():
    import jsonschema

    for name, board in dashboards().items():
        jsonschema.validate(board, DASHBOARD_SCHEMA)
        inputs = {i["name"] for i in board["__inputs"]}
        assert inputs == {"DS_PROMETHEUS"}, name
        [ds] = [v for v in board["templating"]["list"] if v["name"] == "datasource"]
        assert (ds["type"], ds["query"]) == ("datasource", "prometheus")
        assert ds["current"]["value"] == "${DS_PROMETHEUS}"
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), (name, panel["title"])
        # no data source is named by its uid anywhere: only the variable
        text = json.dumps(board)
        uids = set(re.findall(r'"uid": "([^"]*)"', text)) - {board["uid"]}
        assert uids == {"${datasource}"}, (name, uids)
        # the panels do not overlap
        cells = set()
        for p in board["panels"]:
            g = p["gridPos"]
            assert g["x"] + g["w"] <= 24, (name, p["title"])
            mine = {
                (x, y)
                for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])
            }
            assert not cells & mine, (name, p["title"])
            cells |= mine
    assert {t["expr"] for _, t in targets(dashboards()["agents.json"])}, "agents has queries"


# a PromQL expression for promtool: Grafana's range variables given a value
GRAFANA_RANGES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def promql(expr: str) -> str:
    for var, value in GRAFANA_RANGES.items():
        expr = expr.replace(var, value)
    return expr


def test_every_query_is_promql_that_promtool_parses(tmp_path):
    rules = []
    for name, board in dashboards().items():
        for n, (panel, target) in enumerate(targets(board)):
            assert "$__" not in promql(target["expr"]), target["expr"]
            record = f"dashboard:{name.removesuffix('.json').replace('-', '_')}:{panel['id']}_{n}"
            rules.append({"record": record, "expr": promql(target["expr"])})
    assert len(rules) >= 30
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    r = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(rules)} rules found" in r.stdout


PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression: what is left of its identifiers once strings,
    label matchers, ranges, grouping clauses, functions and keywords are taken out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', promql(expr))
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        after = expr[m.end() :].lstrip()
        if after.startswith("(") or m.group() in PROMQL_WORDS:
            continue  # a function, or an aggregation with its grouping after it
        names.add(m.group())
    return names


def test_the_name_extraction_itself():
    assert metric_names(
        'sum by (le, route) (rate(a_bucket{route="/x{y}"}[5m])) / ignoring(x) b and on (i) c'
    ) == {"a_bucket", "b", "c"}
    assert metric_names("count(x == 0) or vector(0)") == {"x"}


def agent_scrape() -> str:
    """The agent's /metrics as its registry renders it (tests/agent), with a scan and a
    health that give every family samples."""
    from sigma.agent.metrics import AgentCollector, Health, make_registry, render
    from sigma.agent.ports import PortScan

    scan = PortScan(total_ports=100, available=90, scan_duration=0.1, used_by_source={"sshd": 1})
    health = Health(registered=True, last_heartbeat=1.7e9, heartbeats_ok=3, heartbeats_failed=1)
    return render(make_registry(AgentCollector("relay-01", scan, health), process=True)).decode()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_metric_of_the_dashboards_is_one_that_is_scraped(api):
    build_fleet(api)
    api.client.get("/healthz")
    serve = scrape(api).text
    check_metrics(serve)
    agent = agent_scrape()  # parsed, not linted: its gauge sigma_ports_total is the contract's
    scraped = sample_names(serve) | sample_names(agent)
    assert {
        "sigma_probe_up",
        "sigma_http_request_duration_seconds_bucket",
        "sigma_agent_heartbeats_total",
        "process_resident_memory_bytes",
    } <= scraped
    used: dict[str, set[str]] = {}
    for name, board in dashboards().items():
        for panel, target in targets(board):
            for metric in metric_names(target["expr"]):
                used.setdefault(metric, set()).add(f"{name}: {panel['title']}")
        for var in board["templating"]["list"]:
            if var["type"] == "query":
                m = re.fullmatch(r"label_values\((\w+), *(\w+)\)", var["definition"])
                assert m, var["definition"]
                used.setdefault(m.group(1), set()).add(f"{name}: ${var['name']}")
    unknown = {m: where for m, where in used.items() if m not in scraped}
    assert not unknown, f"metrics no scrape has: {unknown}"
    # every family of serve and of the agent's contract is on some dashboard
    for family in ("sigma_vps", "sigma_vps_expiring", "sigma_vps_overdue", "sigma_agents"):
        assert family in used
    for family in ("sigma_ports_used", "sigma_agent_last_heartbeat_timestamp_seconds"):
        assert family in used


def test_the_prometheus_config_example_passes_promtool(tmp_path):
    """deploy/grafana/prometheus.yml, with its token file where this test can create it."""
    config = (GRAFANA / "prometheus.yml").read_text()
    token = tmp_path / "sigma-metrics-token"
    token.write_text(TOKEN + "\n")
    assert "/etc/prometheus/sigma-metrics-token" in config
    path = tmp_path / "prometheus.yml"
    path.write_text(config.replace("/etc/prometheus/sigma-metrics-token", str(token)))
    r = subprocess.run(
        [promtool(), "check", "config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr
    jobs = {j["job_name"]: j for j in yaml.safe_load(config)["scrape_configs"]}
    serve = jobs["sigma-serve"]
    assert serve["metrics_path"] == "/metrics"
    assert serve["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/etc/prometheus/sigma-metrics-token",
    }
    assert "sigma-agents" in jobs
    readme = (GRAFANA / "README.md").read_text()
    for needed in ("SIGMA_METRICS_TOKEN", "SIGMA_METRICS_LISTEN", "Import", *DASHBOARDS):
        assert needed in readme, needed
