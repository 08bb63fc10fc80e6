"""`sigma provider add|list|show|edit|rm` (the original's `providers create|get|update|delete`
spellings keep working as hidden aliases)."""

from typing import Any

import typer

from sigma.commands.common import (
    AllOption,
    FormatOption,
    PageOption,
    PerPageOption,
    QuietOption,
    confirm_or_yes,
    done,
    listing,
    state,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

COLUMNS = (
    ("ID", lambda p: p["id"][:8]),
    ("Name", lambda p: p["name"], "key"),
    ("Country", lambda p: p["country"], "keep", 2),
    ("Website", lambda p: p["website"], "text", 4),
    ("API", lambda p: "yes" if p["api_supported"] else "no", "keep", 3),
    ("Rating", lambda p: "-" if p["rating"] is None else "★" * p["rating"], "keep", 1),
)


def _fields(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(
        None, help="Provider name (unique, case-insensitive).", show_default=False
    ),
    name_opt: str = typer.Option(None, "--name", hidden=True),
    country: str = typer.Option(None, "--country", help="Two-letter country code, e.g. US."),
    website: str = typer.Option(None, "--website", help="http(s) URL of the provider's site."),
    panel_url: str = typer.Option(None, "--panel-url", help="URL of the customer panel."),
    api_supported: bool = typer.Option(
        None, "--api-supported/--no-api-supported", help="The provider has an API."
    ),
    rating: str = typer.Option(None, "--rating", help="Your rating, 1 to 5."),
    notes: str = typer.Option(None, "--notes", help="Free text."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Add a provider.

    Example: sigma provider add DMIT --country US --website https://dmit.io --rating 4
    """
    from sigma.output import emit
    from sigma.schemas.common import validate
    from sigma.schemas.inventory import ProviderCreate

    data = validate(
        ProviderCreate,
        _fields(
            country=country,
            website=website,
            panel_url=panel_url,
            api_supported=api_supported,
            rating=rating,
            notes=notes,
        )
        | {"name": name if name is not None else name_opt},
    )
    p = state(ctx).backend.create_provider(data).model_dump(mode="json")
    if quiet or fmt != "table":
        emit(p, fmt, columns=COLUMNS, quiet=quiet)
    else:
        done(f"Created provider {p['name']} ({p['id']})")


app.command("create", hidden=True)(add)


@app.command("list")
def list_(
    ctx: typer.Context,
    page: int = PageOption,
    per_page: int = PerPageOption,
    all_: bool = AllOption,
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """List providers by name. A table shows one page; -q, json, yaml and csv give every
    provider unless --page or --per-page asks for a page.

    Example: sigma provider list --format json
    """
    from sigma.output import check_format, emit
    from sigma.schemas.inventory import Provider

    fmt = check_format(fmt)
    items, footer = listing(
        state(ctx).backend.list_providers,
        page=page,
        per_page=per_page,
        all_=all_,
        quiet=quiet,
        fmt=fmt,
        noun="providers",
    )
    rows = [p.model_dump(mode="json") for p in items]

    emit(rows, fmt, columns=COLUMNS, quiet=quiet, footer=footer, fields=list(Provider.model_fields))


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Provider id, id prefix or name."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Show one provider.

    Example: sigma provider show DMIT
    """
    from sigma.output import emit

    p = state(ctx).backend.get_provider(ref).model_dump(mode="json")
    emit(p, fmt, quiet=quiet)


app.command("get", hidden=True)(show)


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Provider id, id prefix or name."),
    name: str = typer.Option(None, "--name", help="New name."),
    country: str = typer.Option(None, "--country", help="Two-letter country code."),
    website: str = typer.Option(None, "--website", help="http(s) URL ('' clears it)."),
    panel_url: str = typer.Option(None, "--panel-url", help="Panel URL ('' clears it)."),
    api_supported: str = typer.Option(
        None, "--api-supported", help="true or false.", metavar="BOOL"
    ),
    rating: str = typer.Option(None, "--rating", help="1 to 5; '' clears it."),
    notes: str = typer.Option(None, "--notes", help="Free text."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Change some fields of a provider; the others are kept.

    Example: sigma provider edit DMIT --rating 5 --notes "fast support"
    """
    from sigma.output import emit
    from sigma.schemas.common import validate
    from sigma.schemas.inventory import ProviderUpdate

    values = _fields(
        name=name,
        country=country,
        website=website,
        panel_url=panel_url,
        api_supported=api_supported,
        notes=notes,
    )
    if rating is not None:
        values["rating"] = rating or None
    if not values:
        from sigma.errors import InvalidInput

        raise InvalidInput("nothing to change: give at least one option (see --help)")
    data = validate(ProviderUpdate, values)
    p = state(ctx).backend.update_provider(ref, data).model_dump(mode="json")
    if quiet or fmt != "table":
        emit(p, fmt, quiet=quiet)
    else:
        done(f"Updated provider {p['name']} ({p['id']})")


app.command("update", hidden=True)(edit)


@app.command("rm")
def rm(
    ctx: typer.Context,
    refs: list[str] = typer.Argument(..., help="Provider ids, id prefixes or names."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete providers. Refused while a provider still has VPS.

    Example: sigma provider rm OldHost --yes
    """
    backend = state(ctx).backend
    targets = [backend.get_provider(r) for r in refs]
    confirm_or_yes(f"Delete provider(s) {', '.join(p.name for p in targets)}?", yes)
    for p in targets:
        backend.delete_provider(p.id)
        done(f"Deleted provider {p.name} ({p.id})")


@app.command("delete", hidden=True)
def delete(ctx: typer.Context, refs: list[str] = typer.Argument(...)) -> None:
    """The original CLI's spelling: deletes without asking."""
    rm(ctx, refs, yes=True)


# the original CLI's spellings: `sigma providers export|import` (hidden)
from sigma.commands import export as _export  # noqa: E402
from sigma.commands import transfer as _transfer  # noqa: E402

app.command("export", hidden=True)(_export.providers)
app.command("import", hidden=True)(_transfer.import_providers)
