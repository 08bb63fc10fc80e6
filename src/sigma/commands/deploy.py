"""`sigma deploy node-exporter`: install Prometheus node_exporter on VPS over SSH."""

from typing import Any

import typer

from sigma.commands.common import FormatOption, QuietOption, done, state

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
Opt = typer.Option

FILTER_KEYS = ("status", "country", "provider", "purpose", "tag", "search", "ip", "expiring-within")


def _filter(ctx: typer.Context, specs: list[str]):
    from sigma.errors import InvalidInput
    from sigma.schemas.common import validate
    from sigma.schemas.inventory import VpsFilter

    values: dict[str, Any] = {"tag": []}
    for spec in specs:
        key, sep, value = spec.partition("=")
        key = key.strip().lower().replace("_", "-")
        if not sep or key not in FILTER_KEYS:
            raise InvalidInput(
                f"filter: '{spec}' is not KEY=VALUE with KEY one of {', '.join(FILTER_KEYS)}",
                field="filter",
            )
        if key == "tag":
            values["tag"].append(value)
        elif key == "provider":
            values["provider_id"] = str(state(ctx).backend.get_provider(value).id)
        elif key == "expiring-within":
            values["expiring_within_days"] = value
        else:
            values[key] = value
    return validate(VpsFilter, values)


def _target(v, port: int | None):
    from sigma.deploy.node_exporter import Target

    address = next((e.ip for e in v.ip_addresses if e.label != "internal"), None)
    problem = None
    if v.status == "retired":
        problem = "the VPS is retired"
    elif address is None:
        problem = "no IP address (other than internal ones) in the inventory"
    return Target(
        name=v.hostname,
        address=address,
        ssh_port=v.ssh_port,
        port=port or v.node_exporter_port,
        vps_id=str(v.id),
        problem=problem,
    )


COLUMNS = (
    ("Host", lambda r: r["host"]),
    ("Address", lambda r: r["address"]),
    ("Port", lambda r: str(r["port"])),
    ("Result", lambda r: _result(r["status"])),
    ("Details", lambda r: r["detail"], "text"),
)


def _result(status: str):
    from rich.text import Text

    style = {
        "changed": "yellow",
        "unchanged": "green",
        "failed": "bold red",
        "would change": "cyan",
    }
    return Text(status, style=style.get(status, ""))


