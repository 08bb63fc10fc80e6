"""`sigma probe run`: the reachability probe daemon (or one round for cron with --once);
`sigma probe provision`: an API key for a probe; `sigma probe list|rm`: the registry of
probe sources and their health."""

import typer

from sigma.commands.common import FormatOption, QuietOption

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
O = typer.Option  # noqa: E741


@app.command("run")
def run(
    source: str = O(
        None,
        "--source",
        help="Name of this probe, e.g. cn-beijing-ct (PROBE_SOURCE; required).",
        show_default=False,
    ),
    api_url: str = O(
        None,
        "--api-url",
        help="API base URL (SIGMA_API_URL) [default: http://localhost:3000/api].",
        show_default=False,
    ),
    api_key: str = O(
        None, "--api-key", help="API key sent as X-Api-Key (SIGMA_API_KEY).", show_default=False
    ),
    interval: str = O(
        None,
        "--interval",
        help="Seconds between rounds (PROBE_INTERVAL) [default: 300].",
        show_default=False,
    ),
    check_types: str = O(
        None,
        "--check-types",
        help="Comma list of icmp, tcp, tls, http (PROBE_TYPES) [default: icmp,tcp].",
        show_default=False,
    ),
    tcp_timeout: str = O(
        None, "--tcp-timeout", help="Seconds (PROBE_TCP_TIMEOUT) [default: 5].", show_default=False
    ),
    http_timeout: str = O(
        None,
        "--http-timeout",
        help="Seconds (PROBE_HTTP_TIMEOUT) [default: 10].",
        show_default=False,
    ),
    icmp_timeout: str = O(
        None,
        "--icmp-timeout",
        help="Seconds (PROBE_ICMP_TIMEOUT) [default: 3].",
        show_default=False,
    ),
    concurrency: str = O(
        None,
        "--concurrency",
        help="Checks at a time (PROBE_CONCURRENCY) [default: 20].",
        show_default=False,
    ),
    tcp_port: list[str] = O(
        None,
        "--tcp-port",
        help="Extra TCP port to check besides SSH (repeatable; PROBE_TCP_PORTS).",
    ),
    http_scheme: str = O(
        None,
        "--http-scheme",
        help="https or http (PROBE_HTTP_SCHEME) [default: https].",
        show_default=False,
    ),
    http_port: str = O(
        None,
        "--http-port",
        help="Port of the HTTP check (PROBE_HTTP_PORT) [default: 443/80].",
        show_default=False,
    ),
    batch_size: str = O(
        None,
        "--batch-size",
        help="Results per POST (PROBE_BATCH_SIZE) [default: 500].",
        show_default=False,
    ),
    spool_dir: str = O(
        None, "--spool-dir", help="Where unsent results wait (PROBE_SPOOL_DIR).", show_default=False
    ),
    spool_max_mb: float = O(
        None, "--spool-max-mb", help="Spool size bound in MiB [default: 64].", show_default=False
    ),
    tls_port: list[str] = O(
        None,
        "--tls-port",
        help="Port of the TLS check (repeatable, or a comma list; PROBE_TLS_PORTS) [default: 443].",
        show_default=False,
    ),
    icmp_count: str = O(
        None,
        "--icmp-count",
        help="Echo requests per target and round, 1-10, for loss and jitter "
        "(PROBE_ICMP_COUNT) [default: 3].",
        show_default=False,
    ),
    data_probe: bool = O(
        None,
        "--data-probe/--no-data-probe",
        help="After a TCP connect or TLS handshake, read for up to 0.3 s: a reset then is "
        "reported as `reset` (PROBE_DATA_PROBE) [default: on].",
        show_default=False,
    ),
    carrier: str = O(
        None,
        "--carrier",
        help="The network this probe sits in: ct, cu, cm, cernet or other (PROBE_CARRIER).",
        show_default=False,
    ),
    region: str = O(
        None,
        "--region",
        help="Where this probe is, free text up to 64 characters, e.g. Beijing (PROBE_REGION).",
        show_default=False,
    ),
    control: bool = O(
        None,
        "--control/--no-control",
        help="A control probe, outside the filtered network: what it cannot reach is down, "
        "not blocked (PROBE_CONTROL) [default: no].",
        show_default=False,
    ),
    once: bool = O(
        False, "--once", help="Run one round and exit (for cron); exit 1 if it could not run."
    ),
) -> None:
    """Check every IP of every active VPS from here and report the results.

    Every check reports an outcome: ok, refused, timeout, reset, tls_failed, http_error or
    unreachable. Each round also checks the server's reference targets and sends a round
    report (source, carrier, region, control, version, the references' outcomes).

    Example: sigma probe run --source cn-beijing-ct --carrier ct --region Beijing
    --api-url https://sigma.example.com/api --api-key sigma_xxx --check-types icmp,tcp,tls
    """
    from sigma.commands.common import long_running

    long_running()
    import sys

    # This daemon has a memory budget (40 MB at 10,000 targets: bench/probe_targets.py).
    # httpx imports its command-line client (rich, pygments, click: ~4.5 MB resident) and
    # httpcore imports trio when it is installed (~4 MB with attrs, outcome...), each unless
    # the import fails, when they do without; the probe runs neither (asyncio only).
    for unused in ("httpx._main", "trio"):
        if unused not in sys.modules and "httpx" not in sys.modules:
            sys.modules[unused] = None  # type: ignore[assignment]
    from sigma.errors import InvalidInput
    from sigma.probe.config import ConfigError, load
    from sigma.probe.runner import run as run_probe

    flags = dict(
        source=source,
        api_url=api_url,
        api_key=api_key,
        interval=interval,
        check_types=check_types,
        tcp_timeout=tcp_timeout,
        http_timeout=http_timeout,
        icmp_timeout=icmp_timeout,
        concurrency=concurrency,
        tcp_ports=tcp_port or None,
        http_scheme=http_scheme,
        http_port=http_port,
        batch_size=batch_size,
        spool_dir=spool_dir,
        spool_max_bytes=int(spool_max_mb * 1024 * 1024) if spool_max_mb else None,
        tls_ports=tls_port or None,
        icmp_count=icmp_count,
        data_probe=data_probe,
        carrier=carrier,
        region=region,
        control=control,
    )
    try:
        cfg = load(flags)
        code = run_probe(cfg, once=once)
    except ConfigError as exc:
        raise InvalidInput(str(exc), field=str(exc).split(":")[0]) from None
    raise typer.Exit(code)


