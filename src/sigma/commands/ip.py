"""`sigma ip history`: which VPS held an address, from when until when."""

import typer

from sigma.commands.common import (
    AllOption,
    FormatOption,
    PageOption,
    PerPageOption,
    listing,
    state,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


def _when(ts: str | None) -> str:
    return ts[:19].replace("T", " ") if ts else ""


COLUMNS = (
    ("IP", lambda h: h["ip"], "key"),
    ("Label", lambda h: h["label"], "keep", 3),
    ("VPS", lambda h: f"{h['hostname']} ({h['vps_id'][:8]})", "key"),
    ("From", lambda h: _when(h["since"]), "keep"),
    ("Until", lambda h: _when(h["until"]) or "now", "keep"),
    ("VPS now", lambda h: h["vps_state"], "keep", 2),
)


@app.command("history")
def history(
    ctx: typer.Context,
    ip: str = typer.Argument(
        ...,
        help="An address (103.1.2.3), a CIDR (103.1.2.0/24) or the start of one in whole "
        "parts (103.1.2. or 2001:db8:).",
    ),
    since: str = typer.Option(
        None, "--since", help="Only holdings lasting until this date (YYYY-MM-DD or RFC 3339)."
    ),
    until: str = typer.Option(
        None, "--until", help="Only holdings begun by this date (YYYY-MM-DD or RFC 3339)."
    ),
    page: int = PageOption,
    per_page: int = PerPageOption,
    all_: bool = AllOption,
    fmt: str = FormatOption,
) -> None:
    """Which VPS held these addresses, under which label, from when until when (by address,
    each address's holders newest first): a returning or recycled address shows each holder.
    Trashed and purged VPS included. A table shows one page; json, yaml and csv give every
    holding unless --page or --per-page asks for a page.

    Example: sigma ip history 103.1.2.3 --since 2026-10-01 --until 2026-10-31
    """
    from sigma.output import check_format, emit
    from sigma.schemas.common import validate
    from sigma.schemas.history import IpHistoryQuery, IpHolding

    fmt = check_format(fmt)
    raw = {k: v for k, v in {"ip": ip, "since": since, "until": until}.items() if v is not None}
    validate(IpHistoryQuery, raw)  # a bad address or date before any request
    backend = state(ctx).backend
    items, footer = listing(
        lambda n, size: backend.ip_history(
            validate(IpHistoryQuery, {**raw, "page": n, "per_page": size})
        ),
        page=page,
        per_page=per_page,
        all_=all_,
        quiet=False,
        fmt=fmt,
        noun="holdings",
    )
    emit(
        [h.model_dump(mode="json") for h in items],
        fmt,
        columns=COLUMNS,
        footer=footer,
        fields=list(IpHolding.model_fields),
    )
