"""The deployment artefacts, validated as far as this machine allows: every YAML parses,
the Kubernetes manifests pass the Kubernetes schemas (kubernetes-validate, offline), the
compose file is loaded and checked, the systemd units pass `systemd-analyze verify`, and
every command, path and variable they name exists in the package."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
UNITS = ROOT / "deploy" / "systemd"
K8S_VERSION = "1.31.0"
CRD_GROUPS = ("postgresql.cnpg.io/",)  # CloudNativePG: parsed and checked, not schema-validated
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def yaml_files() -> list[Path]:
    files = [ROOT / "docker-compose.yml", *sorted((ROOT / ".github" / "workflows").glob("*.yml"))]
    files += sorted((ROOT / "deploy").rglob("*.yaml")) + sorted((ROOT / "deploy").rglob("*.yml"))
    return files


def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def k8s_objects() -> list[tuple[str, dict]]:
    return [
        (p.name, d)
        for p in sorted(K8S.glob("*.yaml"))
        if p.name != "kustomization.yaml"
        for d in docs(p)
    ]


def by_kind(kind: str) -> list[dict]:
    return [d for _, d in k8s_objects() if d["kind"] == kind]


# ------------------------------------------------------------------ the sigma command tree


def sigma_command(args: list[str]) -> None:
    """Parse `sigma ARGS` with the real click tree: unknown commands or options fail."""
    import click
    import typer.main

    from sigma.cli import app

    cmd: click.Command = typer.main.get_command(app)
    rest = list(args)
    path = ["sigma"]
    while isinstance(cmd, click.Group):
        assert rest, f"`{' '.join(path)}` needs a sub-command"
        name = rest.pop(0)
        sub = cmd.get_command(click.Context(cmd), name)
        assert sub is not None, f"`{' '.join(path)} {name}` is not a sigma command"
        path.append(name)
        cmd = sub
    try:
        cmd.make_context(" ".join(path), rest)
    except click.ClickException as exc:
        raise AssertionError(f"`{' '.join(path + rest)}`: {exc.format_message()}") from None


def test_yaml_files_parse():
    files = yaml_files()
    assert len(files) >= 10
    for path in files:
        assert docs(path), f"{path} is empty"


# ------------------------------------------------------------------ Kubernetes


def test_kubernetes_manifests_pass_the_schemas():
    import kubernetes_validate

    objects = k8s_objects()
    kinds = {d["kind"] for _, d in objects}
    assert {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "Ingress",
        "CronJob",
        "Cluster",
        "Pooler",
    } <= kinds
    for name, obj in objects:
        assert obj.get("apiVersion") and obj.get("kind") and obj.get("metadata", {}).get("name"), (
            name
        )
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "sigma", (
                f"{name}: {obj['kind']} outside namespace sigma"
            )
        if obj["apiVersion"].startswith(CRD_GROUPS):
            continue
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_template():
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kust["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.template.yaml"}
    assert listed == on_disk


def test_cloudnativepg_cluster_and_pooler_feed_the_database_url():
    from sqlalchemy.engine import make_url

    from sigma.settings import Settings

    [cluster] = by_kind("Cluster")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["spec"]["instances"] >= 2 and cluster["spec"]["storage"]["size"]
    # PgBouncer in transaction mode in front of the primary, and sigma told so
    [pooler] = by_kind("Pooler")
    assert pooler["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    assert (
        pooler["spec"]["type"] == "rw" and pooler["spec"]["pgbouncer"]["poolMode"] == "transaction"
    )
    [cm] = by_kind("ConfigMap")
    assert Settings(database_pooler=cm["data"]["SIGMA_DATABASE_POOLER"]).database_pooler is True
    app_secret = f"{cluster['metadata']['name']}-app"  # the secret CloudNativePG creates
    for kind in ("Deployment", "CronJob"):
        for obj in by_kind(kind):
            spec = obj["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else obj["spec"]
            for c in spec["template"]["spec"]["containers"]:
                if c["image"].startswith("redis"):
                    continue
                env = {e["name"]: e for e in c.get("env", [])}
                # $(VAR) references, expanded by the kubelet, name variables defined before them
                url = env["SIGMA_DATABASE_URL"]["value"]
                names = [e["name"] for e in c["env"]]
                for var in re.findall(r"\$\((\w+)\)", url):
                    assert names.index(var) < names.index("SIGMA_DATABASE_URL"), var
                    ref = env[var]["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == app_secret and ref["key"] in ("username", "password")
                parsed = make_url(url.replace("$(", "").replace(")", ""))
                assert parsed.host == pooler["metadata"]["name"]  # the Service the operator creates
                assert parsed.database == cluster["spec"]["bootstrap"]["initdb"]["database"]


def test_serve_deployment_replicas_probes_resources():
    from fastapi.testclient import TestClient

    from sigma.server.app import create_app
    from sigma.settings import Settings

    [serve] = [d for d in by_kind("Deployment") if d["metadata"]["name"] == "sigma-serve"]
    assert serve["spec"]["replicas"] >= 2
    pod = serve["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [c] = pod["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["resources"]["requests"]["memory"] and c["resources"]["requests"]["cpu"]
    assert c["resources"]["limits"]["memory"]
    sigma_command(c["args"])
    port = c["ports"][0]["containerPort"]
    assert c["args"][c["args"].index("--port") + 1] == str(port)
    # the probe paths answer in the real app
    settings = Settings(database_url="sqlite://", jobs_enabled=False, jwt_secret="x" * 32)
    with TestClient(create_app(settings)) as client:
        for path in ("/healthz", "/readyz"):
            assert client.get(path).status_code == 200, path
    # the service and the ingress reach it
    [svc] = [s for s in by_kind("Service") if s["metadata"]["name"] == "sigma-serve"]
    assert svc["spec"]["selector"] == serve["spec"]["selector"]["matchLabels"]
    [ing] = by_kind("Ingress")
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "sigma-serve"


def test_cronjobs_run_real_sigma_commands():
    jobs = {j["metadata"]["name"]: j for j in by_kind("CronJob")}
    args = {
        name: j["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        for name, j in jobs.items()
    }
    assert args["sigma-export-prometheus"][:3] == ["export", "prometheus", "-o"]
    assert args["sigma-notify"] == ["notify", "run"]
    for a in args.values():
        sigma_command(a)
    for j in jobs.values():
        assert j["spec"]["concurrencyPolicy"] == "Forbid"


def test_config_and_secret_keys_are_real_settings():
    names = env_names()
    [cm] = by_kind("ConfigMap")
    [secret] = by_kind("Secret")
    assert secret["metadata"]["name"] == "sigma-secrets"
    for key in [*cm["data"], *secret["stringData"]]:
        assert key in names, f"{key} is not a setting sigma reads"
    # the placeholder JWT secret is one that `sigma serve` refuses
    from sigma.settings import PLACEHOLDER_SECRETS

    assert secret["stringData"]["SIGMA_JWT_SECRET"] in PLACEHOLDER_SECRETS
    refs = set()
    for d in by_kind("Deployment") + [j["spec"]["jobTemplate"] for j in by_kind("CronJob")]:
        for c in d["spec"]["template"]["spec"]["containers"]:
            for src in c.get("envFrom", []):
                refs.add(next(iter(src.values()))["name"])
    assert refs == {"sigma-config", "sigma-secrets"}


# ------------------------------------------------------------------ environment variables


def env_names() -> set[str]:
    """Every variable some part of sigma reads."""
    from sigma.agent.config import ENV as AGENT_ENV
    from sigma.probe.config import ENV as PROBE_ENV
    from sigma.settings import Settings

    names = {f"SIGMA_{n.upper()}" for n in Settings.model_fields}
    names |= {"SIGMA_API_URL", "SIGMA_DATA_DIR", "SIGMA_CONFIG", "SIGMA_HEALTHCHECK_URL"}
    return names | set(AGENT_ENV.values()) | set(PROBE_ENV.values())


DOCUMENTED = (ROOT / "DEPLOYMENT.md").read_text() + (ROOT / ".env.example").read_text()


def test_compose_file():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "redis", "api", "agent", "probe"}
    for name in ("db", "redis", "api", "agent"):
        assert services[name]["healthcheck"]["test"], name
    assert services["probe"]["healthcheck"] == {"disable": True}
    api = services["api"]
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(api["healthcheck"]["test"])
    sigma_command(api["command"])
    sigma_command(services["agent"]["command"])
    probe_cmd = [
        re.sub(r"\$\{PROBE_SOURCE:-([^}]*)\}", r"\1", a) for a in services["probe"]["command"]
    ]
    sigma_command(probe_cmd)
    assert "NET_RAW" in services["probe"]["cap_add"]
    assert services["agent"]["network_mode"] == "host"
    assert api["environment"]["SIGMA_DATABASE_URL"].startswith("postgresql+psycopg://sigma:")
    # the same image for the three faces of sigma
    assert {services[s]["build"] for s in ("api", "agent", "probe")} == {"."}
    # every variable a sigma container gets is one sigma reads, and is documented
    names = env_names()
    for svc in ("api", "agent", "probe"):
        for key in services[svc]["environment"]:
            assert key in names, f"{svc}: {key} is not read by sigma"
            assert key in DOCUMENTED, f"{svc}: {key} is not documented"
    # every ${VAR} the operator can set is in .env.example
    example = (ROOT / ".env.example").read_text()
    lines = [
        ln
        for ln in (ROOT / "docker-compose.yml").read_text().splitlines()
        if not ln.lstrip().startswith("#")
    ]
    for var in set(re.findall(r"\$\{([A-Z_]+)", "\n".join(lines))):
        assert re.search(rf"^#? ?{var}=", example, re.M), f"{var} missing from .env.example"
    for vol in ("pgdata", "sigma-data"):
        assert vol in compose["volumes"]


# ------------------------------------------------------------------ Dockerfile


def dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile():
    import json

    instructions = dockerfile()
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert len(froms) >= 2 and " AS " in froms[0].upper(), "multi-stage build"
    final = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM") :]
    user = [rest for word, rest in final if word == "USER"]
    assert user and user[-1].split(":")[0] not in ("0", "root"), "the image runs as a non-root user"
    [entrypoint] = [json.loads(rest) for word, rest in final if word == "ENTRYPOINT"]
    assert entrypoint == ["sigma"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["sigma"] == "sigma.cli:main"
    [cmd] = [json.loads(rest) for word, rest in final if word == "CMD"]
    sigma_command(cmd)
    assert f"EXPOSE {cmd[cmd.index('--port') + 1]}" in {f"{w} {r}" for w, r in final}
    [health] = [rest for word, rest in final if word == "HEALTHCHECK"]
    probe = json.loads(health[health.index("CMD") + 3 :].strip())
    assert probe[:2] == ["python", "-c"]
    compile(probe[2], "<healthcheck>", "exec")
    env = " ".join(rest for word, rest in final if word == "ENV")
    assert "SIGMA_HEALTHCHECK_URL=http://127.0.0.1:3000/healthz" in env
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert "!src/" in ignore and "!pyproject.toml" in ignore


def test_dockerfile_healthcheck_command_works_against_the_app():
    """The HEALTHCHECK one-liner, run as is against a real `sigma serve`."""
    import json
    import socket
    import time

    [health] = [rest for word, rest in dockerfile() if word == "HEALTHCHECK"]
    probe = json.loads(health[health.index("CMD") + 3 :].strip())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SIGMA_JOBS_ENABLED": "false"}  # data dir: this test's tmp (conftest)
    server = subprocess.Popen(
        [sys.executable, "-m", "sigma", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        check_env = {**os.environ, "SIGMA_HEALTHCHECK_URL": f"http://127.0.0.1:{port}/healthz"}
        deadline = time.monotonic() + 60
        while True:
            rc = subprocess.run(
                [sys.executable, *probe[1:]], env=check_env, capture_output=True
            ).returncode
            if rc == 0:
                break
            assert time.monotonic() < deadline, "the healthcheck never passed"
            assert server.poll() is None, "sigma serve exited"
            time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=20)
    # and it fails when nothing answers
    rc = subprocess.run([sys.executable, *probe[1:]], env=check_env, capture_output=True).returncode
    assert rc != 0


# ------------------------------------------------------------------ systemd units


def test_systemd_units_pass_systemd_analyze(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if IN_CI:
            pytest.fail("systemd-analyze is required (Debian package systemd)")
        pytest.skip("systemd-analyze not installed")
    units = sorted(UNITS.glob("*.service"))
    assert [u.name for u in units] == [
        "sigma-agent.service",
        "sigma-probe.service",
        "sigma-serve.service",
    ]
    # the units name /opt/sigma (DEPLOYMENT.md); verify needs the binaries to exist: point
    # them at this interpreter's, which are the same entry points
    bindir = Path(sys.executable).parent
    sigma_bin = shutil.which("sigma") or str(bindir / "sigma")
    for unit in units:
        text = unit.read_text()
        text = text.replace("/opt/sigma/bin/sigma", sigma_bin).replace(
            "/opt/sigma/bin/python", sys.executable
        )
        (tmp_path / unit.name).write_text(text)
    out = subprocess.run(
        [tool, "verify", "--man=no", *(str(tmp_path / u.name) for u in units)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and not (out.stdout + out.stderr).strip(), out.stdout + out.stderr


def unit_settings(name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_units_run_unprivileged_and_the_probe_gets_only_cap_net_raw():
    for name in ("sigma-serve.service", "sigma-agent.service", "sigma-probe.service"):
        s = unit_settings(name)
        assert s.get("DynamicUser") == ["yes"] or s.get("User", ["root"])[-1] != "root", name
        assert s["NoNewPrivileges"] == ["yes"], name
    probe = unit_settings("sigma-probe.service")
    assert probe["AmbientCapabilities"] == ["CAP_NET_RAW"]
    assert probe["CapabilityBoundingSet"] == ["CAP_NET_RAW"]


def test_units_run_real_commands():
    import importlib.util

    serve = shlex.split(unit_settings("sigma-serve.service")["ExecStart"][0])
    assert serve[0] == "/opt/sigma/bin/sigma"
    sigma_command(serve[1:])
    probe = shlex.split(
        unit_settings("sigma-probe.service")["ExecStart"][0].replace("${PROBE_SOURCE}", "cn-test")
    )
    sigma_command(probe[1:])
    agent = shlex.split(unit_settings("sigma-agent.service")["ExecStart"][0])
    assert agent[1:3] == ["-m", "sigma.agent"] and agent[3] == "--config-file"
    assert importlib.util.find_spec("sigma.agent.__main__") is not None


# ------------------------------------------------------------------ CI workflow


def test_ci_workflow_runs_the_nox_sessions():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = wf["jobs"]
    assert {"lint", "tests", "browser", "image"} <= set(jobs)
    assert {"postgres", "redis"} <= set(jobs["tests"]["services"])
    noxfile = (ROOT / "noxfile.py").read_text()
    sessions = set(re.findall(r"^def (\w+)\(session", noxfile, re.M))
    used = set()
    for job in jobs.values():
        for step in job["steps"]:
            used |= set(re.findall(r"nox -s (\w+)", step.get("run", "")))
    assert used and used <= sessions, used - sessions
    assert any(
        step.get("uses", "").startswith("docker/build-push-action")
        for step in jobs["image"]["steps"]
    )