@app.command("node-exporter")
def node_exporter(
    ctx: typer.Context,
    refs: list[str] = typer.Argument(
        None, help="VPS ids, id prefixes or hostnames.", show_default=False
    ),
    filter_: list[str] = Opt(
        None,
        "--filter",
        metavar="KEY=VALUE",
        help="Select VPS instead of naming them: KEY=VALUE with KEY one of "
        "status, country, provider, purpose, tag, search, ip, expiring-within "
        "(repeatable; all must match; "
        "retired VPS are always left out).",
    ),
    binary: str = Opt(
        None,
        "--binary",
        metavar="PATH",
        help="node_exporter binary to upload (else the Debian/Ubuntu package "
        "prometheus-node-exporter is installed with apt).",
        show_default=False,
    ),
    sha256: str = Opt(
        None,
        "--sha256",
        metavar="HEX",
        help="Expected SHA-256 of --binary (e.g. from the release's sha256sums.txt).",
        show_default=False,
    ),
    port: int = Opt(
        None,
        "--port",
        metavar="PORT",
        help="Listen port (default: each VPS's node_exporter_port); saved to the inventory.",
        show_default=False,
    ),
    user: str = Opt("root", "--user", "-u", help="SSH user (sudo -n is used when it is not root)."),
    identity: str = Opt(
        None,
        "--identity",
        "-i",
        metavar="PATH",
        help="Private key file (default: ssh-agent, then ~/.ssh/id_*).",
        show_default=False,
    ),
    known_hosts: str = Opt(
        None,
        "--known-hosts",
        metavar="PATH",
        help="known_hosts file [default: ~/.ssh/known_hosts].",
        show_default=False,
    ),
    accept_new: bool = Opt(
        False,
        "--accept-new",
        help="Trust and record the host key of hosts not yet in "
        "known_hosts (a changed key is always refused).",
    ),
    parallel: int = Opt(8, "--parallel", "-j", help="Hosts deployed at the same time (1-64)."),
    timeout: float = Opt(20.0, "--timeout", help="SSH connect timeout in seconds."),
    metrics_wait: float = Opt(
        15.0, "--metrics-wait", help="Seconds to wait for /metrics to answer after a (re)start."
    ),
    bin_path: str = Opt(
        "/usr/local/bin/node_exporter",
        "--bin-path",
        help="Where --binary is installed on the host.",
    ),
    unit_dir: str = Opt(
        "/etc/systemd/system",
        "--unit-dir",
        help="Where node_exporter.service is written on the host.",
    ),
    dry_run: bool = Opt(
        False, "--dry-run", help="Connect and show what would change; change nothing."
    ),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Install node_exporter on VPS over SSH (idempotent), check /metrics, enable monitoring.

    Each host: host key checked against known_hosts; the package or the uploaded binary
    (verified by SHA-256 on the host); a systemd unit listening on the VPS's
    node_exporter_port; enabled and started (restarted only when something changed); then
    /metrics fetched from this machine. On success the inventory gets monitoring_enabled
    and node_exporter_port. The table ends with changed / unchanged / failed per host; the
    exit status is 1 when any host failed.

    Example: sigma deploy node-exporter --filter status=active --filter country=HK
    --binary ./node_exporter --accept-new
    """
    from sigma.errors import InvalidInput
    from sigma.output import check_format

    check_format(fmt)
    if bool(refs) == bool(filter_):
        raise InvalidInput(
            "give VPS references or --filter KEY=VALUE (one of the two)", field="refs"
        )
    if not 1 <= parallel <= 64:
        raise InvalidInput("parallel: must be between 1 and 64", field="parallel")
    if port is not None and not 1 <= port <= 65535:
        raise InvalidInput("port: must be between 1 and 65535", field="port")
    if timeout <= 0:
        raise InvalidInput("timeout: must be positive", field="timeout")
    for name, value in (("bin_path", bin_path), ("unit_dir", unit_dir)):
        if not value.startswith("/"):
            raise InvalidInput(f"{name}: must be an absolute path on the host", field=name)
    if identity:
        import os

        if not os.path.isfile(os.path.expanduser(identity)):
            raise InvalidInput(f"identity: {identity} is not a file", field="identity")
        identity = os.path.expanduser(identity)

    from sigma.deploy.node_exporter import Layout, Options, prepare
    from sigma.deploy.ssh import SshOptions

    opts = prepare(
        Options(
            ssh=SshOptions(
                user=user,
                identity=identity,
                known_hosts=known_hosts,
                accept_new=accept_new,
                record_new=not dry_run,
                timeout=timeout,
            ),
            binary=binary,
            layout=Layout(binary=bin_path, unit_dir=unit_dir),
            dry_run=dry_run,
            metrics_wait=metrics_wait,
        ),
        sha256,
    )
    backend = state(ctx).backend
    if refs:
        vpss = [backend.get_vps(r) for r in refs]
    else:
        f = _filter(ctx, filter_)
        vpss = [v for v in backend.all_vps(f) if v.status != "retired"]
        if not vpss:
            from sigma.errors import NotFound

            raise NotFound("no VPS matches the filter")
    seen: set[str] = set()
    unique = []
    for v in vpss:  # each VPS once, in the order given
        if str(v.id) not in seen:
            seen.add(str(v.id))
            unique.append(v)
    vpss = unique
    by_id = {str(v.id): v for v in vpss}
    targets = [_target(v, port) for v in vpss]

    results = _run(targets, opts, parallel, by_id, backend, quiet)
    from sigma.output import emit

    rows = [dict(r.as_row(), detail=r.detail) for r in results]
    if fmt != "table":
        for r in rows:
            r.pop("detail")
    emit(rows, fmt, columns=COLUMNS, quiet=quiet)
    failed = [r for r in results if not r.ok]
    if dry_run:
        done("dry run: nothing was changed")
    if failed:
        done(f"{len(failed)} of {len(results)} hosts failed")
        raise typer.Exit(1)


def _run(targets, opts, parallel, by_id, backend, quiet):
    """Deploy with a live progress display; inventory updates happen here, one at a time."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from sigma.deploy.node_exporter import CHANGED, FAILED, deploy_many
    from sigma.errors import SigmaError
    from sigma.output import console
    from sigma.schemas.inventory import VpsUpdate

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console(stderr=True),
        transient=True,
        disable=quiet,
    )
    overall = progress.add_task("node_exporter", total=len(targets))
    tasks: dict[str, Any] = {}

    def on_start(t):
        if not t.problem:
            tasks[t.vps_id] = progress.add_task(f"  {t.name}: starting", total=None)

    def on_step(t, step):
        if t.vps_id in tasks:
            progress.update(tasks[t.vps_id], description=f"  {t.name}: {step}")

    def on_done(res):
        task = tasks.pop(res.vps_id, None)
        if task is not None:
            progress.remove_task(task)
        progress.advance(overall)
        if res.status == FAILED or opts.dry_run:
            return
        v = by_id[res.vps_id]
        if v.monitoring_enabled and v.node_exporter_port == res.port:
            return
        try:
            backend.update_vps(
                v.id, VpsUpdate(monitoring_enabled=True, node_exporter_port=res.port)
            )
        except SigmaError as exc:
            res.status = FAILED
            res.reason = f"deployed, but the inventory update failed: {exc.message}"
            return
        res.actions.append("inventory: monitoring enabled")
        res.status = CHANGED

    with progress:
        return deploy_many(
            targets, opts, parallel=parallel, on_start=on_start, on_step=on_step, on_done=on_done
        )
