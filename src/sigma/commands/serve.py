"""`sigma serve`: the HTTP API (and web UI) under uvicorn."""

import os

import typer

from sigma.commands.common import state


def _is_loopback(host: str) -> bool:
    import ipaddress  # here, not at import time: every `sigma` command imports this module

    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _jwt_secret_file() -> str:
    """Zero-config servers keep a generated secret in the data dir (0600), so sessions
    survive restarts and every worker signs with the same key."""
    import secrets  # imports hashlib/OpenSSL: here, not on every `sigma` start

    from sigma.settings import data_dir

    path = data_dir() / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _metrics(settings, api_port: int) -> None:
    """/metrics across worker processes (server/metrics.py): the workers' request histograms
    in a shared directory and, with metrics_listen, the separate listener in this process."""
    from sigma.errors import InvalidInput
    from sigma.server import metrics

    if settings.metrics_listen and metrics.split_listen(settings.metrics_listen)[1] == api_port:
        raise InvalidInput(
            f"metrics_listen: {settings.metrics_listen} is the API's port; choose another "
            "(e.g. 127.0.0.1:9464)",
            field="metrics_listen",
        )
    multiproc = metrics.prepare_multiprocess()  # before any worker and any prometheus_client
    for name in ("metrics_listen", "metrics_token"):  # the workers read the same settings
        if getattr(settings, name):
            os.environ[f"SIGMA_{name.upper()}"] = getattr(settings, name)
    if not settings.metrics_listen:
        return
    host = metrics.split_listen(settings.metrics_listen)[0]
    try:
        metrics.listen(settings, multiproc)
    except OSError as exc:
        raise InvalidInput(
            f"metrics_listen: cannot listen on {settings.metrics_listen}: {exc.strerror or exc}",
            field="metrics_listen",
        ) from None
    if not settings.metrics_token and not _is_loopback(host):
        typer.echo(
            f"warning: /metrics on {settings.metrics_listen} answers anyone who reaches it "
            "(set SIGMA_METRICS_TOKEN, or listen on a loopback or private address)",
            err=True,
        )
    typer.echo(f"metrics on http://{settings.metrics_listen}/metrics", err=True)


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(3000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", help="Worker processes (2 on a 2-core machine)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the HTTP API, the web UI and the agent endpoints.

    Applies database migrations first. On an empty database it creates the first admin
    (SIGMA_ADMIN_EMAIL / SIGMA_ADMIN_PASSWORD, or a random one-time password printed once).

    Example: sigma serve --host 0.0.0.0 --port 3000 --workers 2   (needs SIGMA_JWT_SECRET)
    """
    from sigma.commands.common import long_running

    long_running()
    from sigma.errors import InvalidInput
    from sigma.services import database
    from sigma.settings import PLACEHOLDER_SECRETS, redact_url

    settings = state(ctx).settings
    if not _is_loopback(host) and (
        settings.jwt_secret in PLACEHOLDER_SECRETS or len(settings.jwt_secret) < 16
    ):
        raise InvalidInput(
            f"refusing to serve on {host} without a real JWT secret: set SIGMA_JWT_SECRET "
            "(at least 16 random characters), or listen on 127.0.0.1",
            field="jwt_secret",
        )
    if workers < 1:
        raise InvalidInput("workers: must be at least 1", field="workers")
    url = settings.effective_database_url
    created = database.prepare_server(settings)
    if created:
        user, password = created
        if password:
            typer.echo(
                f"Created the first admin: {user.email}\n"
                f"One-time password (shown only now, change it at first login): {password}",
                err=True,
            )
        else:
            typer.echo(f"Created the first admin: {user.email}", err=True)
    # workers are separate processes: hand them the effective settings through the environment
    os.environ["SIGMA_DATABASE_URL"] = url
    if not settings.jwt_secret:
        os.environ["SIGMA_JWT_SECRET"] = _jwt_secret_file()
    if settings.metrics_listen or (settings.metrics_token and workers > 1):
        _metrics(settings, port)
    typer.echo(
        f"sigma serve on http://{host}:{port} ({redact_url(url)}, {workers} worker(s))", err=True
    )
    import uvicorn

    uvicorn.run(
        "sigma.server.app:factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,  # trusted_proxies: in the app
    )
