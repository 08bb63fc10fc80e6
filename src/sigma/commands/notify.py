"""`sigma notify run|test|log`: send the notices due now (for cron), try a channel, and read
the deliveries of the Apprise notices."""

import typer

from sigma.commands.common import FormatOption, done, state

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

COLUMNS = (
    ("Hostname", lambda n: n["hostname"]),
    ("Notice", lambda n: _notice(n)),
    (
        "Expires",
        lambda n: f"{n['expire_date']} ({n['days_remaining']}d)" if n["expire_date"] else "",
    ),
    ("Channel", lambda n: n["channel"]),
    ("Status", lambda n: n["status"] + (f": {n['error']}" if n["error"] else ""), "key"),
)


DELIVERY_COLUMNS = (
    ("Channel", lambda n: n["channel"]),
    ("Event", lambda n: n["event"]),
    ("Kind", lambda n: n["kind"]),
    ("Severity", lambda n: n["severity"]),
    ("Summary", lambda n: n["summary"]),
    ("Why", lambda n: n["why"]),
    ("Status", lambda n: n["status"] + (f": {n['error']}" if n["error"] else ""), "key"),
)

LOG_COLUMNS = (
    ("When", lambda n: (n["sent_at"] or n["claimed_at"])[:19].replace("T", " ")),
    ("Channel", lambda n: n["channel"]),
    ("Event", lambda n: n["event"]),
    ("Kind", lambda n: n["kind"]),
    ("Summary", lambda n: n["summary"]),
    ("Status", lambda n: n["status"], "key"),
    ("Attempts", lambda n: str(n["attempts"])),
    (
        "Error / next attempt",
        lambda n: (
            (n["error"] or "")
            + (
                f" (retry at {n['next_attempt_at'][:16].replace('T', ' ')})"
                if n["next_attempt_at"]
                else ""
            )
        ),
    ),
)


def _notice(n: dict) -> str:
    if n["kind"] in ("reach-alert", "reach-recovered"):
        return n["kind"]
    if n["kind"] == "quota":
        return f"traffic {n['threshold']}% ({n['used_bytes'] / 1e9:,.1f} of {n['quota_gb']} GB)"
    return n["kind"] if n["threshold"] < 0 else f"{n['kind']} ({n['threshold']}d)"


@app.command("run")
def run(
    ctx: typer.Context,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List the notices that are due; send nothing."
    ),
    fmt: str = FormatOption,
) -> None:
    """Send the notices due now, each at most once (recorded in the database): the
    attention items (`sigma status`) to the Apprise URLs of notify_urls, by notify_rules
    (at once, or in the daily digest; quiet hours hold warnings), with recoveries; and the
    expiry, quota and latency/loss notices over Telegram and/or the webhook. --dry-run shows
    what would go where and why. Exits 1 when a send failed; it is retried (with backoff).

    Example: sigma notify run --dry-run
    """
    from sigma.errors import SigmaError
    from sigma.output import emit

    report = state(ctx).backend.notify_run(dry_run)
    rows = [n.model_dump(mode="json") for n in report.notices]
    apprise = [d.model_dump(mode="json") for d in report.deliveries]
    if fmt != "table":  # one list: the Telegram/webhook notices, then the Apprise ones
        emit(rows + apprise, fmt, columns=COLUMNS)
    else:
        if rows:
            emit(rows, fmt, columns=COLUMNS)
        if apprise:
            emit(apprise, fmt, columns=DELIVERY_COLUMNS)
    channels = ", ".join(report.channels) or "no channel configured"
    if dry_run:
        due = len(rows) + sum(d["status"] == "pending" for d in apprise)
        held = len(apprise) - sum(d["status"] == "pending" for d in apprise)
        done(
            f"Dry run ({channels}): {due} notice(s) due"
            + (f", {held} held or waiting" if held else "")
            + f", {report.already_sent} already sent"
        )
        return
    done(
        f"{report.sent} sent, {report.failed} failed, "
        f"{report.already_sent} already sent ({channels})"
    )
    if report.failed:
        raise SigmaError(
            f"{report.failed} notice(s) could not be sent; they will be retried on the next run"
        )


@app.command("test")
def test(
    ctx: typer.Context,
    url: str = typer.Argument(
        None, help="An Apprise URL (e.g. json://host/path, mailto://user:pass@host?to=...)."
    ),
    all_: bool = typer.Option(False, "--all", help="Every URL of notify_urls instead."),
    fmt: str = FormatOption,
) -> None:
    """Send a test notice to one Apprise URL, or to every configured one (--all), and say
    whether it went (the URL's secrets are masked). Exits 1 when a send failed. Against a
    server, the server sends: any URL needs an admin, --all an operator.

    Example: sigma notify test 'ntfy://sigma-alerts' ; sigma notify test --all
    """
    from sigma.errors import SigmaError
    from sigma.output import emit

    results = state(ctx).backend.notify_test(url, all_)
    rows = [r.model_dump(mode="json") for r in results]
    emit(
        rows,
        fmt,
        columns=(
            ("Channel", lambda r: r["channel"]),
            ("Result", lambda r: "sent" if r["ok"] else f"failed: {r['error']}", "key"),
        ),
    )
    failed = sum(not r.ok for r in results)
    if failed:
        raise SigmaError(f"{failed} of {len(results)} test notice(s) could not be sent")
    done(f"{len(results)} test notice(s) sent")


@app.command("log")
def log(
    ctx: typer.Context,
    failed: bool = typer.Option(False, "--failed", help="Only deliveries waiting for a retry."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="How many, newest first."),
    fmt: str = FormatOption,
) -> None:
    """The deliveries of the Apprise notices, newest first: channel (masked), item, status
    (sending, sent, failed), attempts, and the last error with the next retry.

    Example: sigma notify log --failed
    """
    from sigma.output import emit

    rows = [r.model_dump(mode="json") for r in state(ctx).backend.notify_log(failed, limit)]
    emit(rows, fmt, columns=LOG_COLUMNS)
