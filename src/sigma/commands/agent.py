"""`sigma agent run|install|events`: the agent daemon on a VPS, its systemd unit, and the
server's record of agents going offline and coming back."""

from typing import Any

import typer

from sigma.commands.common import FormatOption, QuietOption, done, state

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
O = typer.Option  # noqa: E741


def liveness(v: dict[str, Any]):
    """'online' (green), 'offline 2h' (red), or '' when no agent ever reported."""
    from datetime import UTC, datetime

    from sigma.output import Styled
    from sigma.vocab import last_heartbeat

    online = v.get("online")
    if online is None:
        return ""
    if online:
        return Styled("online", "green")
    seen = last_heartbeat(v.get("extra"))
    ago = _ago((datetime.now(UTC) - seen).total_seconds()) if seen else "?"
    return Styled(f"offline {ago}", "red")


def _ago(seconds: float) -> str:
    s = int(max(seconds, 0))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def _flags(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


def _config(config_file: str | None, **flags: Any):
    from sigma.agent.config import ConfigError, load
    from sigma.errors import InvalidInput

    try:
        return load(_flags(**flags), config_file=config_file)
    except ConfigError as exc:
        raise InvalidInput(str(exc), field=str(exc).split(":")[0]) from None


API_URL = O(
    None,
    "--api-url",
    help="API base URL, e.g. https://sigma.example.com/api (SIGMA_API_URL) [default: http://localhost:3000/api].",
    show_default=False,
)
API_KEY = O(
    None, "--api-key", help="API key sent as X-Api-Key (SIGMA_API_KEY).", show_default=False
)
INTERVAL = O(
    None,
    "--interval",
    help="Seconds between heartbeats (AGENT_INTERVAL) [default: 60].",
    show_default=False,
)
HOSTNAME = O(
    None,
    "--hostname",
    help="Hostname to register as (AGENT_HOSTNAME) [default: detected].",
    show_default=False,
)
ALIAS = O(None, "--alias", help="Alias to register with (AGENT_ALIAS).", show_default=False)
SSH_PORT = O(
    None,
    "--ssh-port",
    help="SSH port to report (AGENT_SSH_PORT) [default: 22].",
    show_default=False,
)
METRICS_PORT = O(
    None,
    "--metrics-port",
    help="Port of /metrics, 0 disables (AGENT_METRICS_PORT) [default: 9102].",
    show_default=False,
)
PORT_SCAN = O(
    None,
    "--port-scan/--no-port-scan",
    help="Keep a port inventory (AGENT_PORT_SCAN) [default: off].",
    show_default=False,
)
SCAN_RANGE = O(
    None,
    "--port-scan-range",
    help="START-END (AGENT_PORT_SCAN_RANGE) [default: 10000-30000].",
    show_default=False,
)
SCAN_INTERVAL = O(
    None,
    "--port-scan-interval",
    help="Seconds between port scans (AGENT_PORT_SCAN_INTERVAL) [default: 60].",
    show_default=False,
)
CONFIG_FILE = O(
    None,
    "--config-file",
    help="KEY=VALUE file with the variables above (AGENT_CONFIG) "
    "[default: /etc/sigma/agent.env if present].",
    show_default=False,
)


@app.command("run")
def run(
    api_url: str = API_URL,
    api_key: str = API_KEY,
    interval: str = INTERVAL,
    hostname: str = HOSTNAME,
    alias: str = ALIAS,
    ssh_port: str = SSH_PORT,
    metrics_port: str = METRICS_PORT,
    port_scan: bool = PORT_SCAN,
    port_scan_range: str = SCAN_RANGE,
    port_scan_interval: str = SCAN_INTERVAL,
    metrics_addr: str = O(
        None,
        "--metrics-addr",
        help="Address of /metrics (AGENT_METRICS_ADDR) [default: 0.0.0.0].",
        show_default=False,
    ),
    public_ip_url: list[str] = O(
        None,
        "--public-ip-url",
        help="What-is-my-IP service asked when no public address is found "
        "(repeatable; AGENT_PUBLIC_IP_URLS, '' disables).",
    ),
    log_level: str = O(
        None,
        "--log-level",
        help="debug, info, warning or error (AGENT_LOG_LEVEL or RUST_LOG) [default: info].",
    ),
    config_file: str = CONFIG_FILE,
) -> None:
    """Run the agent: register, heartbeat every interval, serve /metrics. Stops on SIGTERM.

    Settings: flags > environment > config file > defaults.

    Example: sigma agent run --api-url https://sigma.example.com/api --api-key sigma_xxx --port-scan
    """
    from sigma.commands.common import long_running

    long_running()
    import sys

    if "httpx" not in sys.modules:  # this process is the agent: keep httpx's extras out
        for name in ("httpx._main", "trio"):
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    from sigma.agent.runner import run as run_agent

    cfg = _config(
        config_file,
        api_url=api_url,
        api_key=api_key,
        interval=interval,
        hostname=hostname,
        alias=alias,
        ssh_port=ssh_port,
        metrics_port=metrics_port,
        port_scan=port_scan,
        port_scan_range=port_scan_range,
        port_scan_interval=port_scan_interval,
        metrics_addr=metrics_addr,
        public_ip_urls=public_ip_url or None,
        log_level=log_level,
    )
    raise typer.Exit(run_agent(cfg))


@app.command("install")
def install(
    api_url: str = API_URL,
    api_key: str = API_KEY,
    interval: str = INTERVAL,
    hostname: str = HOSTNAME,
    alias: str = ALIAS,
    ssh_port: str = SSH_PORT,
    metrics_port: str = METRICS_PORT,
    port_scan: bool = PORT_SCAN,
    port_scan_range: str = SCAN_RANGE,
    port_scan_interval: str = SCAN_INTERVAL,
    print_only: bool = O(
        False,
        "--print",
        help="Print the unit and the env file (key hidden) instead of writing them.",
    ),
    unit_dir: str = O("/etc/systemd/system", "--unit-dir", help="Where the unit goes."),
    env_file: str = O(
        "/etc/sigma/agent.env", "--env-file", help="Where the settings go (mode 0600)."
    ),
    config_file: str = CONFIG_FILE,
) -> None:
    """Write the systemd unit sigma-agent.service and its env file (0600, holds the key).

    Then: systemctl daemon-reload && systemctl enable --now sigma-agent

    Example: sigma agent install --api-url https://sigma.example.com/api --api-key sigma_xxx
    --port-scan
    """
    from pathlib import Path

    from sigma.agent import install as inst

    cfg = _config(
        config_file,
        api_url=api_url,
        api_key=api_key,
        interval=interval,
        hostname=hostname,
        alias=alias,
        ssh_port=ssh_port,
        metrics_port=metrics_port,
        port_scan=port_scan,
        port_scan_range=port_scan_range,
        port_scan_interval=port_scan_interval,
    )
    if print_only:
        typer.echo(f"# {Path(unit_dir) / inst.UNIT_NAME}")
        typer.echo(inst.unit_text(env_file))
        typer.echo(f"# {env_file} (mode 0600)")
        typer.echo(inst.env_file_text(cfg, show_secret=False), nl=False)
        return
    if not cfg.api_key:
        done(
            "warning: no API key given (--api-key or SIGMA_API_KEY); "
            "the server will refuse the agent"
        )
    try:
        unit, env = inst.install(cfg, Path(unit_dir), Path(env_file))
    except PermissionError as exc:
        from sigma.errors import PermissionDenied

        raise PermissionDenied(
            f"cannot write {exc.filename}: run as root (or pick --unit-dir/--env-file)"
        ) from None
    done(
        f"Wrote {unit} and {env} (0600). "
        "Next: systemctl daemon-reload && systemctl enable --now sigma-agent"
    )


@app.command("provision")
def provision(
    ctx: typer.Context,
    vps: str = typer.Argument(
        ..., help="The VPS (id, prefix or hostname) whose agent gets the key."
    ),
    name: str = O(None, "--name", help="A name for the key [default: agent HOSTNAME]."),
    fmt: str = FormatOption,
) -> None:
    """Create an API key for the agent of one VPS, bound to it: the key can register and
    heartbeat that VPS and nothing else. Printed once (stdout), with the install command.

    Example: sigma agent provision hk-exit-01
    """
    from sigma.output import emit

    backend = state(ctx).backend
    key = backend.provision_agent_key(vps, name)
    if fmt != "table":
        emit(key.model_dump(mode="json"), fmt)
        return
    typer.echo(key.key)
    done(
        f"Created agent key {key.name} ({key.id}), bound to {vps}. "
        "Store it now: it is not shown again.\n"
        f"On the VPS: sigma agent install --api-url <server>/api --api-key <the key>"
    )


@app.command("release")
def release(
    ctx: typer.Context,
    vps: str = typer.Argument(
        ..., help="The VPS (id, prefix or hostname) to free from its agent keys."
    ),
    revoke: bool = O(
        False, "--revoke", help="Revoke the released keys too (a compromised or rebuilt VPS)."
    ),
) -> None:
    """Free a VPS from the agent keys bound to it: the next agent that registers its
    hostname claims it. Use it when a machine was rebuilt or renamed.

    Example: sigma agent release hk-exit-01 --revoke
    """
    released = state(ctx).backend.release_agent(vps, revoke)
    done(
        f"Released {released} agent key(s) of {vps}"
        + (" and revoked them" if revoke and released else "")
    )


@app.command("events")
def events(
    ctx: typer.Context,
    vps: str = O(None, "--vps", help="Only this VPS (id, prefix or hostname)."),
    kind: str = O(None, "--kind", help="agent-offline, agent-online or reachability."),
    limit: int = O(50, "--limit", help="At most this many, newest first."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Agents going offline and coming back, and reachability verdict changes.

    Example: sigma agent events --kind agent-offline --limit 20
    """
    from sigma.output import emit
    from sigma.schemas.monitoring import VpsEvent

    rows = [e.model_dump(mode="json") for e in state(ctx).backend.list_vps_events(vps, kind, limit)]
    emit(
        rows,
        fmt,
        quiet=quiet,
        columns=(
            ("When", lambda e: e["created_at"][:19].replace("T", " ")),
            ("VPS", lambda e: e["hostname"]),
            ("Event", lambda e: _event_kind(e["kind"])),
            ("Details", lambda e: _details(e), "text"),
        ),
        fields=list(VpsEvent.model_fields),
    )


def _event_kind(kind: str):
    from rich.text import Text

    return Text(kind, style={"agent-offline": "red", "agent-online": "green"}.get(kind, "yellow"))


def _details(e: dict[str, Any]) -> str:
    d = e.get("details") or {}
    if e["kind"] == "reachability":
        return f"{d.get('ip')} {d.get('label') or ''}: {d.get('from')} -> {d.get('to')}".replace(
            "  ", " "
        )
    if e["kind"] == "agent-offline":
        return f"last heartbeat {d.get('last_heartbeat')}"
    if e["kind"] == "agent-online":
        return f"back after {_ago(d.get('offline_for_seconds') or 0)}"
    return ""
