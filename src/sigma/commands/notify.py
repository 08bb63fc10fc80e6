"""`sigma notify run`: send the expiry and traffic-quota notices due now (for cron)."""

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
    """Send the notices due now (expiry, overdue, traffic quota reached, latency or loss
    alerts and their recoveries) over Telegram and/or the webhook, each at most once
    (recorded in the database). Exits 1 when a send failed;
    it is retried next run.

    Example: sigma notify run --dry-run
    """
    from sigma.errors import SigmaError
    from sigma.output import emit

    report = state(ctx).backend.notify_run(dry_run)
    rows = [n.model_dump(mode="json") for n in report.notices]
    if rows or fmt != "table":
        emit(rows, fmt, columns=COLUMNS)
    channels = ", ".join(report.channels) or "no channel configured"
    if dry_run:
        done(f"Dry run ({channels}): {len(rows)} notice(s) due, {report.already_sent} already sent")
        return
    done(
        f"{report.sent} sent, {report.failed} failed, "
        f"{report.already_sent} already sent ({channels})"
    )
    if report.failed:
        raise SigmaError(
            f"{report.failed} notice(s) could not be sent; they will be retried on the next run"
        )
