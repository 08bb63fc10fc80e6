"""`sigma sync [ACCOUNT...] [--dry-run]`: sync provider and DNS accounts now (issue 19)."""

from __future__ import annotations

import typer

from sigma.commands.common import FormatOption, state

ACTION_STYLE = {"create": "+", "update": "~", "gone": "-", "link": "=", "skip": "!", "keep": "."}


def sync(
    ctx: typer.Context,
    accounts: list[str] = typer.Argument(
        None, help="Account names or ids [default: every enabled account].", show_default=False
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", "-n", help="Show what would change; change nothing."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Every change, one per line."),
    fmt: str = FormatOption,
) -> None:
    """Sync provider and DNS accounts now: new machines become VPS, changed ones are
    updated (values changed by hand win unless the account says --api-wins), machines gone
    from the API become `retiring`. Each account is all or nothing. Exit code 1 when an
    account failed.

    Examples:

    \b
      sigma sync
      sigma sync hz-main --dry-run -v
      sigma sync cf-dns --format json
    """
    from sigma.output import emit

    reports = state(ctx).backend.sync_accounts(list(accounts or []), dry_run=dry_run)
    if fmt != "table":
        emit([r.model_dump(mode="json") for r in reports], fmt)
    else:
        if not reports:
            typer.echo("no enabled account to sync (sigma account add ...)", err=True)
        for r in reports:
            head = f"{r.account} ({r.kind}){' [dry run]' if r.dry_run else ''}"
            if not r.ok:
                typer.echo(f"{head}: FAILED: {r.error}")
                continue
            typer.echo(
                f"{head}: {r.listed} listed, {r.created} created, {r.updated} updated, "
                f"{r.gone} gone, {r.unchanged} unchanged, {r.skipped} skipped "
                f"({r.seconds:.1f} s)"
            )
            if verbose:
                for c in r.changes:
                    what = ", ".join(f"{k}={v}" for k, v in c.changes.items())
                    kept = f" kept: {', '.join(c.kept)}" if c.kept else ""
                    note = f" ({c.note})" if c.note else ""
                    typer.echo(
                        f"  {ACTION_STYLE.get(c.action, '?')} {c.action} {c.instance_id} "
                        f"{c.hostname} {what}{kept}{note}".rstrip()
                    )
            for w in r.warnings[: None if verbose else 5]:
                typer.echo(f"  warning: {w}")
            if not verbose and len(r.warnings) > 5:
                typer.echo(f"  ... {len(r.warnings) - 5} more warnings (-v)")
    if any(not r.ok for r in reports):
        raise typer.Exit(1)
