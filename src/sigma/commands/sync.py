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
    from sigma.text import for_terminal

    def say(line: str) -> None:  # provider text, on a terminal
        typer.echo(for_terminal(line))

    backend = state(ctx).backend
    names = list(accounts or []) or [a.name for a in backend.list_accounts() if a.enabled]
    if fmt != "table":
        reports = backend.sync_accounts(names, dry_run=dry_run) if names else []
        emit([r.model_dump(mode="json") for r in reports], fmt)
    else:
        if not names:
            typer.echo("no enabled account to sync (sigma account add ...)", err=True)
        reports = []
        # one account at a time: each line as soon as its account is done
        for name in names:
            [r] = backend.sync_accounts([name], dry_run=dry_run)
            reports.append(r)
            head = f"{r.account} ({r.kind}){' [dry run]' if r.dry_run else ''}"
            if not r.ok:
                say(f"{head}: FAILED: {r.error}")
                continue
            say(
                f"{head}: {r.listed} listed, {r.created} created, {r.updated} updated, "
                f"{r.gone} gone, {r.unchanged} unchanged, {r.skipped} skipped "
                f"({r.seconds:.1f} s)"
            )
            if verbose:
                for c in r.changes:
                    what = ", ".join(f"{k}={v}" for k, v in c.changes.items())
                    kept = f" kept: {', '.join(c.kept)}" if c.kept else ""
                    note = f" ({c.note})" if c.note else ""
                    say(
                        f"  {ACTION_STYLE.get(c.action, '?')} {c.action} {c.instance_id} "
                        f"{c.hostname} {what}{kept}{note}".rstrip()
                    )
            for w in r.warnings[: None if verbose else 5]:
                say(f"  warning: {w}")
            if not verbose and len(r.warnings) > 5:
                say(f"  ... {len(r.warnings) - 5} more warnings (-v)")
    if any(not r.ok for r in reports):
        raise typer.Exit(1)