@app.command("provision")
def provision(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="What the key is for, e.g. probe-cn-beijing-ct."),
    expires_in_days: int = O(None, "--expires-in-days", help="Expire after DAYS."),
) -> None:
    """Create an API key with the probe role: it reads the targets (and the VPS list, for the
    original sigma-probe) and posts IP checks, nothing else. Printed once (stdout).

    Example: sigma probe provision probe-cn-beijing
    """
    from sigma.commands.common import done, state
    from sigma.schemas.common import validate
    from sigma.schemas.identity import ApiKeyCreate

    data = validate(ApiKeyCreate, {"name": name, "expires_in_days": expires_in_days})
    key = state(ctx).backend.provision_probe_key(data)
    typer.echo(key.key)
    done(
        f"Created probe key {key.name} ({key.id}). Store it now: it is not shown again.\n"
        f"On the probe: sigma probe run --source cn-... --api-url <server>/api --api-key <the key>"
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """The probe sources heard from: carrier, region, inside China or a control, health from
    their reference targets (unhealthy: its results move no verdict) and last seen.

    Example: sigma probe list --format json
    """
    from sigma.commands.common import state
    from sigma.output import check_format, emit
    from sigma.schemas.monitoring import ProbeStatus

    check_format(fmt)
    rows = [p.model_dump(mode="json") | {"id": p.source} for p in state(ctx).backend.list_probes()]
    emit(
        rows,
        fmt,
        quiet=quiet,
        columns=(
            ("Source", lambda p: p["source"], "key"),
            ("Carrier", lambda p: p["carrier"] or "-"),
            ("Region", lambda p: p["region"] or "-", "text", 2),
            ("Role", lambda p: "control" if p["control"] else "china" if p["china"] else "-"),
            ("Health", lambda p: p["health"]),
            (
                "Last seen",
                lambda p: (
                    p["last_seen"][:16].replace("T", " ") + (" (stale)" if p["stale"] else "")
                ),
            ),
            ("Why", lambda p: p["health_reason"], "text", 1),
        ),
        fields=list(ProbeStatus.model_fields),
    )


@app.command("rm")
def rm(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="The probe's source name."),
) -> None:
    """Remove a retired probe from the registry; its stored results stay, and it is
    registered again if it reports again.

    Example: sigma probe rm cn-old-node
    """
    from sigma.commands.common import done, state

    p = state(ctx).backend.forget_probe(source)
    done(f"Removed probe {p.source} from the registry")
