"""`sigma dns list|zones|show`: the DNS records copied from the DNS accounts (issue 19),
each linked to the VPS holding its address, with the certificate its name serves."""

from __future__ import annotations

from typing import Any

import typer

from sigma.commands.common import (
    AllOption,
    FormatOption,
    PageOption,
    PerPageOption,
    QuietOption,
    listing,
    state,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

RECORD_COLUMNS = (
    ("Name", lambda r: r["name"], "key"),
    ("Type", lambda r: r["type"], "keep"),
    ("Content", lambda r: r["content"], "text"),
    ("VPS", lambda r: r["vps_hostname"] or "-", "text", 2),
    ("VPS status", lambda r: r["vps_status"] or "-", "keep", 2),
    ("Proxied", lambda r: "yes" if r["proxied"] else "", "keep", 1),
    ("Cert until", lambda r: (r["cert_not_after"] or "")[:10] or r["cert_error"][:30], "text", 3),
)
ZONE_COLUMNS = (
    ("Zone", lambda z: z["name"], "key"),
    ("Account", lambda z: z["account"], "text"),
    ("Status", lambda z: z["status"], "keep", 1),
    ("Records", lambda z: str(z["records"]), "keep"),
    ("Linked", lambda z: str(z["linked"]), "keep"),
    ("Domain expires", lambda z: (z["expires_at"] or "-")[:10], "keep", 2),
    ("Synced", lambda z: z["synced_at"][:16], "keep", 2),
)


@app.command("list")
def list_(
    ctx: typer.Context,
    zone: str = typer.Option(None, "--zone", help="Only this zone's records."),
    account: str = typer.Option(None, "--account", help="Only this account's records."),
    linked: bool = typer.Option(
        None, "--linked/--unlinked", help="Only records pointing at a VPS (or at none)."
    ),
    search: str = typer.Option(None, "--search", "-s", help="Name or content contains."),
    page: int = PageOption,
    per_page: int = PerPageOption,
    all_: bool = AllOption,
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """List DNS records with the VPS they point at.

    Examples:

    \b
      sigma dns list --linked
      sigma dns list --zone example.com --format csv
    """
    from sigma.output import check_format, emit
    from sigma.schemas.accounts import DnsFilter, DnsRecord
    from sigma.schemas.common import validate

    fmt = check_format(fmt)

    def fetch(number: int, size: int) -> Any:
        f = validate(
            DnsFilter,
            {
                "zone": zone,
                "account": account,
                "linked": linked,
                "q": search,
                "page": number,
                "per_page": size,
            },
        )
        return state(ctx).backend.dns_records(f)

    items, footer = listing(
        fetch, page=page, per_page=per_page, all_=all_, quiet=quiet, fmt=fmt, noun="records"
    )
    rows = [r.model_dump(mode="json") for r in items]
    emit(
        rows,
        fmt,
        columns=RECORD_COLUMNS,
        quiet=quiet,
        footer=footer,
        fields=list(DnsRecord.model_fields),
    )


@app.command("zones")
def zones(ctx: typer.Context, fmt: str = FormatOption) -> None:
    """List the DNS zones with their record counts and domain expiry.

    Example: sigma dns zones
    """
    from sigma.output import emit

    rows = [z.model_dump(mode="json") for z in state(ctx).backend.dns_zones()]
    emit(rows, fmt, columns=ZONE_COLUMNS)


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A zone (example.com) or a record name."),
    fmt: str = FormatOption,
) -> None:
    """Show a zone and its records, or every record of one name.

    Examples:

    \b
      sigma dns show example.com
      sigma dns show hk1.example.com --format json
    """
    from sigma.output import emit

    shown = state(ctx).backend.dns_show(name)
    if fmt != "table":
        emit(shown, fmt)
        return
    if shown["zone"]:
        emit(shown["zone"], fmt)
    emit(shown["records"], fmt, columns=RECORD_COLUMNS)
