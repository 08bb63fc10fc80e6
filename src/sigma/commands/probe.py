"""`sigma probe run`: the reachability probe daemon (or one round for cron with --once);
`sigma probe provision`: an API key for a probe."""

import typer

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
O = typer.Option  # noqa: E741


@app.command("run")
def run(
    source: str = O(
        None,
        "--source",
        help="Name of this probe's location, e.g. cn-beijing (PROBE_SOURCE; required). "
        "Names cn-* are inside China, others are controls.",
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
        help="Comma list of icmp, tcp, http (PROBE_TYPES) [default: icmp,tcp].",
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
    once: bool = O(
        False, "--once", help="Run one round and exit (for cron); exit 1 if it could not run."
    ),
) -> None:
    """Check every IP of every active VPS from here and report the results.

    Example: sigma probe run --source cn-beijing --api-url https://sigma.example.com/api
    --api-key sigma_xxx --check-types icmp,tcp,http
    """
    from sigma.commands.common import long_running

    long_running()
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
